// Lot expiry through the daemon's verbs and the embedded store: CHECK at the
// instant, RECHARGE stamping the lot, CONTRACT showing it, and recovery from
// journal + checkpoint reproducing every expire entry exactly once, also
// after a crash between the expiry and its ledger entry. Simulated time; real
// files in a temp dir.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <algorithm>
#include <memory>

#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"
#include "unit/persist/files/store_test_util.h"

namespace tollgate::persist {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kHour = 3'600 * kNanosPerSecond;

EngineOptions options(LotValidity validity) {
  EngineOptions o;
  o.track_changes = true;
  PolicySpec acme;
  acme.name = "acme";
  acme.limits = {tollgate::testing::quota("daily", 1000)};
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  rules.pricing_name = "flat";
  rules.lot_validity = validity;
  rules.lot_zone = "UTC";
  acme.rules = rules;
  o.contracts.push_back(acme);
  return o;
}

struct World {
  explicit World(const std::string& dir, Nanos start, LotValidity validity = LotValidity{.days = 0, .fixed = kHour}) {
    clock.set(start);
    auto e = Engine::create(options(validity), reclaimer, kStart, state);
    EXPECT_TRUE(e.has_value());
    engine = std::move(*e);
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    EmbeddedStoreOptions so;
    so.dir = dir;
    so.clock = &clock;
    so.snapshot_interval = 3600 * kNanosPerSecond;
    store = std::make_unique<EmbeddedStore>(so, state, [this]() -> Engine& { return *engine; });
    auto r = store->recover(clock.now());
    EXPECT_TRUE(r.has_value()) << r.error();
    admin->set_durability(store.get());
  }
  Decision check(Nanos now) {
    CheckRequest r;
    r.key = "acme";
    return engine->check(r, now, 0);
  }
  Account& account() { return *state.find("acme")->account(); }
  size_t expire_entries() {
    const auto entries = state.ledger().entries("acme");
    return static_cast<size_t>(std::ranges::count_if(entries, [](const LedgerEntry& e) {
      return e.kind == LedgerKind::kExpire;
    }));
  }
  void expect_invariant() {
    admin->flush_debits(clock.now());
    EXPECT_TRUE(check_invariant(state.ledger(), "acme", account().balance()).has_value());
  }

  ManualClock clock{kStart};
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<EmbeddedStore> store;
};

// Verifies RECHARGE stamps the lot with its instant, CONTRACT shows it, a
// CHECK one nanosecond before it spends and at it is denied BALANCE with no
// sweep run, and a restart from journal + checkpoint brings back the same
// entries (one expire) and balance, adding nothing when expiry runs again.
TEST(LotExpiryPersistence, RecoveryReproducesExpireEntriesOnce) {
  files::testing::TempDir dir;
  std::vector<LedgerEntry> before;
  {
    World w(dir.path(), kStart);
    ASSERT_TRUE(w.admin->recharge("acme", "1000", "pay-1", 0, kStart).has_value());  // 10 credits
    EXPECT_EQ(w.account().lot(0)->expires, kStart + kHour);
    auto fields = w.admin->describe("acme", kStart);
    ASSERT_TRUE(fields.has_value());
    auto field = [&](std::string_view name) {
      for (const auto& [k, v] : *fields)
        if (k == name) return v;
      return std::string("(missing)");
    };
    EXPECT_EQ(field("lot_validity"), "1h");
    EXPECT_EQ(field("lot.0.credits"), "10");
    EXPECT_EQ(field("lot.0.expires"), "2023-11-14T23:13:20+00:00");  // kStart + 1 h

    EXPECT_TRUE(w.check(kStart + kHour - 1).allowed);
    w.expect_invariant();
    const Decision at = w.check(kStart + kHour);
    EXPECT_FALSE(at.allowed);
    EXPECT_EQ(at.code, Code::kBalance);
    w.clock.set(kStart + kHour);
    w.expect_invariant();
    EXPECT_EQ(w.account().balance(), 0);
    EXPECT_EQ(w.expire_entries(), 1u);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    before = w.state.ledger().entries("acme");
  }
  World w(dir.path(), kStart + 2 * kHour);
  EXPECT_EQ(w.state.ledger().entries("acme"), before);
  EXPECT_EQ(w.account().balance(), 0);
  EXPECT_EQ(w.account().lot(0)->expires, kStart + kHour);
  w.expect_invariant();
  EXPECT_EQ(w.state.ledger().entries("acme"), before);  // expiring again adds nothing
  EXPECT_EQ(w.expire_entries(), 1u);
}

// Verifies a crash after a lot expired in memory but before the checkpoint
// that makes its entry durable neither loses nor duplicates money: recovery
// restores the lot as last made durable and the first tick at or after the
// instant expires it again, once.
TEST(LotExpiryPersistence, CrashBetweenExpiryAndItsEntry) {
  files::testing::TempDir dir;
  {
    World w(dir.path(), kStart);
    ASSERT_TRUE(w.admin->recharge("acme", "1000", "pay-1", 0, kStart).has_value());
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(w.check(kStart + i).allowed);
    ASSERT_TRUE(w.store->checkpoint(kStart + 10).has_value());
    EXPECT_TRUE(w.account().expire_due(kStart + kHour));  // expired, flushed, never made durable
    w.clock.set(kStart + kHour);
    w.expect_invariant();
    EXPECT_EQ(w.expire_entries(), 1u);
  }  // crash: no checkpoint
  World w(dir.path(), kStart + kHour + 5);
  EXPECT_EQ(w.account().balance(), 700);  // as of the checkpoint
  EXPECT_EQ(w.expire_entries(), 0u);
  w.expect_invariant();  // the control plane's tick
  EXPECT_EQ(w.account().balance(), 0);
  EXPECT_EQ(w.expire_entries(), 1u);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  const auto entries = w.state.ledger().entries("acme");
  ASSERT_EQ(entries.back().kind, LedgerKind::kExpire);
  EXPECT_EQ(entries.back().amount, -700);
}

// Verifies a hold open across the instant and cancelled after it, then a
// restart: the forfeited credits come back as the same refund and expire
// entries (folded into the lot's counters), the balance is unchanged.
TEST(LotExpiryPersistence, HoldCancelledAfterTheInstantSurvivesARestart) {
  files::testing::TempDir dir;
  std::vector<LedgerEntry> before;
  {
    World w(dir.path(), kStart);
    ASSERT_TRUE(w.admin->recharge("acme", "1000", "pay-1", 0, kStart).has_value());
    CheckRequest r;
    r.key = "acme";
    r.id = "h1";
    r.cost = 4;
    r.hold_ms = 2 * 3'600'000;  // open past the lot's instant
    ASSERT_TRUE(w.engine->check(r, kStart + 1, 0).allowed);
    w.clock.set(kStart + kHour);
    w.expect_invariant();
    EXPECT_EQ(w.account().balance(), 0);  // 6 expired, 4 held
    ASSERT_TRUE(w.engine->settle("acme", "h1", false, kStart + kHour + 1));
    w.clock.set(kStart + kHour + 2);
    w.expect_invariant();
    EXPECT_EQ(w.account().balance(), 0);
    EXPECT_EQ(w.expire_entries(), 2u);  // 600 at the instant, 400 at the cancel
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    before = w.state.ledger().entries("acme");
  }
  World w(dir.path(), kStart + 2 * kHour);
  EXPECT_EQ(w.state.ledger().entries("acme"), before);
  w.expect_invariant();
  EXPECT_EQ(w.state.ledger().entries("acme"), before);
  EXPECT_EQ(w.account().balance(), 0);
}

// Verifies a reload-style change of lot_validity leaves bought lots alone:
// a lot keeps the instant it was bought with; new lots get the new validity.
TEST(LotExpiryPersistence, ValidityChangeKeepsExistingLots) {
  files::testing::TempDir dir;
  {
    World w(dir.path(), kStart);
    ASSERT_TRUE(w.admin->recharge("acme", "1000", "pay-1", 0, kStart).has_value());
    ASSERT_TRUE(w.store->checkpoint(kStart).has_value());
  }
  World w(dir.path(), kStart + 10, LotValidity{.days = 2, .fixed = 0});
  ASSERT_TRUE(w.admin->recharge("acme", "500", "pay-2", 0, kStart + 10).has_value());
  EXPECT_EQ(w.account().lot(0)->expires, kStart + kHour);
  EXPECT_EQ(w.account().lot(1)->expires, kStart + 10 + 48 * kHour);
}

}  // namespace
}  // namespace tollgate::persist
