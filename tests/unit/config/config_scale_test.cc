// Large configs: 50,000 contracts load, build an engine and reload into a
// new one. Correctness only; how the time grows with the count is measured
// by bench/config_bench.cc (parsing was quadratic: a linear duplicate-key
// scan per contract, and a linear contract scan per entry on reload).
#include <gtest/gtest.h>

#include <string>

#include "control/engine_options.h"
#include "engine/engine.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

// The sanitizer builds run the same code paths over fewer contracts: at 50,000
// this one test took 52 s under ASan and 88 s under TSan, a twentieth of a CI
// run, to find nothing the 10,000 do not; the quadratic-time regression it
// guards against shows in the release run (and in bench/config_bench.cc).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kContracts = 10'000;
#else
constexpr int kContracts = 50'000;
#endif
const std::string kLast = "tenant-" + std::to_string(kContracts - 1);
constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

std::string generated(int contracts, int64_t quota) {
  std::string text = "storage: { mode: memory }\ncontracts:\n";
  text.reserve(static_cast<size_t>(contracts) * 120);
  for (int i = 0; i < contracts; ++i) {
    text += "  tenant-" + std::to_string(i) +
            ":\n    limits:\n      - { name: daily, type: quota, limit: " + std::to_string(quota) +
            ", period: day }\n      - { name: rate, type: token_bucket, rate: 10, per: 1s }\n";
  }
  return text;
}

// Verifies 50,000 generated contracts load with their lines, a duplicate
// among them is still found, the engine builds, and a reload into a new
// engine carries every contract's counter over.
TEST(ConfigScale, FiftyThousandContractsLoadBuildAndReload) {
  const Config config = testing::parse_ok(generated(kContracts, 100));
  ASSERT_EQ(config.contracts.size(), static_cast<size_t>(kContracts));
  EXPECT_EQ(config.contracts.at("tenant-0").line, 3);
  EXPECT_EQ(config.contracts.at(kLast).line, 3 + (kContracts - 1) * 4);
  EXPECT_EQ(config.contracts.at("tenant-123").limits.size(), 2u);

  const std::string duplicated = generated(kContracts, 100) +
                                 "  tenant-7:\n    limits:\n      - { name: q, type: quota, limit: 1, period: day }\n";
  EXPECT_THAT(testing::parse_errors(duplicated),
              ::testing::ElementsAre(
                  testing::ErrorAt(3 + kContracts * 4, "contracts.tenant-7: duplicate key (first at line 31)")));

  Reclaimer reclaimer;
  RuntimeState state;
  auto first = Engine::create(engine_options_from(config, 1), reclaimer, kNow, state);
  ASSERT_TRUE(first.has_value());
  CheckRequest r;
  r.key = kLast;
  EXPECT_TRUE((*first)->check(r, kNow).allowed);
  EXPECT_EQ((*first)->table().size(), static_cast<size_t>(kContracts));

  Config next = config;  // as if reloaded from a file with every daily quota raised to 200
  for (auto& [key, contract] : next.contracts) contract.limits[0].limit = 200;
  auto second = Engine::create(engine_options_from(next, 1), reclaimer, kNow, state, first->get());
  ASSERT_TRUE(second.has_value());
  Decision d = (*second)->check(r, kNow);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, "rate");  // 10 per second is tighter than 198 left of the daily 200
  r.cost = 0;
  EXPECT_EQ((*second)->peek(r, kNow).remaining, 8);
  reclaimer.collect();
}

}  // namespace
}  // namespace tollgate
