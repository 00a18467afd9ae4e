#include "engine/money/payments.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "engine/money/account.h"
#include "engine/money/ledger.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

// Verifies an added payment id is found with its contract, amount and
// reply, and a second add of the same id changes nothing (recovery and a
// replayed record may both add it).
TEST(MoneyPaymentRegistry, AddKeepsTheFirstRecord) {
  PaymentRegistry payments;
  const PaymentRecord first{"acme", 10'000'000, RechargeReply{111'111, 90, 10'000'000}};
  EXPECT_TRUE(payments.add("pay-1", first));
  EXPECT_FALSE(payments.add("pay-1", PaymentRecord{"other", 5, RechargeReply{1, 5, 5}}));
  ASSERT_TRUE(payments.find("pay-1").has_value());
  EXPECT_EQ(*payments.find("pay-1"), first);
  EXPECT_FALSE(payments.find("nope").has_value());
  EXPECT_EQ(payments.size(), 1u);
}

// Verifies a recharge applied as the daemon applies it records the reply
// the client was given: credits, unit price and the balance after.
TEST(MoneyPaymentRegistry, RecordsTheRechargeReply) {
  PaymentRegistry payments;
  Ledger ledger;
  Account account(*PriceLadder::create({{15'000'000, 80}, {10'000'000, 90}, {0, 100}}));
  ASSERT_TRUE(apply_recharge(account, ledger, &payments, "acme", 10'000'000, kNow, 0, "pay-1").has_value());
  const auto record = payments.find("pay-1");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(*record, (PaymentRecord{"acme", 10'000'000, RechargeReply{111'111, 90, 10'000'000}}));
  EXPECT_EQ(account.lot_count(), 1u);
  EXPECT_EQ(ledger.entries("acme").size(), 1u);
  EXPECT_TRUE(check_invariant(ledger, "acme", account.balance()).has_value());
}

// Verifies for_each visits every record once.
TEST(MoneyPaymentRegistry, ForEachVisitsEveryRecord) {
  PaymentRegistry payments;
  ASSERT_TRUE(payments.add("a", PaymentRecord{"acme", 100, RechargeReply{1, 100, 100}}));
  ASSERT_TRUE(payments.add("b", PaymentRecord{"beta", 200, RechargeReply{2, 100, 200}}));
  std::map<std::string, int64_t> seen;
  payments.for_each([&](const std::string& id, const PaymentRecord& r) { seen[id] += r.amount; });
  EXPECT_EQ(seen, (std::map<std::string, int64_t>{{"a", 100}, {"b", 200}}));
}

}  // namespace
}  // namespace tollgate
