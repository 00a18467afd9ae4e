#include "engine/money/payments.h"

#include <gtest/gtest.h>

#include "engine/money/account.h"
#include "engine/money/ledger.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

// Verifies a replayed payment id returns the first reply and recharges nothing.
TEST(MoneyPaymentRegistry, ReplayReturnsFirstReply) {
  PaymentRegistry payments;
  Ledger ledger;
  Account account(*PriceLadder::create({{15'000'000, 80}, {10'000'000, 90}, {0, 100}}));
  int applied = 0;
  const auto apply = [&]() -> std::expected<RechargeReply, std::string> {
    ++applied;
    auto result = account.recharge(10'000'000, kNow);
    if (!result) return std::unexpected(result.error());
    ledger.record_recharge("acme", *result, kNow, 0, "pay-1");
    return RechargeReply{result->credits, result->unit_price, result->balance};
  };
  const auto first = payments.recharge_once("pay-1", "acme", 10'000'000, apply);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (RechargeReply{111'111, 90, 10'000'000}));
  ASSERT_TRUE(account.try_debit(1).ok());  // the balance moves on; the replay does not
  const auto again = payments.recharge_once("pay-1", "acme", 10'000'000, apply);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(account.lot_count(), 1u);
  EXPECT_EQ(ledger.entries("acme").size(), 1u);
  EXPECT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments.find("pay-1")->amount, 10'000'000);
}

// Verifies reusing an id for another amount or contract, or an empty id, is an error.
TEST(MoneyPaymentRegistry, ConflictingReuseIsError) {
  PaymentRegistry payments;
  int applied = 0;
  const auto apply = [&]() -> std::expected<RechargeReply, std::string> {
    ++applied;
    return RechargeReply{1, 100, 100};
  };
  ASSERT_TRUE(payments.recharge_once("p", "acme", 100, apply).has_value());
  EXPECT_FALSE(payments.recharge_once("p", "acme", 200, apply).has_value());
  EXPECT_FALSE(payments.recharge_once("p", "other", 100, apply).has_value());
  EXPECT_FALSE(payments.recharge_once("", "acme", 100, apply).has_value());
  EXPECT_EQ(applied, 1);
  EXPECT_FALSE(payments.find("nope").has_value());
}

// Verifies a failed recharge records nothing, so the id may be retried.
TEST(MoneyPaymentRegistry, FailedApplyIsNotRecorded) {
  PaymentRegistry payments;
  const auto failing = []() -> std::expected<RechargeReply, std::string> {
    return std::unexpected("boom");
  };
  EXPECT_FALSE(payments.recharge_once("p", "acme", 100, failing).has_value());
  EXPECT_EQ(payments.size(), 0u);
  const auto ok = []() -> std::expected<RechargeReply, std::string> {
    return RechargeReply{1, 100, 100};
  };
  EXPECT_TRUE(payments.recharge_once("p", "acme", 100, ok).has_value());
}

}  // namespace
}  // namespace tollgate
