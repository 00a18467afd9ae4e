// PEEK answers exactly what CHECK would answer now — all seven fields — over a
// matrix of states: fresh, partly used, exhausted by each limit type, priced
// with several lots (and a cost spanning many one-credit lots), remembered
// IDs, open holds, subjects, WAIT, gates, a full key table. Each step peeks
// and then checks the same request at the same instant and compares.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <string>
#include <vector>

#include "engine/engine.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

using tollgate::testing::contract;
using tollgate::testing::priced;
using tollgate::testing::bucket;

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

LimitSpec counter(std::string name, LimitType type, int64_t limit, Nanos window = 60 * kNanosPerSecond) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = type;
  s.limit = limit;
  s.period = Period::kDay;
  s.window = window;
  return s;
}

class PeekMatchesCheck : public ::testing::Test {
 protected:
  void build(EngineOptions o) {
    auto e = Engine::create(o, reclaimer_, now_, state_);
    ASSERT_TRUE(e.has_value()) << e.error().front();
    engine_ = std::move(*e);
  }
  Account& account(std::string_view key) { return *state_.find(key)->account(); }

  // PEEK, then CHECK the same request at the same instant; both replies must
  // be identical in every field. Returns the CHECK's decision.
  Decision step(const CheckRequest& r, std::string_view what) {
    const Decision peek = engine_->peek(r, now_);
    const Decision check = engine_->check(r, now_, 0);
    const std::string where = std::string(what) + " (peek " + describe(peek) + " / check " + describe(check) + ")";
    EXPECT_EQ(peek.allowed, check.allowed) << where;
    EXPECT_EQ(peek.code, check.code) << where;
    EXPECT_EQ(peek.limit, check.limit) << where;
    EXPECT_EQ(peek.remaining, check.remaining) << where;
    EXPECT_EQ(peek.retry_after_ms, check.retry_after_ms) << where;
    EXPECT_EQ(peek.reset_after_ms, check.reset_after_ms) << where;
    EXPECT_EQ(peek.balance, check.balance) << where;
    ++steps_;
    return check;
  }
  static std::string describe(const Decision& d) {
    return std::to_string(d.allowed) + " " + std::string(code_name(d.code)) + " '" + std::string(d.limit) + "' " +
           std::to_string(d.remaining) + " " + std::to_string(d.retry_after_ms) + " " +
           std::to_string(d.reset_after_ms) + " " + std::to_string(d.balance);
  }
  static CheckRequest request(std::string_view key, int64_t cost = 1) {
    CheckRequest r;
    r.key = key;
    r.cost = cost;
    return r;
  }

  Reclaimer reclaimer_;
  RuntimeState state_;
  Nanos now_ = kStart;
  std::unique_ptr<Engine> engine_;
  int steps_ = 0;
};

// Verifies fresh → partly used → exhausted by a bucket, a window and a quota
// in turn, priced across several lots of different prices (the balance field
// is the balance after the call), then out of credits.
TEST_F(PeekMatchesCheck, LimitsAndLotsFromFreshToExhausted) {
  EngineOptions o;
  o.contracts.push_back(contract("c",
                                 {bucket("burst", 10, kNanosPerSecond, 3),
                                  counter("minute", LimitType::kSlidingWindow, 6),
                                  counter("daily", LimitType::kQuota, 9)},
                                 priced(10)));
  build(o);
  Account& a = account("c");
  ASSERT_TRUE(apply_recharge(a, 25, now_).has_value());  // 2 credits at 10, 5 in the wallet
  ASSERT_TRUE(apply_recharge(a, 30, now_).has_value());  // 3 credits (30 + 5 = 35)
  ASSERT_TRUE(apply_recharge(a, 40, now_).has_value());  // 4 credits, ...
  ASSERT_TRUE(apply_recharge(a, 7, now_).has_value());
  for (int i = 0; i < 40; ++i) {
    step(request("c", 1 + i % 2), "call " + std::to_string(i));
    now_ += (i % 3 == 0 ? 10 : 400) * kNanosPerMilli;
  }
  step(request("c", 0), "cost 0");
  step(request("c", 4), "cost above the burst");
  now_ += 2 * 86400 * kNanosPerSecond;
  step(request("c", 100), "more than the balance");
  for (int64_t left = a.credits(); left > 0; left = a.credits()) {
    EXPECT_TRUE(step(request("c", std::min<int64_t>(left, 3)), "the last credits").allowed);  // ≤ the burst
    now_ += kNanosPerSecond;
  }
  EXPECT_EQ(a.credits(), 0);
  EXPECT_EQ(step(request("c"), "no credits").code, Code::kBalance);
}

// Verifies a cost covered only by many one-credit lots: CHECK allows it (no
// lot cap without HOLD) and PEEK says the same, down to the balance 0.
TEST_F(PeekMatchesCheck, CostSpanningManySmallLots) {
  EngineOptions o;
  o.contracts.push_back(contract("c", {}, priced(100)));
  build(o);
  for (int i = 0; i < 13; ++i) ASSERT_TRUE(apply_recharge(account("c"), 100, now_).has_value());
  step(request("c", 14), "more than the 13 credits");
  Decision d = step(request("c", 13), "13 credits in 13 lots");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.balance, 0);
  step(request("c", 1), "empty");
}

// Verifies a remembered ID replays the first allowed reply in PEEK as in
// CHECK — also once the key is exhausted — and a denied one is not replayed.
TEST_F(PeekMatchesCheck, RememberedIds) {
  EngineOptions o;
  o.contracts.push_back(contract("c", {counter("daily", LimitType::kQuota, 2)}, priced(5)));
  build(o);
  ASSERT_TRUE(apply_recharge(account("c"), 50, now_).has_value());
  CheckRequest r = request("c");
  r.id = "x";
  EXPECT_TRUE(step(r, "first x").allowed);
  EXPECT_TRUE(step(r, "x again: replay").allowed);
  CheckRequest other = request("c");
  other.id = "y";
  step(other, "y");
  CheckRequest z = request("c");
  z.id = "z";
  EXPECT_FALSE(step(z, "z: quota exhausted").allowed);
  EXPECT_FALSE(step(z, "z again: a denial is not remembered").allowed);
  EXPECT_TRUE(step(r, "x still replays").allowed);
  now_ += 11 * 60 * kNanosPerSecond;  // past the dedup window
  EXPECT_FALSE(step(r, "x forgotten: decided afresh").allowed);
}

// Verifies open holds: a full concurrency limit denies PEEK and CHECK alike,
// with and without HOLD; HOLDs take credits, from any number of lots (a HOLD
// over 5 one-credit lots is allowed by both, down to the balance after it).
TEST_F(PeekMatchesCheck, HoldsAndConcurrency) {
  ContractRules rules = priced(10);
  rules.concurrency = {{"inflight", 2, false}};
  EngineOptions o;
  o.contracts.push_back(contract("c", {counter("daily", LimitType::kQuota, 100)}, rules));
  build(o);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(apply_recharge(account("c"), 10, now_).has_value());  // 8 one-credit lots
  CheckRequest h = request("c", 5);
  h.id = "h-big";
  h.hold_ms = 1000;
  const Decision big = step(h, "hold over 5 lots");
  EXPECT_TRUE(big.allowed);
  EXPECT_EQ(big.balance, 30);
  ASSERT_TRUE(engine_->settle("c", "h-big", false, now_));
  EXPECT_EQ(account("c").balance(), 80);  // each lot got its credit back
  h.id = "h-big-2";
  h.cost = 9;
  EXPECT_EQ(step(h, "hold over more than the 8 credits").code, Code::kBalance);
  for (int i = 1; i <= 3; ++i) {
    CheckRequest hold = request("c");
    hold.id = "h" + std::to_string(i);
    hold.hold_ms = 1000;
    step(hold, "hold " + std::to_string(i));
  }
  EXPECT_EQ(step(request("c"), "no HOLD, limit full").code, Code::kConcurrency);
  ASSERT_TRUE(engine_->settle("c", "h1", false, now_));
  EXPECT_TRUE(step(request("c"), "a slot free again").allowed);
  CheckRequest again = request("c");
  again.id = "h4";
  again.hold_ms = 1000;
  EXPECT_TRUE(step(again, "hold 4").allowed);
  EXPECT_EQ(step(request("c"), "full again").code, Code::kConcurrency);
}

// Verifies SUBJECT: required, distinct cap (seen, new, over the cap), the
// per-subject bucket, and their effect on the deciding limit.
TEST_F(PeekMatchesCheck, Subjects) {
  PolicySpec p = contract("c", {counter("daily", LimitType::kQuota, 1000),
                                counter("users", LimitType::kDistinctSubjects, 3)});
  p.per_subject = {bucket("per-user", 1, 3600 * kNanosPerSecond, 2)};
  EngineOptions o;
  o.contracts.push_back(p);
  build(o);
  step(request("c"), "no subject");
  for (const char* subject : {"a", "b", "a", "c", "d", "a", "a", "b", "e"}) {
    CheckRequest r = request("c");
    r.subject = subject;
    step(r, std::string("subject ") + subject);
  }
}

// Verifies WAIT: a call the bucket can pace is allowed by both, one beyond
// the wait is denied by both with the same retry.
TEST_F(PeekMatchesCheck, Wait) {
  EngineOptions o;
  PolicySpec cls;
  cls.name = "ip:*";
  cls.limits = {bucket("rate", 1, kNanosPerSecond, 1), counter("minute", LimitType::kSlidingWindow, 100)};
  o.key_classes.push_back(cls);
  build(o);
  CheckRequest r = request("ip:1");
  step(r, "fresh");
  r.wait_ms = 2000;
  step(r, "paced 1 s");
  step(r, "paced 2 s");
  step(r, "beyond the wait");
  r.wait_ms = -1;
  step(r, "no wait");
}

// Verifies the gates (status, channel, purpose, expiry), an unknown key, a
// new key while the key table is full, and a cost above a limit's capacity.
TEST_F(PeekMatchesCheck, GatesUnknownAndFullTable) {
  ContractRules scoped = priced(10);
  scoped.channels = {"pc"};
  scoped.purposes = {"score"};
  scoped.expires = kStart + kNanosPerSecond;
  EngineOptions o;
  o.contracts.push_back(contract("scoped", {counter("daily", LimitType::kQuota, 5)}, scoped));
  PolicySpec cls;
  cls.name = "k:*";
  cls.limits = {counter("daily", LimitType::kQuota, 5)};
  o.key_classes.push_back(cls);
  o.table.max_dynamic_keys = 1;
  build(o);
  ASSERT_TRUE(apply_recharge(account("scoped"), 100, now_).has_value());
  CheckRequest r = request("scoped");
  step(r, "no channel");
  r.channel = "pc";
  step(r, "no purpose");
  r.purpose = "score";
  step(r, "in scope");
  step(request("nobody"), "unknown");
  step(request("k:1", 6), "cost above the quota");
  step(request("k:1"), "creates k:1");
  step(request("k:2"), "table full");
  state_.find("scoped")->override_status(ContractStatus::kSuspended, "test");
  step(r, "suspended");
  state_.find("scoped")->override_status(ContractStatus::kActive, "");
  now_ += 2 * kNanosPerSecond;
  step(r, "expired");
  EXPECT_GE(steps_, 9);
}

}  // namespace
}  // namespace tollgate
