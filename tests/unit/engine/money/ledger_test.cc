#include "engine/money/ledger.h"

#include <limits>

#include <gtest/gtest.h>

#include "support/recharge.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

PriceLadder standard_ladder() {
  return *PriceLadder::create({{15'000'000, 80}, {10'000'000, 90}, {0, 100}});
}

LedgerEntry entry(std::string contract, LedgerKind kind, int64_t amount, uint64_t seq) {
  LedgerEntry e;
  e.seq = seq;
  e.contract = std::move(contract);
  e.kind = kind;
  e.amount = amount;
  return e;
}

// Verifies entries added under the next seq are appended 1.. across
// contracts and read back per contract since a seq.
TEST(MoneyLedger, AddAndReadSince) {
  Ledger ledger;
  EXPECT_EQ(ledger.last_seq(), 0u);
  EXPECT_EQ(ledger.add(entry("a", LedgerKind::kAdjust, 5, 1)), LedgerAddOutcome::kAppended);
  EXPECT_EQ(ledger.add(entry("b", LedgerKind::kAdmin, 0, 2)), LedgerAddOutcome::kAppended);
  EXPECT_EQ(ledger.add(entry("a", LedgerKind::kAdjust, -2, 3)), LedgerAddOutcome::kAppended);
  const auto all = ledger.entries("a");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].seq, 1u);
  EXPECT_EQ(all[1].seq, 3u);
  EXPECT_EQ(all[1].amount, -2);
  EXPECT_EQ(ledger.entries("a", 1).size(), 1u);
  EXPECT_EQ(ledger.entries("a", 3).size(), 0u);
  EXPECT_EQ(ledger.entries("nobody").size(), 0u);
  EXPECT_EQ(ledger.last_seq(), 3u);
  EXPECT_EQ(ledger_kind_name(LedgerKind::kRecharge), "recharge");
  EXPECT_EQ(ledger_kind_name(LedgerKind::kRefund), "refund");
}

// Verifies a replayed seq is skipped (the ledger unchanged) and a seq past
// the next one (records lost) is appended under the next seq.
TEST(MoneyLedger, AddSkipsReplaysAndRenumbersGaps) {
  Ledger ledger;
  ASSERT_EQ(ledger.add(entry("a", LedgerKind::kAdjust, 5, 1)), LedgerAddOutcome::kAppended);
  EXPECT_EQ(ledger.add(entry("a", LedgerKind::kAdjust, 7, 1)), LedgerAddOutcome::kDuplicate);
  ASSERT_EQ(ledger.entries("a").size(), 1u);
  EXPECT_EQ(ledger.entries("a")[0].amount, 5);
  EXPECT_EQ(ledger.add(entry("a", LedgerKind::kAdjust, 9, 5)), LedgerAddOutcome::kRenumbered);
  EXPECT_EQ(ledger.last_seq(), 2u);
  EXPECT_EQ(ledger.entries("a").back().seq, 2u);
  EXPECT_EQ(ledger.entries("a").back().amount, 9);
}

// Verifies a recharge entry carries the amount, lot, actor and payment id.
TEST(MoneyLedger, RecordsRecharge) {
  Ledger ledger;
  Account account(standard_ladder());
  const auto recharge = apply_recharge(account, ledger, nullptr, "acme", 10'000'000, kNow, 1000, "pay-1");
  ASSERT_TRUE(recharge.has_value());
  const auto entries = ledger.entries("acme");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, LedgerKind::kRecharge);
  EXPECT_EQ(entries[0].amount, 10'000'000);
  EXPECT_EQ(entries[0].lot, 0);
  EXPECT_EQ(entries[0].actor, 1000);
  EXPECT_EQ(entries[0].id, "pay-1");
  EXPECT_EQ(entries[0].time_ms, kNow / kNanosPerMilli);
  EXPECT_TRUE(check_invariant(ledger, "acme", account.balance()).has_value());
}

// Verifies a flush aggregates per-call debits into one entry per lot and refunds into another.
TEST(MoneyLedger, FlushAggregatesDeltas) {
  Ledger ledger;
  Account account(standard_ladder());
  ASSERT_TRUE(apply_recharge(account, ledger, nullptr, "acme", 1'000, kNow, kDaemonActor, "p1").has_value());
  ASSERT_TRUE(apply_recharge(account, ledger, nullptr, "acme", 15'000'000, kNow, kDaemonActor, "p2").has_value());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(account.try_debit(2).ok());  // 10 @100, 4 @80
  const DebitResult held = account.try_debit(3);                         // 3 @80
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(account.refund(held.taken()), RefundStatus::kOk);

  const FlushResult flush = ledger.flush_debits(account, "acme", kNow + kNanosPerSecond);
  EXPECT_EQ(flush.appended, 3u);
  EXPECT_EQ(flush.balance, account.balance());
  const auto entries = ledger.entries("acme", 2);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].kind, LedgerKind::kDebit);
  EXPECT_EQ(entries[0].lot, 0);
  EXPECT_EQ(entries[0].amount, -1'000);
  EXPECT_EQ(entries[1].kind, LedgerKind::kDebit);
  EXPECT_EQ(entries[1].lot, 1);
  EXPECT_EQ(entries[1].amount, -7 * 80);
  EXPECT_EQ(entries[2].kind, LedgerKind::kRefund);
  EXPECT_EQ(entries[2].amount, 3 * 80);
  EXPECT_TRUE(check_invariant(ledger, "acme", flush.balance).has_value());

  // Nothing new: nothing appended. New debits: only their delta.
  EXPECT_EQ(ledger.flush_debits(account, "acme", kNow).appended, 0u);
  ASSERT_TRUE(account.try_debit(1).ok());
  const FlushResult second = ledger.flush_debits(account, "acme", kNow);
  EXPECT_EQ(second.appended, 1u);
  EXPECT_EQ(ledger.entries("acme").back().amount, -80);
  EXPECT_TRUE(check_invariant(ledger, "acme", second.balance).has_value());
}

// Verifies check_invariant reports a mismatch with both sides.
TEST(MoneyLedger, InvariantDetectsMismatch) {
  Ledger ledger;
  Account account(PriceLadder::flat(10));
  ASSERT_TRUE(apply_recharge(account, ledger, nullptr, "k", 100, kNow, kDaemonActor, "p").has_value());
  ASSERT_TRUE(account.try_debit(1).ok());
  const auto unflushed = check_invariant(ledger, "k", account.balance());
  ASSERT_FALSE(unflushed.has_value());
  EXPECT_NE(unflushed.error().find("100"), std::string::npos);
  EXPECT_NE(unflushed.error().find("90"), std::string::npos);
  EXPECT_TRUE(check_invariant(ledger, "k", ledger.flush_debits(account, "k", kNow).balance));
}

// Verifies a flush whose debits exceed INT64_MAX minor units splits into exact entries.
TEST(MoneyLedger, FlushSplitsHugeDeltas) {
  Ledger ledger;
  const int64_t max = std::numeric_limits<int64_t>::max();
  Account account(PriceLadder::flat(2));
  ASSERT_TRUE(apply_recharge(account, ledger, nullptr, "k", max, kNow, kDaemonActor, "p").has_value());
  const DebitResult all = account.try_debit(max / 2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(account.refund(all.taken()), RefundStatus::kOk);
  ASSERT_TRUE(account.try_debit(max / 2).ok());  // 2 × (max / 2) credits debited in one window
  const FlushResult flush = ledger.flush_debits(account, "k", kNow);
  EXPECT_EQ(flush.appended, 3u);  // the debit in two parts, one refund
  EXPECT_EQ(flush.balance, 1);    // the wallet
  EXPECT_TRUE(check_invariant(ledger, "k", flush.balance).has_value());
}

// Verifies a lot whose lifetime debited counter would wrap is treated as empty.
TEST(MoneyLedger, DebitedCounterNeverWraps) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  Account account(PriceLadder::flat(1));
  ASSERT_TRUE(apply_recharge(account, max, kNow).has_value());
  const DebitResult all = account.try_debit(max);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(account.refund(all.taken()), RefundStatus::kOk);
  EXPECT_EQ(account.try_debit(5).status, DebitStatus::kInsufficient);
  EXPECT_EQ(account.balance(), max);
}

}  // namespace
}  // namespace tollgate
