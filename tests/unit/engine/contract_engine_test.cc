// Contract decisions in the engine with a simulated clock: gates and their
// precedence, prepaid debits, ID replay, holds and their expiry, subjects.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <atomic>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

using tollgate::testing::contract;
using tollgate::testing::priced;

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

LimitSpec make_limit(std::string name, LimitType type, int64_t limit) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = type;
  s.limit = limit;
  s.period = Period::kDay;
  return s;
}

class ContractEngineTest : public ::testing::Test {
 protected:
  void build(EngineOptions o) {
    o.timezone = "Asia/Shanghai";
    auto e = Engine::create(o, reclaimer_, now_, state_);
    ASSERT_TRUE(e.has_value()) << e.error().front();
    engine_ = std::move(*e);
  }
  Decision check(std::string_view key, int64_t cost = 1, std::string_view id = {}, int64_t hold_ms = -1,
                 std::string_view subject = {}) {
    CheckRequest r;
    r.key = key;
    r.cost = cost;
    r.id = id;
    r.hold_ms = hold_ms;
    r.subject = subject;
    return engine_->check(r, now_, 0);
  }
  Account& account(std::string_view key) { return *state_.find(key)->account(); }

  Reclaimer reclaimer_;
  RuntimeState state_;
  Nanos now_ = kStart;
  std::unique_ptr<Engine> engine_;
};

// Verifies denial precedence: TERMINATED > SUSPENDED > EXPIRED > NOT_STARTED > CHANNEL > PURPOSE > BALANCE > limits.
TEST_F(ContractEngineTest, GatePrecedence) {
  ContractRules r = priced(100);
  r.expires = kStart + 10 * kNanosPerSecond;
  r.starts = kStart - kNanosPerSecond;
  r.channels = {"pc"};
  r.purposes = {"score"};
  EngineOptions o;
  o.contracts.push_back(contract("c", {make_limit("q", LimitType::kQuota, 0 + 1)}, r));
  build(o);
  CheckRequest req;
  req.key = "c";
  EXPECT_EQ(engine_->check(req, now_).code, Code::kChannel);  // names no channel
  req.channel = "pc";
  EXPECT_EQ(engine_->check(req, now_).code, Code::kPurpose);
  req.purpose = "score";
  EXPECT_EQ(engine_->check(req, now_).code, Code::kBalance);  // no credits; outranks limits
  EXPECT_EQ(engine_->check(req, kStart + 10 * kNanosPerSecond - 1).code, Code::kBalance);
  EXPECT_EQ(engine_->check(req, kStart + 10 * kNanosPerSecond).code, Code::kExpired);  // exactly at the instant
  Decision d = engine_->check(req, kStart - 2 * kNanosPerSecond);
  EXPECT_EQ(d.code, Code::kNotStarted);
  EXPECT_EQ(d.retry_after_ms, 1000);
  state_.find("c")->override_status(ContractStatus::kSuspended, "x");
  EXPECT_EQ(engine_->check(req, kStart + 20 * kNanosPerSecond).code, Code::kSuspended);
  state_.find("c")->override_status(ContractStatus::kTerminated, "");
  EXPECT_EQ(engine_->check(req, kStart + 20 * kNanosPerSecond).code, Code::kTerminated);
}

// Verifies money and limits are all-or-nothing: a limit denial gives the credits back; BALANCE charges no limit.
TEST_F(ContractEngineTest, MoneyAllOrNothing) {
  EngineOptions o;
  o.contracts.push_back(contract("c", {make_limit("q", LimitType::kQuota, 3)}, priced(100)));
  build(o);
  ASSERT_TRUE(apply_recharge(account("c"), 500, now_).has_value());  // 5 credits
  EXPECT_EQ(check("c", 2).balance, 300);
  Decision d = check("c", 2);  // quota has 1 left
  EXPECT_EQ(d.code, Code::kQuota);
  EXPECT_EQ(d.balance, 300);  // given back
  EXPECT_EQ(check("c", 1).balance, 200);
  d = check("c", 3);
  EXPECT_EQ(d.code, Code::kBalance);  // 2 credits < 3 (and the quota would deny too: BALANCE first)
  EXPECT_EQ(d.retry_after_ms, -1);
}

// Verifies an ID retry replays the first allowed reply and charges once, and a denied ID is decided afresh.
TEST_F(ContractEngineTest, IdReplay) {
  EngineOptions o;
  o.contracts.push_back(contract("c", {make_limit("q", LimitType::kQuota, 2)}, priced(10)));
  build(o);
  ASSERT_TRUE(apply_recharge(account("c"), 100, now_).has_value());
  Decision a = check("c", 1, "r1");
  Decision b = check("c", 1, "r1");
  EXPECT_TRUE(b.allowed);
  EXPECT_EQ(b.balance, a.balance);
  EXPECT_EQ(b.limit, "q");
  EXPECT_EQ(b.remaining, a.remaining);
  EXPECT_EQ(account("c").credits(), 9);
  EXPECT_FALSE(check("c", 5, "r2").allowed);  // quota: denied, not remembered
  EXPECT_TRUE(check("c", 1, "r2").allowed);
  // The window ends: the same id is a new call.
  now_ += 601 * kNanosPerSecond;
  EXPECT_EQ(check("c", 1, "r1").code, Code::kQuota);
}

// Verifies four threads sending the same ID concurrently are charged exactly once.
TEST_F(ContractEngineTest, ConcurrentSameIdChargedOnce) {
  EngineOptions o;
  o.contracts.push_back(contract("c", {}, priced(1)));
  build(o);
  ASSERT_TRUE(apply_recharge(account("c"), 1'000'000, now_).has_value());
  for (int round = 0; round < 200; ++round) {
    std::string id = "id-" + std::to_string(round);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {  // a static contract entry: no reclaimer section needed
        CheckRequest r;
        r.key = "c";
        r.id = id;
        engine_->check(r, now_);
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(account("c").credits(), 1'000'000 - 200);
}

// Verifies HOLD occupies concurrency, CANCEL gives back quota units and credits, COMMIT keeps them.
TEST_F(ContractEngineTest, HoldCancelAndCommit) {
  ContractRules r = priced(100);
  r.concurrency = {{"inflight", 1, false}};
  EngineOptions o;
  o.contracts.push_back(contract("c", {make_limit("q", LimitType::kQuota, 10)}, r));
  build(o);
  ASSERT_TRUE(apply_recharge(account("c"), 1000, now_).has_value());
  EXPECT_TRUE(check("c", 2, "h1", 5000).allowed);
  Decision full = check("c", 1, "h2", 5000);
  EXPECT_EQ(full.code, Code::kConcurrency);
  EXPECT_EQ(full.limit, "inflight");
  EXPECT_EQ(check("c").code, Code::kConcurrency);  // without HOLD: denied, no slot
  EXPECT_EQ(state_.find("c")->open_holds().load(), 1);
  EXPECT_TRUE(engine_->settle("c", "h1", false, now_));
  EXPECT_FALSE(engine_->settle("c", "h1", false, now_));
  EXPECT_EQ(account("c").credits(), 10);
  EXPECT_EQ(state_.find("c")->open_holds().load(), 0);
  EXPECT_EQ(check("c", 10).code, Code::kOk);  // all 10 quota units were given back
  ASSERT_TRUE(apply_recharge(account("c"), 1000, now_).has_value());
  EngineOptions o2;  // a fresh contract to test COMMIT
  RuntimeState state2;
  auto e2 = Engine::create(o, reclaimer_, now_, state2);
  ASSERT_TRUE(e2.has_value());
  ASSERT_TRUE(apply_recharge(*state2.find("c")->account(), 1000, now_).has_value());
  CheckRequest req;
  req.key = "c";
  req.id = "h";
  req.hold_ms = 100;
  EXPECT_TRUE((*e2)->check(req, now_).allowed);
  EXPECT_TRUE((*e2)->settle("c", "h", true, now_));
  EXPECT_EQ(state2.find("c")->account()->credits(), 9);
}

// Verifies expired holds are settled by hold_timeout on the worker's timer, at the right instant.
TEST_F(ContractEngineTest, HoldExpiry) {
  ContractRules r = priced(100);
  r.hold_timeout = HoldTimeoutPolicy::kCancel;
  ContractRules rc = priced(100);
  rc.hold_timeout = HoldTimeoutPolicy::kCommit;
  EngineOptions o;
  o.contracts.push_back(contract("cancel", {}, r));
  o.contracts.push_back(contract("commit", {}, rc));
  build(o);
  ASSERT_TRUE(apply_recharge(account("cancel"), 500, now_).has_value());
  ASSERT_TRUE(apply_recharge(account("commit"), 500, now_).has_value());
  EXPECT_TRUE(check("cancel", 1, "a", 1000).allowed);
  EXPECT_TRUE(check("commit", 1, "b", 2000).allowed);
  EXPECT_EQ(engine_->next_hold_expiry(0), now_ + kNanosPerSecond);
  EXPECT_EQ(engine_->expire_holds(0, now_ + kNanosPerSecond - 1), 0u);
  EXPECT_EQ(engine_->expire_holds(0, now_ + kNanosPerSecond), 1u);
  EXPECT_EQ(account("cancel").credits(), 5);  // cancelled: given back
  EXPECT_EQ(engine_->next_hold_expiry(0), now_ + 2 * kNanosPerSecond);
  EXPECT_EQ(engine_->expire_holds(0, now_ + 3 * kNanosPerSecond), 1u);
  EXPECT_EQ(account("commit").credits(), 4);  // committed: kept
  EXPECT_EQ(engine_->next_hold_expiry(0), INT64_MAX);
  // A hold settled before its expiry is not settled again by the timer.
  EXPECT_TRUE(check("cancel", 1, "c", 1000).allowed);
  EXPECT_TRUE(engine_->settle("cancel", "c", true, now_));
  EXPECT_EQ(engine_->expire_holds(0, now_ + 10 * kNanosPerSecond), 0u);
  EXPECT_EQ(account("cancel").credits(), 4);
}

// Verifies the hold pool is bounded: when full, HOLD is denied CONCURRENCY/max_holds and nothing is charged.
TEST_F(ContractEngineTest, HoldPoolBounded) {
  EngineOptions o;
  o.max_holds = 16;
  o.contracts.push_back(contract("c", {}, priced(1)));
  build(o);
  ASSERT_TRUE(apply_recharge(account("c"), 1000, now_).has_value());
  int allowed = 0;
  Decision last;
  for (int i = 0; i < 200; ++i) {
    last = check("c", 1, "h" + std::to_string(i), 60'000);
    if (last.allowed) ++allowed;
  }
  EXPECT_LE(allowed, 64);  // capacity 2 x max_holds, rounded to a power of two
  EXPECT_EQ(last.code, Code::kConcurrency);
  EXPECT_EQ(last.limit, kHoldPoolFullLimit);
  EXPECT_EQ(account("c").credits(), 1000 - allowed);
}

// Verifies distinct_subjects caps exactly, keeps seen subjects working, and per-subject limits are all-or-nothing.
TEST_F(ContractEngineTest, Subjects) {
  PolicySpec p = contract("c", {make_limit("daily", LimitType::kQuota, 1000),
                                make_limit("users", LimitType::kDistinctSubjects, 50)});
  LimitSpec per_user;
  per_user.name = "per-user";
  per_user.type = LimitType::kTokenBucket;
  per_user.rate = 1;
  per_user.per = 3600 * kNanosPerSecond;
  per_user.burst = 2;
  p.per_subject = {per_user};
  EngineOptions o;
  o.contracts.push_back(p);
  build(o);
  EXPECT_EQ(check("c").limit, kSubjectRequiredLimit);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(check("c", 1, {}, -1, "u" + std::to_string(i)).allowed) << i;
  Decision d = check("c", 1, {}, -1, "u50");
  EXPECT_EQ(d.code, Code::kSubjects);
  EXPECT_EQ(d.limit, "users");
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_TRUE(check("c", 1, {}, -1, "u7").allowed);  // seen: still works
  d = check("c", 1, {}, -1, "u7");  // per-user burst 2 exhausted
  EXPECT_EQ(d.code, Code::kRate);
  EXPECT_EQ(d.limit, "per-user");
  // 50 + 1 + 0 charged to the daily quota: the denied calls took nothing.
  CheckRequest peek;
  peek.key = "c";
  peek.subject = "u1";
  peek.cost = 0;
  EXPECT_EQ(engine_->peek(peek, now_).code, Code::kOk);
  EXPECT_NEAR(engine_->distinct_subjects_estimate("c", now_), 50, 2);
  // Next day (Asia/Shanghai midnight), the cap starts over.
  now_ += 86400 * kNanosPerSecond;
  EXPECT_TRUE(check("c", 1, {}, -1, "new-user").allowed);
}

}  // namespace
}  // namespace tollgate
