// Account::add_lot against lots no recharge could have produced (found
// by tests/fuzz/store_recovery_fuzz.cc from a snapshot's contract image).
#include <gtest/gtest.h>

#include <cstdint>

#include "engine/money/account.h"
#include "engine/money/price_ladder.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

// Verifies a restored lot whose credits are worth more than the money ever
// recharged is refused. A recharge buys credits = (amount + wallet) /
// unit_price, so credits × unit_price never exceeds the recharged total;
// today add_lot checks signs and counters but not this, accepts 2^62
// credits at 100 per credit for a 1,500.00 lot, and balance() then
// overflows int64 (UBSan: signed integer overflow in Account::snapshot,
// reached from Ledger::flush_debits at the first checkpoint).
// DISABLED: the fix is a conservation check in Account::add_lot
// (daemon/engine/money/account.cc: Σ credits × unit_price + wallet <= Σ
// amounts, cumulative over the lots restored), in the money code the
// semantics helper of issue 9 is changing (the lot cap of item 19);
// refusing the lot makes recovery report it as a restore error.
TEST(AccountRestore, RefusesALotWorthMoreThanWasRecharged) {
  Account account(PriceLadder::flat(100));
  LotState lot;
  lot.index = 0;
  lot.amount = 150000;
  lot.unit_price = 100;
  lot.credits = int64_t{1} << 62;
  EXPECT_FALSE(account.add_lot(lot, 0).has_value());
  EXPECT_EQ(account.lot_count(), 0u);
}

// Verifies the wallet restored with a lot cannot hold money no recharge
// paid either. A recharge conserves money: Σ credits × unit_price over the
// lots + wallet == Σ amounts recharged (the wallet is the remainder below one
// unit price). Today a 2000 lot at 100 per credit (20 credits) restores with
// a wallet of 512, and the balance (2512) exceeds its ledger (2000).
TEST(AccountRestore, RefusesAWalletNoRechargePaidFor) {
  Account account(PriceLadder::flat(100));
  LotState lot;
  lot.index = 0;
  lot.amount = 2000;
  lot.unit_price = 100;
  lot.credits = 20;
  EXPECT_FALSE(account.add_lot(lot, 512).has_value());
  EXPECT_FALSE(account.add_lot(lot, INT64_MAX).has_value());
}

// Verifies a lot a real recharge produced is restored, wallet included.
TEST(AccountRestore, RestoresWhatARechargeProduced) {
  Account live(PriceLadder::flat(100));
  ASSERT_TRUE(apply_recharge(live, 150, 0).has_value());
  const auto lot = live.lot(0);
  ASSERT_TRUE(lot.has_value());
  Account restored(PriceLadder::flat(100));
  ASSERT_TRUE(restored.add_lot(*lot, live.wallet()).has_value());
  EXPECT_EQ(restored.balance(), live.balance());
  EXPECT_EQ(restored.balance(), 150);
}

}  // namespace
}  // namespace tollgate
