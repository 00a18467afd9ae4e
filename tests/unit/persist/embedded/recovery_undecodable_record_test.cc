// Recovery meeting a snapshot record that passes its checksum but does not
// decode (found by tests/fuzz/store_recovery_fuzz.cc).
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"
#include "persist/state_codec.h"
#include "persist/files/snapshot.h"
#include "unit/persist/files/store_test_util.h"

namespace tollgate::persist {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

// A priced contract over a storage dir; recover() is left to the test.
struct Daemon {
  explicit Daemon(const std::string& dir) {
    EngineOptions o;
    o.track_changes = true;
    PolicySpec acme;
    acme.name = "acme";
    acme.limits = {tollgate::testing::quota("daily", 1000)};
    ContractRules rules;
    rules.pricing = PriceLadder::flat(100);
    acme.rules = rules;
    o.contracts.push_back(acme);
    engine = std::move(*Engine::create(o, reclaimer, kStart, state));
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    EmbeddedStoreOptions so;
    so.dir = dir;
    so.clock = &clock;
    store = std::make_unique<EmbeddedStore>(so, state, [this]() -> Engine& { return *engine; });
  }
  ManualClock clock{kStart};
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<EmbeddedStore> store;
};

// Verifies a snapshot whose ledger record does not decode never starts the
// daemon with money that disagrees with its ledger. Today recovery logs
// "malformed ledger record", counts it in recovery_errors and starts: the
// contract image's lot is restored but no ledger entry, so the balance is
// the whole recharge (debits forgotten) and Σ ledger (0) != balance.
// Either refusing to start or restoring a consistent state passes.
// DISABLED: the fix belongs to EmbeddedStore::recover / StateRestorer
// (daemon/persist/embedded), part of the storage helper's "never start with less
// than was acknowledged" work in issue 9.
TEST(RecoveryUndecodableRecord, LedgerRecordThatDoesNotDecodeNeverStartsInconsistent) {
  files::testing::TempDir dir;
  {
    Daemon d(dir.path());
    ASSERT_TRUE(d.store->recover(d.clock.now()).has_value());
    d.admin->set_durability(d.store.get());
    ASSERT_TRUE(d.admin->recharge("acme", "10000", "pay-1", 0, d.clock.now()).has_value());
    CheckRequest r;
    r.key = "acme";
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(d.engine->check(r, d.clock.now()).allowed);
    d.admin->flush_debits(d.clock.now());
    ASSERT_TRUE(d.store->snapshot(d.clock.now()).has_value());
  }
  // Rewrite the newest snapshot with its ledger record's payload cut short
  // (a valid checksum over bytes that do not decode).
  std::vector<std::pair<uint8_t, std::string>> records;
  auto loaded = files::load_latest(dir.path(), [&](uint8_t type, std::string_view bytes) {
    records.emplace_back(type, std::string(bytes));
  });
  ASSERT_TRUE(loaded && loaded->loaded);
  bool cut = false;
  for (auto& [type, bytes] : records) {
    if (type == static_cast<uint8_t>(RecordType::kLedgerEntries) && !cut) {
      bytes.resize(bytes.size() - 1);
      cut = true;
    }
  }
  ASSERT_TRUE(cut);
  std::vector<files::SnapshotRecord> views;
  for (const auto& [type, bytes] : records) views.push_back({type, bytes});
  ASSERT_TRUE(files::write_snapshot(dir.path(), loaded->loaded->seq + 1, views).has_value());

  Daemon d(dir.path());
  auto recovered = d.store->recover(d.clock.now());
  if (!recovered) return;  // refusing to start is a correct answer
  const Account* account = d.state.find("acme")->account();
  ASSERT_NE(account, nullptr);
  EXPECT_TRUE(check_invariant(d.state.ledger(), "acme", account->balance()).has_value())
      << "balance " << account->balance() << " with " << d.state.ledger().entries("acme").size()
      << " ledger entries";
  EXPECT_EQ(account->balance(), 10000 - 300) << "the debits were forgotten";
}

}  // namespace
}  // namespace tollgate::persist
