// StateRestorer::ledger on entries that name lots no recharge created, or
// whose amounts overflow the per-lot sums (found by
// tests/fuzz/store_recovery_fuzz.cc).
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/engine.h"
#include "persist/state_restorer.h"

namespace tollgate::persist {
namespace {

constexpr Nanos kStart = tollgate::testing::kTestStart;

struct Restoring {
  // `credits`: what the stored lot says it bought (2,000 at 100 buys 20).
  explicit Restoring(StateRestorer::Overdraft overdraft = StateRestorer::Overdraft::kError, int64_t credits = 20) {
    EngineOptions o;
    PolicySpec acme;
    acme.name = "acme";
    acme.limits = {tollgate::testing::quota("daily", 1000)};
    ContractRules rules;
    rules.pricing = PriceLadder::flat(100);
    acme.rules = rules;
    o.contracts.push_back(acme);
    engine = std::move(*Engine::create(o, reclaimer, kStart, state));
    restorer = std::make_unique<StateRestorer>(state, *engine, kStart, overdraft);
    // lot 0: 2000 recharged at 100 per credit, and its ledger entry
    ContractImage image;
    image.key = "acme";
    image.has_account = true;
    LotState lot;
    lot.amount = 2000;
    lot.unit_price = 100;
    lot.credits = credits;
    image.lots.push_back(lot);
    restorer->contract(image);
    restorer->ledger({entry(1, LedgerKind::kRecharge, 2000, 0)});
  }
  static LedgerEntry entry(uint64_t seq, LedgerKind kind, int64_t amount, int64_t lot) {
    LedgerEntry e;
    e.seq = seq;
    e.contract = "acme";
    e.kind = kind;
    e.amount = amount;
    e.lot = lot;
    return e;
  }
  int64_t balance() { return state.find("acme")->account()->balance(); }

  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<StateRestorer> restorer;
};

// Verifies a debit of a lot the account never had is an error, not an
// allocation sized by the lot index: before, `lots.resize(e.lot + 1)` with
// lot 2^40 threw std::length_error / bad_alloc out of recovery and the
// daemon aborted at start (ASan: requested allocation size exceeds maximum).
TEST(StateRestorerLedger, DebitOfALotNeverRechargedIsAnError) {
  Restoring r;
  r.restorer->ledger({Restoring::entry(2, LedgerKind::kDebit, -100, int64_t{1} << 40),
                      Restoring::entry(3, LedgerKind::kDebit, -100, 0)});
  r.restorer->finish();
  EXPECT_EQ(r.restorer->stats().errors, 1u);
  EXPECT_EQ(r.balance(), 1900);
  EXPECT_TRUE(check_invariant(r.state.ledger(), "acme", r.balance()).has_value());
}

// Verifies amounts that would overflow a lot's sums are an error, not
// signed overflow (undefined behaviour; UBSan aborts).
TEST(StateRestorerLedger, AmountsOverflowingTheSumsAreAnError) {
  Restoring r;
  r.restorer->ledger({Restoring::entry(2, LedgerKind::kDebit, INT64_MIN, 0),
                      Restoring::entry(3, LedgerKind::kRefund, INT64_MAX, 0),
                      Restoring::entry(4, LedgerKind::kRefund, INT64_MAX, 0)});
  EXPECT_GE(r.restorer->stats().errors, 2u);
}

// Verifies a ledger that debits more than the lots hold (25 credits of a
// 20-credit lot) is an error for the embedded store — one daemon never
// overdraws, so it is damage and recovery refuses — and the Redis store's
// documented overdraft (several daemons spent one balance) for the other:
// balance 0, counted. Found by the store_recovery fuzzer: a crafted journal
// started with Σ ledger = −7.2e16 and balance 0.
TEST(StateRestorerLedger, OverdraftIsAnErrorUnlessTheBalanceIsShared) {
  {
    Restoring r;
    r.restorer->ledger({Restoring::entry(2, LedgerKind::kDebit, -2500, 0)});
    r.restorer->finish();
    EXPECT_GE(r.restorer->stats().errors, 1u);  // the overdraft, and Σ ledger ≠ balance
    EXPECT_EQ(r.restorer->stats().overdrafts, 0u);
  }
  Restoring shared(StateRestorer::Overdraft::kZeroBalance);
  shared.restorer->ledger({Restoring::entry(2, LedgerKind::kDebit, -2500, 0)});
  shared.restorer->finish();
  EXPECT_EQ(shared.restorer->stats().errors, 0u);
  EXPECT_EQ(shared.restorer->stats().overdrafts, 1u);
  EXPECT_EQ(shared.balance(), 0);
}

// Verifies money that is not a whole number of credits at the lot's price (a
// debit of 150 on a lot at 100 per credit) is an error: the lot's counters
// count credits, so it would be floored away and the balance would differ
// from Σ ledger. Found by the store_recovery fuzzer (Σ ledger 154,616 against
// a balance of 154,600 after recovery).
TEST(StateRestorerLedger, MoneyThatIsNotWholeCreditsIsAnError) {
  Restoring r;
  r.restorer->ledger({Restoring::entry(2, LedgerKind::kDebit, -150, 0)});
  r.restorer->finish();
  EXPECT_GE(r.restorer->stats().errors, 1u);  // the lot, and Σ ledger ≠ balance
  Restoring whole;
  whole.restorer->ledger({Restoring::entry(2, LedgerKind::kDebit, -200, 0),
                          Restoring::entry(3, LedgerKind::kRefund, 100, 0)});
  whole.restorer->finish();
  EXPECT_EQ(whole.restorer->stats().errors, 0u);
  EXPECT_EQ(whole.balance(), 1900);
  EXPECT_TRUE(check_invariant(whole.state.ledger(), "acme", whole.balance()).has_value());
}

// Verifies a stored lot with an impossible price, for a contract whose
// pricing left the config, is an error and not a crash: PriceLadder::flat
// aborted on it (store_recovery fuzzer, a mutated snapshot).
TEST(StateRestorerLedger, LotWithoutAPositivePriceIsAnError) {
  Restoring r;
  ContractImage ghost;
  ghost.key = "ghost";  // in no config: it gets a flat ladder from its first lot
  ghost.has_account = true;
  LotState lot;
  lot.amount = 100;
  lot.unit_price = 0;
  lot.credits = 1;
  ghost.lots.push_back(lot);
  r.restorer->contract(ghost);
  EXPECT_EQ(r.restorer->stats().errors, 1u);
  EXPECT_EQ(r.state.find("ghost")->account(), nullptr);
}

// Verifies lots whose credits do not add up to what their recharge paid (a
// lot of 2,000 at 100 per credit that says it holds 5 credits, with no debit
// in the ledger) are an error: the restorer started with Σ ledger 150,000
// against a balance of 47,600 (store_recovery fuzzer). finish() checks
// Σ ledger = balance for every account it restored.
TEST(StateRestorerLedger, BalanceThatIsNotTheLedgerIsAnError) {
  Restoring r(StateRestorer::Overdraft::kError, /*credits=*/5);  // 2,000 paid for 20 credits
  r.restorer->finish();
  EXPECT_EQ(r.restorer->stats().errors, 1u);
  EXPECT_EQ(r.balance(), 500);
}

}  // namespace
}  // namespace tollgate::persist
