#include "engine/engine.h"

#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <atomic>
#include <thread>
#include <vector>

namespace tollgate {
namespace {

using testing::bucket;
using testing::quota;
using testing::window;

constexpr Nanos kStart = testing::kTestStart;

class EngineTest : public testing::EngineFixture {
 protected:
  // Four threads each CHECK `key` `per_thread` times at one frozen instant;
  // returns how many calls were allowed in total.
  int hammer(Engine& e, std::string_view key, int per_thread) {
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        int slot = reclaimer_.register_reader();
        CheckRequest r;
        r.key = key;
        for (int i = 0; i < per_thread; ++i) {
          ReadGuard g(reclaimer_, slot);
          if (e.check(r, kStart).allowed) ++allowed;
        }
      });
    }
    for (auto& t : threads) t.join();
    return allowed.load();
  }
};

// Verifies a one-limit key class: burst allowed, then RATE with the refill time, then allowed after it.
TEST_F(EngineTest, TokenBucketKeyClass) {
  EngineOptions o;
  o.key_classes.push_back({"ip:*", {bucket("ip", 10, kNanosPerSecond, 2)}, "", 0, {}, {}});
  auto e = build(o);
  Decision d = check(*e, "ip:1");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.code, Code::kOk);
  EXPECT_EQ(d.limit, "ip");
  EXPECT_EQ(d.remaining, 1);
  EXPECT_EQ(d.balance, -1);
  EXPECT_TRUE(check(*e, "ip:1").allowed);
  d = check(*e, "ip:1");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kRate);
  EXPECT_EQ(d.retry_after_ms, 100);
  EXPECT_EQ(d.reset_after_ms, 200);
  now_ += 100 * kNanosPerMilli;
  EXPECT_TRUE(check(*e, "ip:1").allowed);
}

// Verifies a denied call charges no limit (all-or-nothing) and the reply names the denying limit.
TEST_F(EngineTest, AllOrNothing) {
  EngineOptions o;
  o.contracts.push_back({"acme", {bucket("burst", 1, kNanosPerSecond * 3600, 10), quota("daily", 3)}, "", 0, {}, {}});
  auto e = build(o);
  EXPECT_TRUE(check(*e, "acme", 2).allowed);
  Decision d = check(*e, "acme", 2);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kQuota);
  EXPECT_EQ(d.limit, "daily");
  EXPECT_EQ(d.remaining, 1);
  // The bucket was not charged by the denied call: 10 - 2 = 8 left before this peek's unit.
  Decision p = peek(*e, "acme");
  EXPECT_TRUE(p.allowed);
  EXPECT_EQ(p.limit, "daily");  // least remaining after the call: daily 0 < burst 7
  EXPECT_EQ(p.remaining, 0);
  CheckRequest only_bucket;
  EXPECT_EQ(peek(*e, "acme", 0).remaining, 1);
}

// Verifies that when several limits deny, the one with the longest wait is named, and "never" (-1) beats any wait.
TEST_F(EngineTest, DenialPrecedenceLongestRetry) {
  EngineOptions o;
  o.contracts.push_back({"c", {bucket("fast", 1, kNanosPerSecond, 1), bucket("slow", 1, 60 * kNanosPerSecond, 1)}, "", 0, {}, {}});
  o.contracts.push_back({"d", {bucket("small", 1, kNanosPerSecond, 1), quota("q", 100)}, "", 0, {}, {}});
  auto e = build(o);
  EXPECT_TRUE(check(*e, "c").allowed);
  Decision d = check(*e, "c");
  EXPECT_EQ(d.limit, "slow");
  EXPECT_EQ(d.retry_after_ms, 60'000);
  // COST 5 can never fit the bucket of 1 (-1) though the quota would allow it.
  d = check(*e, "d", 5);
  EXPECT_EQ(d.limit, "small");
  EXPECT_EQ(d.retry_after_ms, -1);
}

// Verifies unknown keys are denied UNKNOWN (or allowed without limits with unknown_keys: allow).
TEST_F(EngineTest, UnknownKeys) {
  EngineOptions o;
  auto deny = build(o);
  Decision d = check(*deny, "x");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kUnknown);
  EXPECT_EQ(d.retry_after_ms, -1);
  o.allow_unknown = true;
  auto allow = build(o);
  d = check(*allow, "x");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, "");
}

// Verifies the first matching key class wins and exact patterns match only their key.
TEST_F(EngineTest, KeyClassMatching) {
  EngineOptions o;
  o.key_classes.push_back({"vip", {bucket("vip", 1, kNanosPerSecond, 100)}, "", 0, {}, {}});
  o.key_classes.push_back({"ip:10.*", {bucket("lan", 1, kNanosPerSecond, 50)}, "", 0, {}, {}});
  o.key_classes.push_back({"ip:*", {bucket("wan", 1, kNanosPerSecond, 5)}, "", 0, {}, {}});
  auto e = build(o);
  EXPECT_EQ(check(*e, "vip").limit, "vip");
  EXPECT_EQ(check(*e, "vipx").code, Code::kUnknown);
  EXPECT_EQ(check(*e, "ip:10.1.1.1").limit, "lan");
  EXPECT_EQ(check(*e, "ip:8.8.8.8").limit, "wan");
}

// Verifies shadow limits never deny, count would-be denials, and are not charged when a real limit denies.
TEST_F(EngineTest, ShadowLimits) {
  EngineOptions o;
  o.contracts.push_back({"c", {quota("real", 3), bucket("proposed", 1, 3600 * kNanosPerSecond, 1, true)}, "", 0, {}, {}});
  auto e = build(o);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(check(*e, "c").allowed);
  const CompiledLimit& shadow = *e->contracts()[0]->limits[1];
  EXPECT_TRUE(shadow.spec.shadow);
  EXPECT_EQ(shadow.shadow_denials.load(), 2u);  // 1st charged it, 2nd and 3rd would have been denied
  EXPECT_FALSE(check(*e, "c").allowed);         // the real quota denies
  EXPECT_EQ(shadow.shadow_denials.load(), 2u);  // not counted then
}

// Verifies the global shadow_mode turns every limit into a shadow limit.
TEST_F(EngineTest, GlobalShadowMode) {
  EngineOptions o;
  o.shadow_mode = true;
  o.contracts.push_back({"c", {quota("q", 1)}, "", 0, {}, {}});
  auto e = build(o);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(check(*e, "c").allowed);
  EXPECT_EQ(e->contracts()[0]->limits[0]->shadow_denials.load(), 4u);
}

// Verifies a full key table denies new dynamic keys with RATE/max_keys while existing keys keep working.
TEST_F(EngineTest, TableFull) {
  EngineOptions o;
  o.table.max_dynamic_keys = 2;
  o.key_classes.push_back({"k:*", {bucket("k", 1, kNanosPerSecond, 10)}, "", 0, {}, {}});
  auto e = build(o);
  EXPECT_TRUE(check(*e, "k:1").allowed);
  EXPECT_TRUE(check(*e, "k:2").allowed);
  Decision d = check(*e, "k:3");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kRate);
  EXPECT_EQ(d.limit, kTableFullLimit);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_TRUE(check(*e, "k:1").allowed);
}

// Verifies PEEK answers for a key that does not exist without creating it, and changes nothing.
TEST_F(EngineTest, PeekChangesNothing) {
  EngineOptions o;
  o.key_classes.push_back({"k:*", {bucket("k", 1, kNanosPerSecond, 3)}, "", 0, {}, {}});
  auto e = build(o);
  Decision d = peek(*e, "k:new");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 2);
  EXPECT_EQ(e->table().size(), 0u);
  check(*e, "k:new");
  EXPECT_EQ(peek(*e, "k:new").remaining, 1);
  EXPECT_EQ(peek(*e, "k:new").remaining, 1);
}

// Verifies idle dynamic keys at rest are evicted after idle_timeout, busy or charged ones are not.
TEST_F(EngineTest, IdleEviction) {
  EngineOptions o;
  o.idle_timeout = 60 * kNanosPerSecond;
  o.key_classes.push_back({"k:*", {bucket("k", 1, kNanosPerSecond, 5), quota("day", 1000)}, "", 0, {}, {}});
  auto e = build(o);
  check(*e, "k:a");
  now_ += 30 * kNanosPerSecond;
  EXPECT_EQ(e->sweep(now_, 1 << 20), 0u);  // not idle long enough
  now_ += 31 * kNanosPerSecond;
  // Idle long enough and the bucket is full again, but the daily quota still
  // holds a charge: evicting would forget it.
  EXPECT_EQ(e->sweep(now_, 1 << 20), 0u);
  EXPECT_EQ(e->table().dynamic_size(), 1u);
  // A key whose limits are all at rest is evicted.
  EngineOptions o2;
  o2.idle_timeout = 60 * kNanosPerSecond;
  o2.key_classes.push_back({"k:*", {bucket("k", 1, kNanosPerSecond, 5)}, "", 0, {}, {}});
  auto e2 = build(o2);
  check(*e2, "k:a");
  now_ += 61 * kNanosPerSecond;
  EXPECT_EQ(e2->sweep(now_, 1 << 20), 1u);
  EXPECT_EQ(e2->table().dynamic_size(), 0u);
  EXPECT_EQ(check(*e2, "k:a").remaining, 4);  // a fresh entry, as good as the evicted one
  reclaimer_.collect();
}

// Verifies that many threads hammering one key with no refill admit exactly `burst` in total.
TEST_F(EngineTest, ConcurrentExactBurst) {
  EngineOptions o;
  o.key_classes.push_back({"k:*", {bucket("k", 1, 3600 * kNanosPerSecond, 5000)}, "", 0, {}, {}});
  auto e = build(o);
  EXPECT_EQ(hammer(*e, "k:hot", 4000), 5000);
}

// Verifies that under races over several limits nothing is over-admitted and denied calls leave no charge.
TEST_F(EngineTest, ConcurrentMultiLimitNeverOverAdmits) {
  EngineOptions o;
  o.contracts.push_back({"c",
                         {bucket("b", 1, 3600 * kNanosPerSecond, 1000), quota("q", 700),
                          window("w", 900, 60 * kNanosPerSecond)},
                         "",
                         0,
                         {},
                         {}});
  auto e = build(o);
  EXPECT_EQ(hammer(*e, "c", 1000), 700);
  // Every limit was charged exactly the admitted calls: the bucket has 300 left.
  CheckRequest r;
  r.key = "c";
  r.cost = 300;
  std::vector<std::string> limits;
  const Policy& p = *e->contracts()[0];
  const Entry* entry = e->table().find("c", CounterTable::hash_key("c"));
  ASSERT_NE(entry, nullptr);
  LimitResult b = p.limits[0]->limiter.peek(entry->words() + p.limits[0]->word_offset, 300, kStart);
  EXPECT_TRUE(b.allowed);
  EXPECT_EQ(b.remaining, 0);
  LimitResult w = p.limits[2]->limiter.peek(entry->words() + p.limits[2]->word_offset, 200, kStart);
  EXPECT_TRUE(w.allowed);
  EXPECT_EQ(w.remaining, 0);
}

// Verifies an unknown limit configuration is reported with the policy and limit name.
TEST_F(EngineTest, CompileErrorsNamed) {
  EngineOptions o;
  o.contracts.push_back({"c", {bucket("bad", 0, kNanosPerSecond, 1)}, "", 0, {}, {}});
  auto e = Engine::create(o, reclaimer_, now_, state_);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().front().find("c limit bad"), std::string::npos) << e.error().front();
}

}  // namespace
}  // namespace tollgate
