// Engine::check_all: all-or-nothing batches over every kind of limit, the
// same key and the same ID twice, money and the ledger, and a hammer of
// check_all and check on overlapping keys from several threads.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

using tollgate::testing::bucket;
using tollgate::testing::contract;
using tollgate::testing::distinct_subjects;
using tollgate::testing::priced;
using tollgate::testing::quota;
using tollgate::testing::window;

constexpr Nanos kHour = 3600 * kNanosPerSecond;

CheckRequest call(std::string_view key, int64_t cost = 1, std::string_view subject = {}, std::string_view id = {},
                  int64_t hold_ms = -1) {
  CheckRequest r;
  r.key = key;
  r.cost = cost;
  r.subject = subject;
  r.id = id;
  r.hold_ms = hold_ms;
  return r;
}

std::string describe(const Decision& d) {
  return std::to_string(d.allowed) + " " + std::string(code_name(d.code)) + " '" + std::string(d.limit) + "' " +
         std::to_string(d.remaining) + " " + std::to_string(d.retry_after_ms) + " " +
         std::to_string(d.reset_after_ms) + " " + std::to_string(d.balance);
}

// One contract per kind of limit, and a key class.
EngineOptions every_kind() {
  EngineOptions o;
  o.contracts.push_back(contract("tb", {bucket("burst", 1, kHour, 3)}));
  o.contracts.push_back(contract("win", {window("minute", 3, 60 * kNanosPerSecond)}));
  o.contracts.push_back(contract("quo", {quota("daily", 3)}));
  ContractRules conc;
  conc.concurrency = {{"inflight", 1, false}};
  o.contracts.push_back(contract("conc", {}, conc));
  o.contracts.push_back(contract("money", {}, priced(100)));
  PolicySpec users = contract("users", {distinct_subjects("users", 2)});
  users.per_subject = {bucket("per-user", 1, kHour, 2)};
  o.contracts.push_back(users);
  PolicySpec ip;
  ip.name = "ip:*";
  ip.limits = {bucket("ip", 1, kHour, 2)};
  o.key_classes.push_back(ip);
  return o;
}

// A batch that charges every kind once: bucket, window, quota, a HOLD's
// concurrency slot, credits (with an ID), a new distinct subject and its
// per-subject bucket, a key class.
std::vector<CheckRequest> every_kind_batch() {
  return {call("ip:a"),
          call("tb"),
          call("win"),
          call("quo"),
          call("conc", 1, {}, "h1", 60'000),
          call("money", 1, {}, "m1"),
          call("users", 1, "s-new")};
}

class CheckAllTest : public tollgate::testing::EngineFixture {
 protected:
  void SetUp() override {
    engine_ = build(every_kind());
    ASSERT_NE(engine_, nullptr);
    ASSERT_TRUE(apply_recharge(*state_.find("money")->account(), state_.ledger(), nullptr, "money", 300, now_));
  }
  Account& money() { return *state_.find("money")->account(); }
  // Everything a batch could change, as text: what PEEK answers for every
  // call of the batch (IDs included: a remembered ID replays), the money's
  // lots, open holds and concurrency slots, distinct-subject counts.
  std::string fingerprint(const std::vector<CheckRequest>& batch) {
    std::string s;
    for (const CheckRequest& r : batch) s += describe(engine_->peek(r, now_)) + "\n";
    CheckRequest other_subject = call("users", 1, "someone-else");
    s += "new subject: " + describe(engine_->peek(other_subject, now_)) + "\n";
    for (uint32_t i = 0; i < money().lot_count(); ++i) {
      auto lot = money().lot(i);
      s += "lot " + std::to_string(lot->debited) + "/" + std::to_string(lot->refunded) + "\n";
    }
    s += "credits " + std::to_string(money().credits()) + " balance " + std::to_string(money().balance()) + "\n";
    s += "open holds " + std::to_string(engine_->holds().open()) + " slots " +
         std::to_string(state_.find("conc")->open_holds().load()) + "\n";
    engine_->for_each_distinct_set([&](const std::string& c, const std::string& l, DistinctSubjects& set) {
      s += c + "." + l + " " + std::to_string(set.count(now_)) + "\n";
    });
    return s;
  }
  bool run(const std::vector<CheckRequest>& batch, std::vector<Decision>& out) {
    out.assign(batch.size(), Decision{});
    return engine_->check_all(batch, now_, 0, out);
  }
  std::unique_ptr<Engine> engine_;
};

// Verifies a batch that is all allowed answers and charges exactly what the same check()s in order do.
TEST_F(CheckAllTest, AllowedBatchEqualsSequentialChecks) {
  Reclaimer reclaimer;
  RuntimeState state;
  auto sequential = Engine::create(every_kind(), reclaimer, now_, state);
  ASSERT_TRUE(sequential.has_value());
  ASSERT_TRUE(apply_recharge(*state.find("money")->account(), state.ledger(), nullptr, "money", 300, now_));
  const auto batch = every_kind_batch();
  std::vector<Decision> out;
  ASSERT_TRUE(run(batch, out));
  for (size_t i = 0; i < batch.size(); ++i) {
    Decision expected = (*sequential)->check(batch[i], now_, 0);
    EXPECT_TRUE(out[i].allowed) << i;
    EXPECT_EQ(describe(out[i]), describe(expected)) << "call " << i;
  }
  for (const CheckRequest& r : batch)
    EXPECT_EQ(describe(engine_->peek(r, now_)), describe((*sequential)->peek(r, now_))) << r.key;
  EXPECT_EQ(money().credits(), 2);
  EXPECT_EQ(engine_->holds().open(), 1u);
  EXPECT_TRUE(engine_->settle("conc", "h1", false, now_));  // the hold is real and settles
}

struct DenialCase {
  const char* name;
  size_t denied;  // index in every_kind_batch()
  Code code;
  std::vector<CheckRequest> exhaust;  // check()ed (each allowed) before the batch
};

void PrintTo(const DenialCase& c, std::ostream* os) { *os << c.name; }

class CheckAllDenialTest : public CheckAllTest, public ::testing::WithParamInterface<DenialCase> {};

// Verifies that when one call is denied — whatever denies it — nothing of the batch is charged, the denied call
// carries its own code and the others read ABORTED with its retry hint.
TEST_P(CheckAllDenialTest, OneDenialChargesNothing) {
  const DenialCase& c = GetParam();
  for (const CheckRequest& r : c.exhaust) ASSERT_TRUE(engine_->check(r, now_).allowed) << r.key;
  const auto batch = every_kind_batch();
  const std::string before = fingerprint(batch);
  std::vector<Decision> out;
  EXPECT_FALSE(run(batch, out));
  EXPECT_EQ(fingerprint(batch), before);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_FALSE(out[i].allowed) << i;
    if (i == c.denied) {
      EXPECT_EQ(out[i].code, c.code);
      continue;
    }
    EXPECT_EQ(out[i].code, Code::kAborted) << i;
    EXPECT_EQ(out[i].limit, "");
    EXPECT_EQ(out[i].retry_after_ms, out[c.denied].retry_after_ms) << i;
  }
  EXPECT_EQ(out[5].balance, money().balance());
  EXPECT_FALSE(engine_->settle("conc", "h1", false, now_));  // the aborted hold never existed
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, CheckAllDenialTest,
    ::testing::Values(DenialCase{"key_class_bucket", 0, Code::kRate, {call("ip:a"), call("ip:a")}},
                      DenialCase{"token_bucket", 1, Code::kRate, {call("tb"), call("tb"), call("tb")}},
                      DenialCase{"sliding_window", 2, Code::kWindow, {call("win"), call("win"), call("win")}},
                      DenialCase{"quota", 3, Code::kQuota, {call("quo", 3)}},
                      DenialCase{"concurrency", 4, Code::kConcurrency, {call("conc", 1, {}, "other", 60'000)}},
                      DenialCase{"balance", 5, Code::kBalance, {call("money", 3)}},
                      DenialCase{"distinct_subjects", 6, Code::kSubjects,
                                 {call("users", 1, "s1"), call("users", 1, "s2")}}),
    [](const ::testing::TestParamInfo<DenialCase>& info) { return std::string(info.param.name); });

// Verifies the calls of an aborted batch were really abandoned: with the denied call left out, the same calls (IDs
// included) are decided afresh, allowed and charged.
TEST_F(CheckAllTest, AbortedIdsAreForgotten) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine_->check(call("quo"), now_).allowed);
  auto batch = every_kind_batch();
  std::vector<Decision> out;
  EXPECT_FALSE(run(batch, out));
  batch.erase(batch.begin() + 3);  // the exhausted quota
  const std::string before = fingerprint(batch);
  ASSERT_TRUE(run(batch, out));
  EXPECT_NE(fingerprint(batch), before);
  EXPECT_EQ(money().credits(), 2);
  // Now remembered: the same batch replays, charging nothing more.
  const std::string after = fingerprint(batch);
  std::vector<Decision> again;
  ASSERT_TRUE(run({call("conc", 1, {}, "h1", 60'000), call("money", 1, {}, "m1")}, again));
  EXPECT_EQ(fingerprint(batch), after);
  EXPECT_EQ(again[1].balance, out[4].balance);
}

// Verifies the same key twice in one batch costs twice (the second call sees the first's charge), and a denial of
// the second gives back the first's units too.
TEST_F(CheckAllTest, SameKeyTwice) {
  std::vector<Decision> out;
  EXPECT_FALSE(run({call("quo", 2), call("quo", 2)}, out));
  EXPECT_EQ(out[0].code, Code::kAborted);
  EXPECT_EQ(out[1].code, Code::kQuota);
  EXPECT_EQ(out[1].remaining, 1);  // saw the first call's provisional 2
  EXPECT_EQ(engine_->peek(call("quo", 3), now_).code, Code::kOk);  // nothing kept
  ASSERT_TRUE(run({call("quo", 1), call("quo", 1)}, out));
  EXPECT_EQ(out[0].remaining, 2);
  EXPECT_EQ(out[1].remaining, 1);
  EXPECT_FALSE(run({call("money", 2), call("money", 2)}, out));  // 3 credits: not enough for both
  EXPECT_EQ(out[1].code, Code::kBalance);
  EXPECT_EQ(money().credits(), 3);
  EXPECT_EQ(out[0].balance, 300);
  // Two HOLDs of one contract need two slots; the limit is 1.
  EXPECT_FALSE(run({call("conc", 1, {}, "a", 1000), call("conc", 1, {}, "b", 1000)}, out));
  EXPECT_EQ(out[1].code, Code::kConcurrency);
  EXPECT_EQ(state_.find("conc")->open_holds().load(), 0);
  EXPECT_EQ(engine_->holds().open(), 0u);
}

// Verifies each contract call of a batch is counted once (GET /metrics), by the code it is answered: an
// aborted call as ABORTED, not as the OK it was provisionally; check() counts its allowed calls too.
TEST_F(CheckAllTest, DecisionsCountedByTheirFinalCode) {
  ContractState& tb = *state_.find("tb");
  ContractState& quo = *state_.find("quo");
  std::vector<Decision> out;
  EXPECT_FALSE(run({call("tb"), call("quo", 4)}, out));
  EXPECT_EQ(tb.decisions(Code::kAborted), 1u);
  EXPECT_EQ(tb.decisions(Code::kOk), 0u);
  EXPECT_EQ(quo.decisions(Code::kQuota), 1u) << describe(out[1]);
  ASSERT_TRUE(run({call("tb"), call("quo")}, out));
  EXPECT_EQ(tb.decisions(Code::kOk), 1u);
  EXPECT_EQ(quo.decisions(Code::kOk), 1u);
  EXPECT_TRUE(engine_->check(call("tb"), now_, 0).allowed);
  EXPECT_TRUE(engine_->check(call("tb", 1, {}, "id-1"), now_, 0).allowed);
  EXPECT_EQ(tb.decisions(Code::kOk), 3u);
  EXPECT_EQ(tb.decisions(Code::kAborted), 1u);
}

// Verifies the same key and ID twice answers the first call's reply again and charges once.
TEST_F(CheckAllTest, SameIdTwice) {
  std::vector<Decision> out;
  ASSERT_TRUE(run({call("money", 1, {}, "x"), call("money", 1, {}, "x"), call("money", 1, {}, "y")}, out));
  EXPECT_EQ(describe(out[0]), describe(out[1]));
  EXPECT_EQ(money().credits(), 1);
  EXPECT_EQ(out[2].balance, 100);
  // Twice with a HOLD: one hold.
  ASSERT_TRUE(run({call("conc", 1, {}, "h", 1000), call("conc", 1, {}, "h", 1000)}, out));
  EXPECT_EQ(engine_->holds().open(), 1u);
  EXPECT_EQ(state_.find("conc")->open_holds().load(), 1);
}

// Verifies the ledger never sees an aborted batch, and a committed HOLD's CANCEL gives each lot back what it gave
// (Σ ledger = balance throughout).
TEST_F(CheckAllTest, LedgerAndLots) {
  for (int i = 0; i < 3; ++i)  // three more lots of 1 credit each
    ASSERT_TRUE(apply_recharge(money(), state_.ledger(), nullptr, "money", 100, now_));
  auto flush = [&] { return state_.ledger().flush_debits(money(), "money", now_); };
  ASSERT_TRUE(check_invariant(state_.ledger(), "money", flush().balance).has_value());
  std::vector<Decision> out;
  EXPECT_FALSE(run({call("money", 5, {}, "h", 1000), call("quo", 4)}, out));
  EXPECT_EQ(flush().appended, 0u);  // no lot was touched
  ASSERT_TRUE(run({call("money", 5, {}, "h", 1000), call("quo", 1)}, out));
  EXPECT_EQ(out[0].balance, 100);
  FlushResult f = flush();
  EXPECT_EQ(f.appended, 3u);  // the first lot (3 credits) and two of the 1-credit lots
  ASSERT_TRUE(check_invariant(state_.ledger(), "money", f.balance).has_value());
  EXPECT_TRUE(engine_->settle("money", "h", false, now_));
  f = flush();
  EXPECT_EQ(f.balance, 600);
  for (uint32_t i = 0; i < money().lot_count(); ++i) EXPECT_EQ(money().lot(i)->remaining(), money().lot(i)->credits);
  ASSERT_TRUE(check_invariant(state_.ledger(), "money", f.balance).has_value());
}

// Verifies ABORTED's retry hint is the longest of the denied calls', -1 when one can never pass.
TEST_F(CheckAllTest, AbortedRetryHint) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine_->check(call("tb"), now_).allowed);
  std::vector<Decision> out;
  EXPECT_FALSE(run({call("quo"), call("tb")}, out));
  EXPECT_EQ(out[0].code, Code::kAborted);
  EXPECT_GT(out[1].retry_after_ms, 0);
  EXPECT_EQ(out[0].retry_after_ms, out[1].retry_after_ms);
  EXPECT_FALSE(run({call("quo"), call("tb"), call("nobody")}, out));
  EXPECT_EQ(out[2].code, Code::kUnknown);
  EXPECT_EQ(out[0].retry_after_ms, -1);
  EXPECT_TRUE(engine_->check_all({}, now_, 0, {}));  // an empty batch is trivially allowed
}

// Verifies under concurrency that check_all and check on overlapping keys keep every total exact: quota and bucket
// units, credits and lots (Σ ledger = balance), concurrency slots and holds, distinct subjects — each equals what
// the allowed replies account for, whatever the aborted batches took meanwhile.
TEST(CheckAllHammer, TotalsExact) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 3000;
  constexpr int64_t kQuota = 4000, kBucket = 3000, kCredits = 5000, kCap = 40, kConc = 6;
  Reclaimer reclaimer;
  RuntimeState state;
  EngineOptions o;
  o.workers = kThreads;
  ContractRules rules = priced(10);
  rules.concurrency = {{"inflight", kConc, false}};
  o.contracts.push_back(contract("c", {quota("daily", kQuota), distinct_subjects("users", kCap)}, rules));
  PolicySpec ip;
  ip.name = "ip:*";
  ip.limits = {bucket("ip", 1, kHour, kBucket)};
  o.key_classes.push_back(ip);
  const Nanos now = tollgate::testing::kTestStart;  // time stands still: nothing refills
  auto engine = Engine::create(o, reclaimer, now, state);
  ASSERT_TRUE(engine.has_value());
  Account& account = *state.find("c")->account();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(apply_recharge(account, state.ledger(), nullptr, "c", kCredits / 5 * 10, now));

  struct Totals {
    int64_t quota = 0, ip = 0, credits = 0, holds_open = 0;
    std::set<std::string> subjects;
  };
  std::vector<Totals> totals(kThreads);
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Totals& mine = totals[static_cast<size_t>(t)];
      std::vector<std::string> ids;
      for (int i = 0; i < kRounds; ++i) {
        const std::string subject = "u" + std::to_string((i * 7 + t) % (kCap + 10));
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        const int64_t cost = 1 + i % 3;
        std::vector<CheckRequest> batch = {call("ip:shared", cost), call("c", cost, subject),
                                           call("ip:shared", 1)};
        if (i % 5 == 0) batch.push_back(call("c", 1, subject, id, 60'000));  // a HOLD: slots and pool
        if (i % 4 == 1) {
          Decision d = (*engine)->check(call("c", 1, subject), now, t);
          if (d.allowed) mine.quota += 1, mine.credits += 1, mine.subjects.insert(subject);
          d = (*engine)->check(call("ip:shared", 2), now, t);
          if (d.allowed) mine.ip += 2;
          continue;
        }
        std::vector<Decision> out(batch.size());
        if (!(*engine)->check_all(batch, now, t, out)) {
          aborted.fetch_add(1);
          for (const Decision& d : out) EXPECT_FALSE(d.allowed);
          continue;
        }
        mine.ip += cost + 1;
        mine.quota += cost;
        mine.credits += cost;
        mine.subjects.insert(subject);
        if (batch.size() == 4) {
          mine.quota += 1, mine.credits += 1, ++mine.holds_open;
          if (i < kRounds - 20) {  // settle all but the last few: CANCEL gives back, COMMIT keeps
            const bool commit = i % 10 == 5;
            EXPECT_TRUE((*engine)->settle("c", id, commit, now));
            if (!commit) mine.quota -= 1, mine.credits -= 1;
            --mine.holds_open;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  Totals sum;
  for (const Totals& t : totals) {
    sum.quota += t.quota, sum.ip += t.ip, sum.credits += t.credits, sum.holds_open += t.holds_open;
    sum.subjects.insert(t.subjects.begin(), t.subjects.end());
  }
  EXPECT_GT(aborted.load(), 0);
  EXPECT_GT(sum.quota, 0);
  EXPECT_EQ((*engine)->peek(call("ip:shared", 0), now).remaining, kBucket - sum.ip);
  EXPECT_EQ(account.credits(), kCredits - sum.credits);
  EXPECT_EQ(state.find("c")->open_holds().load(), sum.holds_open);
  EXPECT_EQ((*engine)->holds().open(), static_cast<size_t>(sum.holds_open));
  int64_t distinct = -1;
  (*engine)->for_each_distinct_set(
      [&](const std::string&, const std::string&, DistinctSubjects& set) { distinct = set.count(now); });
  EXPECT_EQ(distinct, static_cast<int64_t>(sum.subjects.size()));
  // Quota: whatever is left is exactly what the allowed calls did not take.
  ASSERT_FALSE(sum.subjects.empty());
  CheckRequest rest = call("c", kQuota - sum.quota, *sum.subjects.begin(), "final", 60'000);
  if (sum.holds_open < kConc) {
    Decision left = (*engine)->peek(rest, now);
    EXPECT_TRUE(left.allowed) << describe(left);
    rest.cost += 1;
    Decision over = (*engine)->peek(rest, now);
    EXPECT_EQ(over.code, Code::kQuota) << describe(over);
  }
  const FlushResult f = state.ledger().flush_debits(account, "c", now);
  EXPECT_TRUE(check_invariant(state.ledger(), "c", f.balance).has_value());
  EXPECT_EQ(f.balance, (kCredits - sum.credits) * 10);
}

}  // namespace
}  // namespace tollgate
