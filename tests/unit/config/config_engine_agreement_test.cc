// One validation for every path: what the config loader accepts (and so
// `--check-config` calls OK) the engine builds, what the engine would refuse
// the loader refuses at its file:line, and sizes are checked against memory
// before anything is allocated.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/engine_options.h"
#include "config/memory_check.h"
#include "engine/engine.h"
#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"
#include "engine/subjects/distinct_set.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using testing::ErrorAt;
using testing::parse_errors;
using testing::parse_ok;

std::string contract_with(const std::string& limits) { return "contracts:\n  acme:\n    limits:\n" + limits; }

// Builds the engine a loaded config describes, as start-up does.
std::expected<std::unique_ptr<Engine>, std::vector<std::string>> build(const Config& config, Reclaimer& reclaimer,
                                                                       RuntimeState& state) {
  return Engine::create(engine_options_from(config, 1), reclaimer, 1'700'000'000 * kNanosPerSecond, state);
}

// Verifies the bounds the engine enforces are refused by the loader, at
// the line of the limit, with the engine's reason — each used to pass
// --check-config and then fail at start or reload.
TEST(ConfigEngineAgreement, EngineBoundsAreLoaderErrors) {
  const auto errors =
      parse_errors(contract_with("      - { name: a, type: sliding_window, limit: 4294967295, window: 1m }\n"
                                 "      - { name: b, type: quota, limit: 68719476735, period: day }\n"
                                 "      - { name: c, type: distinct_subjects, limit: 16777217, period: day }\n"
                                 "      - { name: d, type: token_bucket, rate: 1, per: 1d, burst: 100000 }\n"));
  EXPECT_THAT(errors,
              ElementsAre(ErrorAt(4, "limits[0].limit: sliding_window: limit must be between 1 and 4294967294"),
                          ErrorAt(5, "limits[1].limit: quota: limit must be between 1 and 68719476734"),
                          ErrorAt(6, "limits[2].limit: distinct_subjects: limit must be between 1 and 16777216"),
                          ErrorAt(7, "limits[3].burst: burst 100000 at 1 per 1d overflows")))
      << testing::joined(errors);
  // One below each bound is fine.
  parse_ok(
      contract_with("      - { name: a, type: sliding_window, limit: 4294967294, window: 1m }\n"
                    "      - { name: b, type: quota, limit: 68719476734, period: day }\n"
                    "      - { name: c, type: distinct_subjects, limit: 16777216, period: day }\n"
                    "      - { name: d, type: token_bucket, rate: 1, per: 1d, burst: 50000 }\n"));
}

// Verifies the token bucket bound is on now + burst x T, not burst x T:
// a bucket whose burst x T fits in int64 but would overflow when added to
// a current time is refused (it would deny COST = burst forever).
TEST(ConfigEngineAgreement, TokenBucketLeavesRoomForNow) {
  // 1 per 50000d: T x burst 1 = 137 years, fits; 2 bursts = 274 years, does not.
  parse_ok(contract_with("      - { name: b, type: token_bucket, rate: 1, per: 50000d, burst: 1 }\n"));
  EXPECT_ONE_ERROR(contract_with("      - { name: b, type: token_bucket, rate: 1, per: 50000d, burst: 2 }\n"), 4,
                   "limits[0].burst: burst 2 at 1 per 50000d overflows");
  // burst x T = 6e18 ns (190 years) fits int64, but not beside a clock past 2100.
  EXPECT_ONE_ERROR(
      contract_with("      - { name: b, type: token_bucket, rate: 1, per: 2ns, burst: 3000000000000000000 }\n"), 4,
      "overflows");
  // What the loader accepts, a now up to 2100 can charge a whole burst of.
  const Config c = parse_ok(contract_with("      - { name: b, type: token_bucket, rate: 1, per: 59000d, burst: 1 }\n"));
  auto bucket = TokenBucket::make(c.contracts.at("acme").limits[0]);
  ASSERT_TRUE(bucket.has_value());
  std::atomic<uint64_t> word{0};
  bucket->init(&word, TokenBucket::kLatestNow);
  EXPECT_TRUE(bucket->try_charge(&word, 1, TokenBucket::kLatestNow).allowed);
}

// Verifies the shape limits of a compiled policy are loader errors at the
// list's line: at most 32 counter limits, at most 65535 state words.
TEST(ConfigEngineAgreement, PolicyShapeIsChecked) {
  std::string many;
  for (int i = 0; i < 33; ++i)
    many += "      - { name: q" + std::to_string(i) + ", type: quota, limit: 1, period: day }\n";
  EXPECT_ONE_ERROR(contract_with(many), 3, "limits: at most 32 token_bucket, sliding_window and quota limits, got 33");
  std::string wide;
  for (int i = 0; i < 19; ++i)
    wide +=
        "      - { name: w" + std::to_string(i) + ", type: sliding_window, limit: 1, window: 1h, sub_buckets: 3600 }\n";
  EXPECT_ONE_ERROR(contract_with(wide), 3, "limits: the limits need 68400 state words, at most 65535");
  // Concurrency and distinct limits are not counter limits: 32 quotas and more of them are fine.
  std::string mixed;
  for (int i = 0; i < 32; ++i)
    mixed += "      - { name: q" + std::to_string(i) + ", type: quota, limit: 1, period: day }\n";
  mixed += "      - { name: c, type: concurrency, limit: 1 }\n"
           "      - { name: d, type: distinct_subjects, limit: 5, period: day }\n";
  const Config c = parse_ok(contract_with(mixed));
  Reclaimer reclaimer;
  RuntimeState state;
  EXPECT_TRUE(build(c, reclaimer, state).has_value());
}

// Verifies that across the edges of every limit type, the loader accepts
// exactly what the engine builds (the engine is built for each accepted
// variant, as start-up and reload would).
TEST(ConfigEngineAgreement, AcceptedMeansBuildable) {
  const std::vector<std::string> variants = {
      "{ name: x, type: token_bucket, rate: 1, per: 1ns }",
      "{ name: x, type: token_bucket, rate: 1000, per: 1s, burst: 5000000000000 }",
      "{ name: x, type: token_bucket, rate: 1, per: 59000d }",
      "{ name: x, type: token_bucket, rate: 1, per: 60000d }",
      "{ name: x, type: token_bucket, rate: 4611686018427387904, per: 106751d }",
      "{ name: x, type: sliding_window, limit: 1, window: 1ns, sub_buckets: 1 }",
      "{ name: x, type: sliding_window, limit: 1, window: 1ns }",
      "{ name: x, type: sliding_window, limit: 4294967294, window: 106751d, sub_buckets: 3600 }",
      "{ name: x, type: sliding_window, limit: 4294967295, window: 1s }",
      "{ name: x, type: quota, limit: 68719476734, period: month, timezone: Asia/Shanghai }",
      "{ name: x, type: quota, limit: 68719476735, period: hour }",
      "{ name: x, type: distinct_subjects, limit: 1, period: week }",
      "{ name: x, type: distinct_subjects, limit: 0, period: week }",
      "{ name: x, type: concurrency, limit: 4611686018427387904 }",
  };
  int accepted = 0;
  for (const std::string& v : variants) {
    auto config = parse_config(contract_with("      - " + v + "\n"), "test.yaml");
    if (!config) continue;
    ++accepted;
    Reclaimer reclaimer;
    RuntimeState state;
    auto engine = build(*config, reclaimer, state);
    EXPECT_TRUE(engine.has_value()) << v << ": " << (engine ? "" : engine.error().front());
    // And as a per_subject limit, where counter types are allowed.
    if (v.find("concurrency") != std::string::npos || v.find("distinct") != std::string::npos) continue;
    auto per_subject = parse_config("contracts:\n  acme:\n    per_subject:\n      - " + v + "\n", "test.yaml");
    ASSERT_TRUE(per_subject.has_value()) << v;
    RuntimeState state2;
    EXPECT_TRUE(build(*per_subject, reclaimer, state2).has_value()) << v;
  }
  EXPECT_EQ(accepted, 8);
}

// Verifies a storage combination start-up refuses is a loader error too.
TEST(ConfigEngineAgreement, StrictDurabilityNeedsTheEmbeddedStore) {
  const std::string one_contract =
      "contracts:\n  acme:\n    limits:\n      - { name: q, type: quota, limit: 1, period: day }\n";
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis: { socket: /tmp/r.sock }\n  durability: strict\n" + one_contract,
                   4, "storage.durability: 'strict' applies to the embedded store only");
  parse_ok("storage:\n  mode: embedded\n  durability: strict\n" + one_contract);
}

// Verifies sizes whose up-front allocation no machine has are errors at
// their line instead of std::bad_alloc at start-up.
TEST(ConfigEngineAgreement, SizesAreCheckedAgainstMemory) {
  const std::string one_contract =
      "contracts:\n  acme:\n    limits:\n      - { name: q, type: quota, limit: 1, period: day }\n";
  const auto dedup = parse_errors("dedup:\n  max_entries: 100000000000\n" + one_contract);
  ASSERT_THAT(dedup, ElementsAre(ErrorAt(2, "the configured sizes need")));
  EXPECT_NE(dedup[0].reason.find("dedup.max_entries 100000000000: 7.0 TiB"), std::string::npos) << dedup[0].reason;
  EXPECT_NE(dedup[0].reason.find("of memory of this machine"), std::string::npos);
  // 256 workers each reserve an expiry heap as large as the hold pool.
  EXPECT_THAT(parse_errors("server: { threads: 256 }\ntable:\n  max_holds: 10000000\n" + one_contract),
              ElementsAre(ErrorAt(3, "the configured sizes need")));
  // 4,000 contracts capped at 16M distinct subjects each: 2 TiB of sets, reported at the first of them.
  std::string sets = "contracts:\n";
  for (int i = 0; i < 4'000; ++i)
    sets += "  c" + std::to_string(i) +
            ": { limits: [ { name: d, type: distinct_subjects, limit: 16777216, period: day } ] }\n";
  EXPECT_THAT(parse_errors(sets), ElementsAre(ErrorAt(2, "the configured sizes need 2.0 TiB")));
  // The defaults fit any machine tollgate runs on.
  const MemoryNeed need = memory_need(parse_ok(one_contract));
  EXPECT_LT(need.total(), uint64_t{512} << 20);
  EXPECT_GT(need.dedup, 0u);
  EXPECT_GT(need.holds, 0u);
  EXPECT_GT(need.counter_table, 0u);
}

}  // namespace
}  // namespace tollgate
