#include "engine/money/account.h"

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "support/recharge.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

PriceLadder standard_ladder() {
  return *PriceLadder::create({{15'000'000, 80}, {10'000'000, 90}, {0, 100}});
}

// Verifies the seed case: 150,000.00 buys 187,500 credits at 0.80, no wallet.
TEST(MoneyAccount, RechargeAtTopStep) {
  Account account(standard_ladder());
  const auto result = apply_recharge(account, 15'000'000, kNow);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->lot, 0u);
  EXPECT_EQ(result->credits, 187'500);
  EXPECT_EQ(result->unit_price, 80);
  EXPECT_EQ(result->wallet, 0);
  EXPECT_EQ(result->balance, 15'000'000);
  EXPECT_EQ(account.credits(), 187'500);
}

// Verifies the seed case: 100,000.00 buys 111,111 credits at 0.90, wallet 0.10.
TEST(MoneyAccount, RechargeLeavesWallet) {
  Account account(standard_ladder());
  const auto result = apply_recharge(account, 10'000'000, kNow);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->credits, 111'111);
  EXPECT_EQ(result->unit_price, 90);
  EXPECT_EQ(result->wallet, 10);
  EXPECT_EQ(account.wallet(), 10);
  EXPECT_EQ(account.balance(), 10'000'000);
}

// Verifies the wallet joins the next top-up's money but not its price step.
TEST(MoneyAccount, WalletCarriesOver) {
  Account account(standard_ladder());
  ASSERT_TRUE(apply_recharge(account, 10'000'000, kNow).has_value());
  const auto second = apply_recharge(account, 10'000'000, kNow + 1);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->lot, 1u);
  EXPECT_EQ(second->unit_price, 90);  // 10,000,000 alone, not 10,000,010
  EXPECT_EQ(second->credits, (10'000'000 + 10) / 90);
  EXPECT_EQ(second->wallet, (10'000'000 + 10) % 90);
  EXPECT_EQ(account.balance(), 20'000'000);
  EXPECT_EQ(account.credits(), 111'111 + (10'000'000 + 10) / 90);

  // A small top-up that does not reach a step still gets the wallet.
  Account small(PriceLadder::flat(100));
  ASSERT_TRUE(apply_recharge(small, 150, kNow).has_value());  // 1 credit, wallet 50
  const auto next = apply_recharge(small, 60, kNow);           // 110 -> 1 credit, wallet 10
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->credits, 1);
  EXPECT_EQ(next->wallet, 10);
  EXPECT_EQ(small.balance(), 210);
}

// Verifies recharges with no or negative money, or that would overflow, change nothing.
TEST(MoneyAccount, RechargeRejectsBadAmounts) {
  Account account(PriceLadder::flat(1));
  EXPECT_FALSE(apply_recharge(account, 0, kNow).has_value());
  EXPECT_FALSE(apply_recharge(account, -5, kNow).has_value());
  const int64_t max = std::numeric_limits<int64_t>::max();
  const auto full = apply_recharge(account, max, kNow);
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->credits, max);
  EXPECT_EQ(account.balance(), max);
  EXPECT_FALSE(apply_recharge(account, 1, kNow).has_value());  // lifetime top-ups would overflow
  EXPECT_EQ(account.lot_count(), 1u);
  EXPECT_EQ(account.balance(), max);
  // Spending does not make room: the bound is lifetime top-ups.
  ASSERT_TRUE(account.try_debit(max).ok());
  EXPECT_EQ(account.balance(), 0);
  EXPECT_FALSE(apply_recharge(account, 1, kNow).has_value());
}

// Verifies huge credit counts and prices stay exact.
TEST(MoneyAccount, HugeAmountsExact) {
  Account account(PriceLadder::flat(3));
  const int64_t max = std::numeric_limits<int64_t>::max();
  const auto result = apply_recharge(account, max, kNow);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->credits, max / 3);
  EXPECT_EQ(result->wallet, max % 3);
  EXPECT_EQ(account.balance(), max);
  const DebitResult debit = account.try_debit(max / 3 - 1);
  ASSERT_TRUE(debit.ok());
  EXPECT_EQ(account.credits(), 1);
  EXPECT_EQ(account.balance(), 3 + max % 3);
  EXPECT_FALSE(account.try_debit(2).ok());
  EXPECT_EQ(account.try_debit(std::numeric_limits<int64_t>::max()).status,
            DebitStatus::kInsufficient);
}

// Verifies a debit spanning two lots at different prices takes oldest first.
TEST(MoneyAccount, DebitSpansTwoLots) {
  Account account(standard_ladder());
  ASSERT_TRUE(apply_recharge(account, 1'000, kNow).has_value());        // 10 credits at 100
  ASSERT_TRUE(apply_recharge(account, 15'000'000, kNow).has_value());   // 187,500 at 80
  const DebitResult debit = account.try_debit(14);
  ASSERT_TRUE(debit.ok());
  ASSERT_EQ(debit.taken().size(), 2u);
  EXPECT_EQ(debit.taken()[0], (DebitSpan{0, 10}));
  EXPECT_EQ(debit.taken()[1], (DebitSpan{1, 4}));
  EXPECT_EQ(account.credits(), 187'496);
  EXPECT_EQ(account.balance(), 15'001'000 - 10 * 100 - 4 * 80);
  EXPECT_EQ(account.lot(0)->remaining(), 0);
  EXPECT_EQ(account.lot(1)->debited, 4);
}

// Verifies the split by lot price a debit reports (PriceSplit, what a
// decision's lots carry): one price; two, where lots of the first price
// recurring after the second count with the first; three, where the first
// price's credits stay exact and the rest is their money. The money always
// equals the balance's fall. Recorded takes (a HOLD) split the same.
TEST(MoneyAccount, TakeReportsTheSplitByLotPrice) {
  const PriceLadder ladder = *PriceLadder::create({{5'000, 5}, {1'000, 8}, {0, 10}});
  auto take = [](Account& account, int64_t cost, bool recorded) {
    PriceSplit split;
    const int64_t before = account.balance();
    EXPECT_TRUE(account.reserve(cost, kNow));
    if (recorded) {
      EXPECT_TRUE(account.take_reserved_recorded(cost, &split).ok());
    } else {
      account.take_reserved(cost, &split);
    }
    EXPECT_EQ(split.taken, cost);
    int64_t money = split.charge.credits * split.charge.price;
    if (split.prices == LotPrices::kTwo) money += (cost - split.charge.credits) * split.charge.rest;
    if (split.prices == LotPrices::kMany) money += split.charge.rest;
    EXPECT_EQ(money, before - account.balance());
    return split;
  };
  for (const bool recorded : {false, true}) {
    SCOPED_TRACE(recorded);
    Account account(ladder);
    ASSERT_TRUE(apply_recharge(account, 100, kNow).has_value());    // lot 0: 10 credits at 10
    ASSERT_TRUE(apply_recharge(account, 1'000, kNow).has_value());  // lot 1: 125 at 8
    ASSERT_TRUE(apply_recharge(account, 50, kNow).has_value());     // lot 2: 5 at 10
    ASSERT_TRUE(apply_recharge(account, 5'000, kNow).has_value());  // lot 3: 1,000 at 5
    PriceSplit one = take(account, 3, recorded);
    EXPECT_EQ(one.prices, LotPrices::kOne);
    EXPECT_EQ(one.charge.price, 10);
    EXPECT_EQ(one.charge.credits, 3);
    PriceSplit two = take(account, 9, recorded);  // 7 at 10, 2 at 8
    EXPECT_EQ(two.prices, LotPrices::kTwo);
    EXPECT_EQ(two.charge.price, 10);
    EXPECT_EQ(two.charge.credits, 7);
    EXPECT_EQ(two.charge.rest, 8);
    PriceSplit many = take(account, 123 + 5 + 10, recorded);  // 123 at 8, 5 at 10, 10 at 5
    EXPECT_EQ(many.prices, LotPrices::kMany);
    EXPECT_EQ(many.charge.price, 8);
    EXPECT_EQ(many.charge.credits, 123);
    EXPECT_EQ(many.charge.rest, 5 * 10 + 10 * 5);
  }
  Account account(ladder);
  ASSERT_TRUE(apply_recharge(account, 100, kNow).has_value());    // 10 at 10
  ASSERT_TRUE(apply_recharge(account, 1'000, kNow).has_value());  // 125 at 8
  ASSERT_TRUE(apply_recharge(account, 50, kNow).has_value());     // 5 at 10
  PriceSplit back = take(account, 140, false);                    // 10 at 10, 125 at 8, 5 at 10
  EXPECT_EQ(back.prices, LotPrices::kTwo);
  EXPECT_EQ(back.charge.price, 10);
  EXPECT_EQ(back.charge.credits, 15);
  EXPECT_EQ(back.charge.rest, 8);
}

// Verifies a debit that cannot be covered takes nothing; cost 0 and negative costs.
TEST(MoneyAccount, DebitAllOrNothing) {
  Account account(PriceLadder::flat(10));
  ASSERT_TRUE(apply_recharge(account, 50, kNow).has_value());  // 5 credits
  ASSERT_TRUE(apply_recharge(account, 30, kNow).has_value());  // 3 credits
  const DebitResult denied = account.try_debit(9);
  EXPECT_EQ(denied.status, DebitStatus::kInsufficient);
  EXPECT_TRUE(denied.taken().empty());
  EXPECT_EQ(account.credits(), 8);
  EXPECT_EQ(account.balance(), 80);
  EXPECT_TRUE(account.try_debit(0).ok());
  EXPECT_TRUE(account.try_debit(0).taken().empty());
  EXPECT_EQ(account.try_debit(-1).status, DebitStatus::kInvalidCost);
  EXPECT_TRUE(account.try_debit(8).ok());
  EXPECT_EQ(account.balance(), 0);
  EXPECT_FALSE(account.try_debit(1).ok());
  // Empty account.
  Account empty(PriceLadder::flat(10));
  EXPECT_EQ(empty.try_debit(1).status, DebitStatus::kInsufficient);
  EXPECT_EQ(empty.balance(), 0);
}

// Verifies a recorded debit (HOLD) takes from any number of lots: seven lots
// of different prices, spans recorded oldest first (spilled past
// kInlineDebitSpans), and a refund of those spans restores every lot and the
// balance exactly.
TEST(MoneyAccount, RecordedDebitSpansAnyNumberOfLots) {
  Account account(PriceLadder::flat(1));
  const int64_t prices[] = {100, 90, 80, 70, 60, 50, 40};
  for (int64_t price : prices) {
    account.set_ladder(PriceLadder::flat(price));
    ASSERT_TRUE(apply_recharge(account, 2 * price, kNow).has_value());  // two credits each
  }
  const int64_t balance_before = account.balance();
  EXPECT_EQ(balance_before, 2 * (100 + 90 + 80 + 70 + 60 + 50 + 40));
  const DebitResult debit = account.try_debit(13);  // 6 lots whole, 1 credit of the 7th
  ASSERT_TRUE(debit.ok());
  ASSERT_EQ(debit.span_count, 7u);
  const std::span<const DebitSpan> taken = debit.taken();
  ASSERT_EQ(taken.size(), 7u);
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(taken[i], (DebitSpan{i, 2}));
  EXPECT_EQ(taken[6], (DebitSpan{6, 1}));
  EXPECT_EQ(account.credits(), 1);
  EXPECT_EQ(account.balance(), 40);
  EXPECT_EQ(account.refund(taken), RefundStatus::kOk);
  EXPECT_EQ(account.balance(), balance_before);
  for (uint32_t i = 0; i < 7; ++i) EXPECT_EQ(account.lot(i)->remaining(), 2);
  // Up to kInlineDebitSpans lots the spans stay inline (no allocation).
  const DebitResult four = account.try_debit(8);
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(four.taken().size(), static_cast<size_t>(kInlineDebitSpans));
  EXPECT_EQ(four.spilled, nullptr);
}

// Verifies a refund returns credits to the lot they came from, which is used first again.
TEST(MoneyAccount, RefundToOriginalLot) {
  Account account(standard_ladder());
  ASSERT_TRUE(apply_recharge(account, 1'000, kNow).has_value());       // lot 0: 10 at 100
  ASSERT_TRUE(apply_recharge(account, 10'000'000, kNow).has_value());  // lot 1: 111,111 at 90
  const DebitResult debit = account.try_debit(12);               // 10 from lot 0, 2 from lot 1
  ASSERT_TRUE(debit.ok());
  const int64_t after_debit = account.balance();
  ASSERT_TRUE(account.try_debit(5).ok());  // lot 1 only
  EXPECT_EQ(account.refund(debit.taken()), RefundStatus::kOk);
  EXPECT_EQ(account.lot(0)->remaining(), 10);
  EXPECT_EQ(account.lot(0)->refunded, 10);
  EXPECT_EQ(account.lot(1)->refunded, 2);
  EXPECT_EQ(account.balance(), after_debit + 10 * 100 + 2 * 90 - 5 * 90);
  // The refunded old lot is again the first one debited.
  const DebitResult again = account.try_debit(1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.taken()[0], (DebitSpan{0, 1}));
}

// Verifies refunds of unknown lots or of more than was debited are refused and skipped.
TEST(MoneyAccount, RefundRejectsInvalidSpans) {
  Account account(PriceLadder::flat(10));
  ASSERT_TRUE(apply_recharge(account, 100, kNow).has_value());
  ASSERT_TRUE(account.try_debit(3).ok());
  const std::vector<DebitSpan> unknown_lot = {{7, 1}};
  EXPECT_EQ(account.refund(unknown_lot), RefundStatus::kInvalidSpan);
  const std::vector<DebitSpan> too_much = {{0, 4}};
  EXPECT_EQ(account.refund(too_much), RefundStatus::kInvalidSpan);
  const std::vector<DebitSpan> negative = {{0, -1}};
  EXPECT_EQ(account.refund(negative), RefundStatus::kInvalidSpan);
  EXPECT_EQ(account.credits(), 7);
  const std::vector<DebitSpan> mixed = {{0, 2}, {9, 1}};
  EXPECT_EQ(account.refund(mixed), RefundStatus::kInvalidSpan);
  EXPECT_EQ(account.credits(), 9);  // the valid span was applied
}

// Verifies lots beyond the first storage chunks stay addressable and exact.
TEST(MoneyAccount, ManyLotsAcrossChunks) {
  Account account(PriceLadder::flat(1));
  constexpr int kLots = 300;
  for (int i = 0; i < kLots; ++i) ASSERT_TRUE(apply_recharge(account, i + 1, kNow + i).has_value());
  EXPECT_EQ(account.lot_count(), static_cast<uint32_t>(kLots));
  EXPECT_EQ(account.credits(), kLots * (kLots + 1) / 2);
  for (int i = 0; i < kLots; ++i) {
    const auto lot = account.lot(static_cast<uint32_t>(i));
    ASSERT_TRUE(lot.has_value());
    EXPECT_EQ(lot->credits, i + 1);
    EXPECT_EQ(lot->created, kNow + i);
  }
  EXPECT_FALSE(account.lot(kLots).has_value());
  // Drain in order; the hint skips emptied lots.
  for (int i = 0; i < kLots; ++i) {
    const DebitResult debit = account.try_debit(i + 1);
    ASSERT_TRUE(debit.ok()) << i;
    ASSERT_EQ(debit.taken().size(), 1u);
    EXPECT_EQ(debit.taken()[0].lot, static_cast<uint32_t>(i));
  }
  EXPECT_EQ(account.balance(), 0);
  const AccountSnapshot snapshot = account.snapshot();
  EXPECT_EQ(snapshot.lots.size(), static_cast<size_t>(kLots));
  EXPECT_EQ(snapshot.balance, 0);
}

// Verifies a new ladder prices later top-ups only.
TEST(MoneyAccount, SetLadderAffectsLaterRecharges) {
  Account account(PriceLadder::flat(100));
  ASSERT_TRUE(apply_recharge(account, 1'000, kNow).has_value());
  account.set_ladder(PriceLadder::flat(50));
  const auto second = apply_recharge(account, 1'000, kNow);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->unit_price, 50);
  EXPECT_EQ(account.lot(0)->unit_price, 100);
  EXPECT_EQ(account.balance(), 2'000);
}

// Verifies a reserved debit takes from any number of lots: 13 credits in 13
// one-credit lots pay for a cost of 13, exactly, oldest lot first.
TEST(MoneyAccount, ReservedDebitSpansAnyNumberOfLots) {
  Account account(PriceLadder::flat(7));
  for (int i = 0; i < 13; ++i) ASSERT_TRUE(apply_recharge(account, 7, kNow).has_value());
  EXPECT_EQ(account.credits(), 13);
  EXPECT_FALSE(account.reserve(14));
  ASSERT_TRUE(account.reserve(13));
  EXPECT_FALSE(account.reserve(1));  // everything is reserved
  account.take_reserved(13);
  EXPECT_EQ(account.credits(), 0);
  EXPECT_EQ(account.balance(), 0);
  for (uint32_t i = 0; i < 13; ++i) EXPECT_EQ(account.lot(i)->remaining(), 0);
  ASSERT_TRUE(apply_recharge(account, 70, kNow).has_value());
  ASSERT_TRUE(account.reserve(4));
  account.release(4);  // a call denied after reserving: nothing was taken
  EXPECT_EQ(account.credits(), 10);
  EXPECT_EQ(account.lot(13)->debited, 0);
  EXPECT_TRUE(account.reserve(10));
}

// Verifies preview_debit says what a debit would do: covered, the balance
// after it, and how many lots it would take from.
TEST(MoneyAccount, PreviewDebit) {
  Account account(standard_ladder());
  ASSERT_TRUE(apply_recharge(account, 1'000, kNow).has_value());       // 10 at 100
  ASSERT_TRUE(apply_recharge(account, 15'000'000, kNow).has_value());  // 187,500 at 80
  const auto p = account.preview_debit(14);
  EXPECT_TRUE(p.covered);
  EXPECT_EQ(p.lots, 2u);
  EXPECT_EQ(p.balance, 15'001'000 - 10 * 100 - 4 * 80);
  ASSERT_TRUE(account.reserve(14));
  account.take_reserved(14);
  EXPECT_EQ(account.balance(), p.balance);
  EXPECT_FALSE(account.preview_debit(187'497).covered);
  EXPECT_EQ(account.preview_debit(0).balance, account.balance());
}

}  // namespace
}  // namespace tollgate
