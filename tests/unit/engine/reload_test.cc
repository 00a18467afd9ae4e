// Engine reload: a new engine built with `previous` takes over the counters
// of limits whose key, name and type are unchanged.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

using testing::bucket;
using testing::quota;
using testing::window;

constexpr Nanos kStart = testing::kTestStart;

PolicySpec policy(std::string name, std::vector<LimitSpec> limits) {
  PolicySpec p;
  p.name = std::move(name);
  p.limits = std::move(limits);
  return p;
}

using ReloadTest = testing::EngineFixture;

// Verifies unchanged limits keep their counts across a reload, changed parameters apply at once,
// new limits start fresh, removed contracts and classes are dropped.
TEST_F(ReloadTest, CountersSurviveUnchangedLimits) {
  EngineOptions a;
  a.contracts.push_back(policy("c", {quota("daily", 10), bucket("burst", 1, 3600 * kNanosPerSecond, 100)}));
  a.contracts.push_back(policy("gone", {quota("q", 1)}));
  a.key_classes.push_back(policy("ip:*", {quota("ip", 3)}));
  auto e1 = build(a);
  for (int i = 0; i < 4; ++i) check(*e1, "c");
  check(*e1, "ip:1");
  check(*e1, "ip:1");

  EngineOptions b;
  b.contracts.push_back(policy("c", {quota("daily", 6), bucket("burst", 1, 3600 * kNanosPerSecond, 100),
                                     quota("monthly-new", 100)}));
  b.contracts.push_back(policy("new", {quota("q", 2)}));
  b.key_classes.push_back(policy("ip:*", {quota("ip", 3)}));
  auto e2 = build(b, e1.get());
  Decision d = check(*e2, "c");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, "daily");
  EXPECT_EQ(d.remaining, 1);           // used 4 + 1 of the new limit 6
  EXPECT_EQ(check(*e2, "ip:1").remaining, 0);  // 2 used before the reload + this one
  EXPECT_EQ(check(*e2, "gone").code, Code::kUnknown);
  EXPECT_TRUE(check(*e2, "new").allowed);
  // The quota whose limit dropped below what was used: denied until the period ends.
  EXPECT_TRUE(check(*e2, "c").allowed);
  EXPECT_EQ(check(*e2, "c").code, Code::kQuota);
  reclaimer_.collect();
}

// Verifies admin status overrides and prepaid money are state: a reload (even one that changes the
// configured status) keeps them.
TEST_F(ReloadTest, OverridesAndMoneySurvive) {
  EngineOptions a;
  PolicySpec c = policy("c", {quota("daily", 10)});
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  c.rules = rules;
  a.contracts.push_back(c);
  auto e1 = build(a);
  ASSERT_TRUE(apply_recharge(*state_.find("c")->account(), 1000, now_).has_value());
  EXPECT_EQ(check(*e1, "c").balance, 900);
  state_.find("c")->override_status(ContractStatus::kSuspended, "audit");
  EngineOptions b = a;
  b.contracts[0].rules->status = ContractStatus::kActive;  // the file says active
  b.contracts[0].limits[0].limit = 20;
  auto e2 = build(b, e1.get());
  EXPECT_EQ(check(*e2, "c").code, Code::kSuspended);
  EXPECT_EQ(state_.find("c")->reason(), "audit");
  state_.find("c")->override_status(ContractStatus::kActive, "");
  Decision d = check(*e2, "c");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.balance, 800);    // the account and its lots were kept
  EXPECT_EQ(d.remaining, 18);   // 2 used of the new 20
}

// Verifies a limit whose type changes under the same name starts fresh.
TEST_F(ReloadTest, TypeChangeStartsFresh) {
  EngineOptions a;
  a.contracts.push_back(policy("c", {quota("x", 2)}));
  auto e1 = build(a);
  check(*e1, "c", 2);
  EngineOptions b;
  b.contracts.push_back(policy("c", {bucket("x", 1, 3600 * kNanosPerSecond, 2)}));
  auto e2 = build(b, e1.get());
  EXPECT_EQ(check(*e2, "c", 2).code, Code::kOk);
}

// Verifies reloads under load lose no counter updates: threads hammer a key with no refill while the
// engine is replaced 20 times; exactly `burst` calls are admitted in total.
TEST_F(ReloadTest, ReloadUnderLoadKeepsExactCounts) {
  EngineOptions o;
  o.workers = 4;
  o.contracts.push_back(policy("hot", {bucket("b", 1, 3600 * kNanosPerSecond, 20'000), quota("q", 1'000'000)}));
  o.key_classes.push_back(policy("k:*", {bucket("k", 1, 3600 * kNanosPerSecond, 5)}));
  std::atomic<Engine*> current{build(o).release()};
  std::atomic<bool> stop{false};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      int slot = reclaimer_.register_reader();
      CheckRequest r;
      r.key = "hot";
      while (!stop.load()) {
        ReadGuard g(reclaimer_, slot);
        Engine* e = current.load(std::memory_order_acquire);
        for (int i = 0; i < 64; ++i) {
          if (e->check(r, kStart, t).allowed) ++allowed;
        }
        CheckRequest dyn;
        std::string key = "k:" + std::to_string(t);
        dyn.key = key;
        e->check(dyn, kStart, t);  // dynamic keys created while reloads happen
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    EngineOptions next = o;
    // A parameter change with the same layout (state kept in place). The
    // bucket's own rate stays: a new rate legitimately changes how many units
    // its backlog is worth, which would make the total inexact.
    next.contracts[0].limits[1].limit = 1'000'000 + i;
    Engine* old = current.load();
    Engine* fresh = build(next, old).release();
    current.store(fresh);
    reclaimer_.retire([&current, old] {
      current.load()->adopt_entries(kStart);
      delete old;
    });
    reclaimer_.collect();
    std::this_thread::yield();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (allowed.load() < 20'000 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  stop = true;
  for (auto& th : threads) th.join();
  while (reclaimer_.pending() > 0) reclaimer_.collect();
  EXPECT_EQ(allowed.load(), 20'000);
  delete current.load();
}

// A contract with a distinct_subjects cap (and a price ladder), as a config
// would give it.
PolicySpec subjects_contract(std::string name, int64_t cap, Period period = Period::kDay) {
  PolicySpec p = policy(std::move(name), {quota("q", 1000), testing::distinct_subjects("distinct", cap, period)});
  ContractRules rules;
  rules.pricing = PriceLadder::flat(10);
  p.rules = rules;
  return p;
}

Decision check_subject(Engine& e, std::string_view key, std::string_view subject, Nanos now) {
  CheckRequest r;
  r.key = key;
  r.subject = subject;
  return e.check(r, now);
}

// Verifies a reload the engine refuses (a later contract's distinct cap above
// the maximum) leaves the running engine exactly as it was: its subject sets
// are still its own and alive (a checkpoint can visit them, a CHECK can admit
// into them), and the refused config's statuses and prices were not applied.
// Before the fix the refused engine took the sets with it when destroyed
// (a null set in for_each_distinct_set, a use-after-free in try_admit).
TEST_F(ReloadTest, RefusedReloadLeavesRunningEngineUntouched) {
  EngineOptions a;
  a.contracts.push_back(subjects_contract("acme", 100));
  auto e1 = build(a);
  ASSERT_TRUE(apply_recharge(*state_.find("acme")->account(), 1000, now_).has_value());
  EXPECT_TRUE(check_subject(*e1, "acme", "alice", now_).allowed);

  EngineOptions b;
  b.contracts.push_back(subjects_contract("acme", 100));  // same cap: its set would be taken over
  b.contracts[0].rules->status = ContractStatus::kSuspended;
  b.contracts[0].rules->pricing = PriceLadder::flat(500);
  b.contracts.push_back(subjects_contract("zzz", DistinctSubjects::kMaxLimit + 1));
  auto refused = Engine::create(b, reclaimer_, now_, state_, e1.get());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().front().find("zzz"), std::string::npos) << refused.error().front();
  EXPECT_EQ(state_.find("zzz"), nullptr);  // nothing of the refused config reached the shared state

  int sets = 0;
  e1->for_each_distinct_set([&](const std::string& contract, const std::string& limit, DistinctSubjects& set) {
    ++sets;
    EXPECT_EQ(contract, "acme");
    EXPECT_EQ(limit, "distinct");
    EXPECT_EQ(set.count(now_), 1);  // alice
  });
  EXPECT_EQ(sets, 1);
  Decision d = check_subject(*e1, "acme", "bob", now_);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.balance, 980);  // still 10 a call: the refused price never applied
  EXPECT_EQ(state_.find("acme")->status(), ContractStatus::kActive);
  EXPECT_EQ(d.remaining, 98);  // the running set: alice and bob of 100
  reclaimer_.collect();
}

// Verifies a successful reload shares a distinct set only when its cap,
// period and zone are unchanged: the members carry over then, a new cap or
// period starts an empty set, and the old engine still works meanwhile.
TEST_F(ReloadTest, SubjectSetsCarryOverOnlyWhenUnchanged) {
  EngineOptions a;
  a.contracts.push_back(subjects_contract("same", 10));
  a.contracts.push_back(subjects_contract("recapped", 10));
  a.contracts.push_back(subjects_contract("reperiod", 10));
  auto e1 = build(a);
  for (const char* c : {"same", "recapped", "reperiod"}) {
    ASSERT_TRUE(apply_recharge(*state_.find(c)->account(), 1000, now_).has_value());
    EXPECT_TRUE(check_subject(*e1, c, "alice", now_).allowed);
  }

  EngineOptions b;
  b.contracts.push_back(subjects_contract("same", 10));
  b.contracts.push_back(subjects_contract("recapped", 11));
  b.contracts.push_back(subjects_contract("reperiod", 10, Period::kMonth));
  auto e2 = build(b, e1.get());
  std::map<std::string, int64_t> counts;
  e2->for_each_distinct_set([&](const std::string& contract, const std::string&, DistinctSubjects& set) {
    counts[contract] = set.count(now_);
  });
  EXPECT_EQ(counts, (std::map<std::string, int64_t>{{"recapped", 0}, {"reperiod", 0}, {"same", 1}}));
  // A worker still on the old engine admits into the shared set.
  EXPECT_TRUE(check_subject(*e1, "same", "bob", now_).allowed);
  EXPECT_EQ(check_subject(*e2, "same", "carol", now_).remaining, 7);
  reclaimer_.collect();
}

// Verifies an allocation failure while building an engine is an error
// value, not an exception (a hold pool no machine can hold).
TEST_F(ReloadTest, AllocationFailureIsAnError) {
  EngineOptions o;
  o.contracts.push_back(policy("c", {quota("q", 1)}));
  o.max_holds = size_t{1} << 61;
  auto e = Engine::create(o, reclaimer_, now_, state_);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().front().find("out of memory"), std::string::npos) << e.error().front();
  EXPECT_EQ(state_.find("c"), nullptr);
}

}  // namespace
}  // namespace tollgate
