// Engine::check_with_hash (tollgate-replay's entry point: the key's hash
// computed once per key, not per call) decides exactly as Engine::check:
// two engines built from one config get the same calls, one through each,
// and every field of every decision must match.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "control/engine_options.h"
#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

constexpr std::string_view kConfig = R"(
key_classes:
  - match: "ip:*"
    limits:
      - { name: per-ip, type: token_bucket, rate: 5, per: 1s, burst: 5 }
contracts:
  acme:
    channels: [web, batch]
    limits:
      - { name: burst, type: token_bucket, rate: 10, per: 1s, burst: 10 }
      - { name: daily, type: quota, limit: 40, period: day }
      - { name: users, type: distinct_subjects, limit: 3, period: day }
      - { name: slots, type: concurrency, limit: 2 }
)";

struct Built {
  Reclaimer reclaimer{4};
  RuntimeState state;
  std::unique_ptr<Engine> engine;
};

std::unique_ptr<Built> build() {
  auto config = parse_config(kConfig, "check_with_hash.yaml");
  EXPECT_TRUE(config.has_value());
  if (!config) return nullptr;
  auto b = std::make_unique<Built>();
  auto engine = Engine::create(engine_options_from(*config, 1), b->reclaimer, kStart, b->state);
  EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().front());
  if (!engine) return nullptr;
  b->engine = std::move(*engine);
  return b;
}

// Verifies 400 calls — a contract with channels, a quota, a distinct-subject
// cap and holds, a key class, an unknown key, IDs retried — are decided the
// same through check() and check_with_hash(), and that contract(key, hash)
// answers as contract(key).
TEST(EngineCheckWithHash, DecidesExactlyAsCheck) {
  auto plain = build();
  auto hashed = build();
  ASSERT_TRUE(plain && hashed);
  const std::vector<std::string> keys = {"acme", "ip:10.0.0.1", "ip:10.0.0.2", "nobody"};
  const std::vector<std::string> subjects = {"", "u1", "u2", "u3", "u4"};
  const std::vector<std::string> channels = {"web", "batch", "mobile"};
  const int plain_slot = plain->reclaimer.register_reader();
  const int hashed_slot = hashed->reclaimer.register_reader();
  int allowed = 0, denied = 0;
  for (int i = 0; i < 400; ++i) {
    const Nanos now = kStart + i * 37 * kNanosPerMilli;
    CheckRequest r;
    r.key = keys[static_cast<size_t>(i) % keys.size()];
    r.cost = 1 + i % 3;
    r.channel = channels[static_cast<size_t>(i / 4) % channels.size()];
    r.subject = subjects[static_cast<size_t>(i / 3) % subjects.size()];
    const std::string id = "id-" + std::to_string(i / 2);  // every ID given twice
    if (i % 5 == 0) r.id = id;
    if (i % 11 == 0) r.hold_ms = 500;
    plain->reclaimer.enter(plain_slot);
    const Decision a = plain->engine->check(r, now, 0);
    plain->reclaimer.exit(plain_slot);
    hashed->reclaimer.enter(hashed_slot);
    const Decision b = hashed->engine->check_with_hash(r, CounterTable::hash_key(r.key), now, 0);
    hashed->reclaimer.exit(hashed_slot);
    const std::string where = "call " + std::to_string(i) + " on " + std::string(r.key);
    EXPECT_EQ(a.allowed, b.allowed) << where;
    EXPECT_EQ(a.code, b.code) << where;
    EXPECT_EQ(a.limit, b.limit) << where;
    EXPECT_EQ(a.remaining, b.remaining) << where;
    EXPECT_EQ(a.retry_after_ms, b.retry_after_ms) << where;
    EXPECT_EQ(a.reset_after_ms, b.reset_after_ms) << where;
    EXPECT_EQ(a.balance, b.balance) << where;
    EXPECT_EQ(a.delay_ns, b.delay_ns) << where;
    (a.allowed ? allowed : denied) += 1;
  }
  // The scenario is not trivial: both answers occur.
  EXPECT_GT(allowed, 20);
  EXPECT_GT(denied, 20);
  for (const std::string& key : keys)
    EXPECT_EQ(hashed->engine->contract(key, CounterTable::hash_key(key)), hashed->engine->contract(key)) << key;
  EXPECT_NE(hashed->engine->contract("acme", CounterTable::hash_key("acme")), nullptr);
  EXPECT_EQ(hashed->engine->contract("ip:10.0.0.1", CounterTable::hash_key("ip:10.0.0.1")), nullptr);
}

}  // namespace
}  // namespace tollgate
