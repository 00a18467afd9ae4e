// The embedded store's meaning layer (persist/): admin mutations durable
// before they apply, checkpoints, snapshots and recovery into a fresh engine,
// refusal while the disk fails. Simulated time; real files in a temp dir.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "engine/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded_store.h"
#include "persist/state_codec.h"
#include "store/faulty_file_system.h"
#include "store/journal.h"
#include "store_test_util.h"

namespace tollgate::persist {
namespace {

using tollgate::testing::quota;

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;


EngineOptions options() {
  EngineOptions o;
  o.track_changes = true;  // as with a store: checkpoints save changed keys
  PolicySpec acme;
  acme.name = "acme";
  acme.limits = {quota("daily", 1000)};
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  acme.rules = rules;
  o.contracts.push_back(acme);
  PolicySpec other;
  other.name = "other";
  other.limits = {quota("daily", 10)};
  other.rules = ContractRules{};
  o.contracts.push_back(other);
  PolicySpec ip;
  ip.name = "ip:*";
  ip.limits = {quota("ip", 5)};
  o.key_classes.push_back(ip);
  return o;
}

// One daemon's worth of state over a storage dir.
struct World {
  explicit World(const std::string& dir, store::FileSystem* fs = nullptr, EngineOptions o = options(),
                 Nanos start = kStart, CommitGate* gate = nullptr) {
    clock.set(start);
    auto e = Engine::create(o, reclaimer, kStart, state);
    EXPECT_TRUE(e.has_value());
    engine = std::move(*e);
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    EmbeddedStoreOptions so;
    so.dir = dir;
    so.fs = fs;
    so.clock = &clock;
    so.snapshot_interval = 3600 * kNanosPerSecond;
    so.gate = gate;
    store = std::make_unique<EmbeddedStore>(so, state, *admin, [this]() -> Engine& { return *engine; });
    auto r = store->recover(clock.now());
    EXPECT_TRUE(r.has_value()) << r.error();
    admin->set_durability(store.get());
  }
  Decision check(std::string_view key) {
    CheckRequest r;
    r.key = key;
    return engine->check(r, clock.now(), 0);
  }
  int64_t remaining(std::string_view key) {
    CheckRequest r;
    r.key = key;
    r.cost = 0;
    return engine->peek(r, clock.now()).remaining;
  }
  int64_t balance() { return state.find("acme")->account()->balance(); }

  ManualClock clock{kStart};
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<EmbeddedStore> store;
};

// Verifies admin mutations, checkpointed charges and dynamic keys come back
// after a restart, with the ledger and payment ids intact.
TEST(StatePersistence, RecoversAdminChangesChargesAndKeys) {
  store::testing::TempDir dir;
  std::vector<LedgerEntry> before;
  {
    World w(dir.path());
    ASSERT_TRUE(w.admin->recharge("acme", "10000", "pay-1", 7, w.clock.now()).has_value());
    ASSERT_TRUE(w.admin->suspend("other", "unpaid invoice", 7, w.clock.now()).has_value());
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(w.check("acme").allowed);
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(w.check("ip:1.2.3.4").allowed);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    before = w.state.ledger().entries("acme");
    EXPECT_EQ(w.balance(), 9700);
  }
  World w(dir.path());
  EXPECT_EQ(w.balance(), 9700);
  EXPECT_EQ(w.state.ledger().entries("acme"), before);
  EXPECT_TRUE(check_invariant(w.state.ledger(), "acme", w.balance()).has_value());
  EXPECT_EQ(w.state.find("other")->status(), ContractStatus::kSuspended);
  EXPECT_EQ(w.state.find("other")->reason(), "unpaid invoice");
  EXPECT_TRUE(w.state.payments().find("pay-1").has_value());
  EXPECT_EQ(w.remaining("acme"), 1000 - 3);
  EXPECT_EQ(w.remaining("ip:1.2.3.4"), 5 - 2);
  // A replayed payment id answers from its record and adds nothing.
  auto again = w.admin->recharge("acme", "10000", "pay-1", 7, w.clock.now());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(w.balance(), 9700);
  EXPECT_EQ(w.store->status().recovery_admin_applied, 2u);
}

// Verifies that while the disk refuses writes, money-changing admin commands
// are refused with nothing changed, charges keep being decided from memory,
// and once the disk recovers everything pending becomes durable; the refused
// recharge never comes back at recovery.
TEST(StatePersistence, RefusesAdminMutationsWhileTheDiskFails) {
  store::testing::TempDir dir;
  store::FaultyFileSystem fs;
  {
    World w(dir.path(), &fs);
    ASSERT_TRUE(w.admin->recharge("acme", "10000", "pay-1", 0, w.clock.now()).has_value());
    fs.add_fault({.op = store::FileOp::kSync, .error = ENOSPC, .sticky = true});
    auto refused = w.admin->recharge("acme", "5000", "pay-2", 0, w.clock.now());
    ASSERT_FALSE(refused.has_value());
    EXPECT_TRUE(refused.error().starts_with("ERR cannot make the change durable")) << refused.error();
    EXPECT_EQ(w.balance(), 10000);
    EXPECT_FALSE(w.state.payments().find("pay-2").has_value());
    EXPECT_FALSE(w.admin->suspend("other", "x", 0, w.clock.now()).has_value());
    EXPECT_EQ(w.state.find("other")->status(), ContractStatus::kActive);
    EXPECT_TRUE(w.check("acme").allowed);  // decisions go on from memory
    EXPECT_FALSE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_EQ(w.store->status().degraded, 1u);
    EXPECT_GE(w.store->status().admin_refused, 2u);
    EXPECT_GE(w.store->status().store.write_errors_enospc, 1u);
    fs.clear_faults();
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_EQ(w.store->status().degraded, 0u);
    ASSERT_TRUE(w.admin->recharge("acme", "5000", "pay-3", 0, w.clock.now()).has_value());
  }
  World w(dir.path());
  EXPECT_FALSE(w.state.payments().find("pay-2").has_value());
  EXPECT_TRUE(w.state.payments().find("pay-3").has_value());
  EXPECT_EQ(w.balance(), 10000 - 100 + 5000);
  EXPECT_EQ(w.state.find("other")->status(), ContractStatus::kActive);
  EXPECT_EQ(w.store->status().recovery_admin_cancelled, 1u);
  EXPECT_TRUE(check_invariant(w.state.ledger(), "acme", w.balance()).has_value());
}

// Verifies durability strict's release rule against a failing disk: a
// charge's commit ticket is not durable while checkpoints fail, becomes
// durable with the first checkpoint that succeeds, and the charge it covers
// is then recovered.
TEST(StatePersistence, StrictTicketIsReleasedOnlyByADurableCheckpoint) {
  store::testing::TempDir dir;
  store::FaultyFileSystem fs;
  {
    CommitGate gate;
    World w(dir.path(), &fs, options(), kStart, &gate);
    ASSERT_TRUE(w.admin->recharge("acme", "10000", "pay-1", 0, w.clock.now()).has_value());
    ASSERT_TRUE(w.check("acme").allowed);
    const uint64_t ticket = gate.ticket();
    EXPECT_LT(gate.durable_through(), ticket);
    fs.add_fault({.op = store::FileOp::kSync, .error = ENOSPC, .sticky = true});
    EXPECT_FALSE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_FALSE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_LT(gate.durable_through(), ticket) << "a failed checkpoint released a strict reply";
    fs.clear_faults();
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_GE(gate.durable_through(), ticket);
  }  // no final checkpoint: as after kill -9
  World w(dir.path());
  EXPECT_EQ(w.balance(), 10000 - 100);
  EXPECT_EQ(w.remaining("acme"), 1000 - 1);
  EXPECT_TRUE(check_invariant(w.state.ledger(), "acme", w.balance()).has_value());
}

// Verifies a snapshot compacts the journal and recovery from snapshot +
// journal rebuilds the same state; a reset after the snapshot replays.
TEST(StatePersistence, SnapshotPlusJournal) {
  store::testing::TempDir dir;
  {
    World w(dir.path());
    ASSERT_TRUE(w.admin->recharge("acme", "10000", "pay-1", 0, w.clock.now()).has_value());
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(w.check("acme").allowed);
    EXPECT_TRUE(w.check("ip:a").allowed);
    ASSERT_TRUE(w.store->snapshot(w.clock.now()).has_value());
    ASSERT_TRUE(w.store->snapshot(w.clock.now()).has_value());
    EXPECT_TRUE(w.check("ip:b").allowed);
    ASSERT_TRUE(w.admin->reset("ip:a", "", 0, w.clock.now()).has_value());
    ASSERT_TRUE(w.admin->terminate("other", 0, w.clock.now()).has_value());
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  }
  World w(dir.path());
  EXPECT_GT(w.store->status().recovery_snapshot_seq, 0u);
  EXPECT_EQ(w.balance(), 9600);
  EXPECT_EQ(w.remaining("acme"), 996);
  EXPECT_EQ(w.remaining("ip:a"), 5);
  EXPECT_EQ(w.remaining("ip:b"), 4);
  EXPECT_EQ(w.state.find("other")->status(), ContractStatus::kTerminated);
  EXPECT_TRUE(check_invariant(w.state.ledger(), "acme", w.balance()).has_value());
}

// Verifies saved limits whose name or type left the config are skipped and
// counted, and the others restored.
TEST(StatePersistence, SkipsLimitsNoLongerConfigured) {
  store::testing::TempDir dir;
  {
    World w(dir.path());
    EXPECT_TRUE(w.check("other").allowed);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  }
  EngineOptions changed = options();
  changed.contracts[1].limits = {quota("monthly", 10)};
  World w(dir.path(), nullptr, changed);
  EXPECT_EQ(w.remaining("other"), 10);
  EXPECT_GE(w.store->status().recovery_limits_skipped, 1u);
}

// Verifies malformed payloads are errors, never crashes.
TEST(StateCodec, RejectsTruncatedPayloads) {
  AdminRecord r;
  r.kind = AdminRecord::Kind::kRecharge;
  r.contract = "acme";
  r.payment_id = "p";
  std::string bytes = encode_admin(r);
  ASSERT_TRUE(decode_admin(bytes).has_value());
  EXPECT_EQ(decode_admin(bytes)->payment_id, "p");
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_admin(std::string_view(bytes).substr(0, n)).has_value());
  std::vector<LedgerEntry> entries(2);
  entries[1].id = "x";
  std::string ledger = encode_ledger_entries(entries);
  ASSERT_EQ(decode_ledger_entries(ledger)->size(), 2u);
  EXPECT_FALSE(decode_ledger_entries(std::string_view(ledger).substr(0, ledger.size() - 1)).has_value());
}

// --- Open holds, ID replies and distinct-subject sets (issue #6) ---

constexpr Nanos kHoldMs = 60'000;

// "shop": 100 per call (flat), a daily quota, two concurrent holds, holds
// cancelled on timeout, at most two distinct subjects a day.
EngineOptions held_options() {
  EngineOptions o = options();
  PolicySpec shop;
  shop.name = "shop";
  shop.limits = {quota("daily", 1000), tollgate::testing::distinct_subjects("subjects", 2)};
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  rules.concurrency = {ConcurrencyLimit{"inflight", 2, false}};
  shop.rules = rules;
  o.contracts.push_back(shop);
  return o;
}

Decision call(World& w, std::string_view subject, std::string_view id = {}, int64_t hold_ms = -1) {
  CheckRequest r;
  r.key = "shop";
  r.subject = subject;
  r.id = id;
  r.hold_ms = hold_ms;
  return w.engine->check(r, w.clock.now(), 0);
}

int64_t shop_balance(World& w) { return w.state.find("shop")->account()->balance(); }
int64_t shop_open_holds(World& w) { return w.state.find("shop")->open_holds().load(); }
void expect_shop_ledger_matches(World& w) {
  auto ok = check_invariant(w.state.ledger(), "shop", shop_balance(w));
  EXPECT_TRUE(ok.has_value()) << ok.error();
}

// A first daemon on `dir`: 100 credits, hold-1 (subject alice) open for
// `hold_ms`, checkpointed. The caller goes on with it, then drops it (a crash).
std::unique_ptr<World> shop_with_checkpointed_hold(const std::string& dir, int64_t hold_ms = kHoldMs) {
  auto w = std::make_unique<World>(dir, nullptr, held_options());
  EXPECT_TRUE(w->admin->recharge("shop", "10000", "pay-1", 0, w->clock.now()).has_value());
  EXPECT_TRUE(call(*w, "alice", "hold-1", hold_ms).allowed);
  EXPECT_TRUE(w->store->checkpoint(w->clock.now()).has_value());
  return w;
}

// Verifies that after a checkpoint and a crash an open hold comes back
// (charged, holding its concurrency slot, cancellable for an exact refund),
// a retried ID is answered from its record without a second charge, and the
// distinct-subject cap still counts the subjects seen before.
TEST(HeldStatePersistence, SurviveACheckpointAndACrash) {
  store::testing::TempDir dir;
  {
    World w(dir.path(), nullptr, held_options());
    ASSERT_TRUE(w.admin->recharge("shop", "10000", "pay-1", 0, w.clock.now()).has_value());
    ASSERT_TRUE(call(w, "alice", "hold-1", kHoldMs).allowed);
    Decision first = call(w, "bob", "req-1");
    ASSERT_TRUE(first.allowed);
    EXPECT_EQ(first.balance, 9800);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_EQ(w.store->status().checkpoint_holds_last, 1u);
    EXPECT_GE(w.store->status().checkpoint_id_records, 2u);  // hold-1 and req-1
    EXPECT_EQ(w.store->status().checkpoint_subjects, 2u);
  }  // no final checkpoint: a crash
  World w(dir.path(), nullptr, held_options());
  EXPECT_EQ(w.store->status().recovery_holds_restored, 1u);
  EXPECT_EQ(shop_balance(w), 9800);
  EXPECT_EQ(shop_open_holds(w), 1);
  EXPECT_NEAR(w.engine->distinct_subjects_estimate("shop", w.clock.now()), 2.0, 0.1);
  Decision retry = call(w, "bob", "req-1");
  EXPECT_TRUE(retry.allowed);
  EXPECT_EQ(retry.balance, 9800);
  EXPECT_EQ(shop_balance(w), 9800);  // not charged again
  EXPECT_EQ(call(w, "carol").code, Code::kSubjects);  // alice and bob still count
  ASSERT_TRUE(call(w, "alice").allowed);
  EXPECT_EQ(shop_balance(w), 9700);
  EXPECT_TRUE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
  EXPECT_EQ(shop_balance(w), 9800);  // exactly the hold's 100 back
  EXPECT_EQ(shop_open_holds(w), 0);
  EXPECT_FALSE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_shop_ledger_matches(w);
}

// Verifies a hold cancelled after the last checkpoint is lost with the rest
// of that window: it comes back open and charged, and its one refund is
// applied once (never twice: the lost cancel's refund was not durable).
TEST(HeldStatePersistence, CancelInTheLostWindowIsAppliedOnce) {
  store::testing::TempDir dir;
  {
    auto first = shop_with_checkpointed_hold(dir.path());
    World& w = *first;
    ASSERT_TRUE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
    EXPECT_EQ(shop_balance(w), 10000);
  }
  World w(dir.path(), nullptr, held_options());
  EXPECT_EQ(shop_balance(w), 9900);
  EXPECT_TRUE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
  EXPECT_EQ(shop_balance(w), 10000);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_shop_ledger_matches(w);
}

// Verifies a hold settled before a checkpoint does not come back, whether
// recovery reads the journal or a snapshot.
TEST(HeldStatePersistence, SettledHoldsStaySettled) {
  for (bool snapshot : {false, true}) {
    store::testing::TempDir dir;
    {
      World w(dir.path(), nullptr, held_options());
      ASSERT_TRUE(w.admin->recharge("shop", "10000", "pay-1", 0, w.clock.now()).has_value());
      ASSERT_TRUE(call(w, "alice", "hold-1", kHoldMs).allowed);
      ASSERT_TRUE(call(w, "alice", "hold-2", kHoldMs).allowed);
      ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
      ASSERT_TRUE(w.engine->settle("shop", "hold-1", true, w.clock.now()));
      if (snapshot) ASSERT_TRUE(w.store->snapshot(w.clock.now()).has_value());
      else ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    }
    World w(dir.path(), nullptr, held_options());
    EXPECT_EQ(w.store->status().recovery_holds_restored, 1u) << "snapshot " << snapshot;
    EXPECT_EQ(shop_open_holds(w), 1);
    EXPECT_FALSE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
    EXPECT_TRUE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
    EXPECT_EQ(shop_balance(w), 9900);  // hold-1 committed, hold-2 refunded
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    expect_shop_ledger_matches(w);
  }
}

// Verifies a hold that expired while the daemon was down is settled by its
// contract's hold_timeout (cancel: refunded) by the first expiry pass.
TEST(HeldStatePersistence, HoldExpiredWhileDownIsSettledByItsPolicy) {
  store::testing::TempDir dir;
  {
    shop_with_checkpointed_hold(dir.path(), 1'000);
  }
  World w(dir.path(), nullptr, held_options());
  w.clock.advance(2 * kNanosPerSecond);
  EXPECT_EQ(w.engine->next_hold_expiry(0), kStart + kNanosPerSecond);
  EXPECT_EQ(w.engine->expire_holds(0, w.clock.now()), 1u);
  EXPECT_EQ(shop_balance(w), 10000);
  EXPECT_EQ(shop_open_holds(w), 0);
}

// Verifies a hold that expired while the daemon was down is settled at
// start-up by its policy, and settled once: if that settlement is lost in a
// second crash, the next start settles it again (the refund was not durable
// either); once a checkpoint has it, the hold is gone for good.
TEST(HeldStatePersistence, HoldExpiredWhileDownIsSettledAtStartOnce) {
  store::testing::TempDir dir;
  {
    shop_with_checkpointed_hold(dir.path(), 1'000);
  }
  for (int start = 2; start <= 3; ++start) {  // the second start follows a crash before any checkpoint
    World w(dir.path(), nullptr, held_options(), kStart + start * kNanosPerSecond);
    EXPECT_EQ(w.store->status().recovery_holds_expired, 1u);
    EXPECT_EQ(shop_balance(w), 10000);
    EXPECT_EQ(shop_open_holds(w), 0);
  }
  {
    World w(dir.path(), nullptr, held_options(), kStart + 4 * kNanosPerSecond);
    EXPECT_EQ(w.store->status().recovery_holds_expired, 1u);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  }
  World w(dir.path(), nullptr, held_options(), kStart + 5 * kNanosPerSecond);
  EXPECT_EQ(w.store->status().recovery_holds_restored, 0u);
  EXPECT_EQ(w.store->status().recovery_holds_expired, 0u);
  EXPECT_EQ(shop_balance(w), 10000);
  expect_shop_ledger_matches(w);
}

// Verifies state recovered from a snapshot plus later journal records has
// the snapshot's holds, IDs and subjects and the journal's additions.
TEST(HeldStatePersistence, SnapshotPlusJournal) {
  store::testing::TempDir dir;
  {
    World w(dir.path(), nullptr, held_options());
    ASSERT_TRUE(w.admin->recharge("shop", "10000", "pay-1", 0, w.clock.now()).has_value());
    ASSERT_TRUE(call(w, "alice", "hold-1", kHoldMs).allowed);
    ASSERT_TRUE(w.store->snapshot(w.clock.now()).has_value());
    ASSERT_TRUE(call(w, "bob", "req-1").allowed);
    ASSERT_TRUE(call(w, "bob", "hold-2", kHoldMs).allowed);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  }
  World w(dir.path(), nullptr, held_options());
  EXPECT_GT(w.store->status().recovery_snapshot_seq, 0u);
  EXPECT_EQ(shop_open_holds(w), 2);
  EXPECT_EQ(shop_balance(w), 9700);
  EXPECT_TRUE(call(w, "bob", "req-1").allowed);
  EXPECT_EQ(shop_balance(w), 9700);
  EXPECT_EQ(call(w, "alice").code, Code::kConcurrency);  // both slots held by restored holds
  EXPECT_TRUE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
  EXPECT_EQ(call(w, "carol").code, Code::kSubjects);  // alice and bob still count
  EXPECT_TRUE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
  EXPECT_EQ(shop_balance(w), 9900);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_shop_ledger_matches(w);
}

// Verifies a hold whose contract left the config is skipped and counted, and
// an idle checkpoint after recovery writes nothing for unchanged holds.
TEST(HeldStatePersistence, HoldsOfRemovedContractsAreSkipped) {
  store::testing::TempDir dir;
  {
    shop_with_checkpointed_hold(dir.path());
  }
  {
    World w(dir.path(), nullptr, held_options());
    const uint64_t checkpoints = w.store->status().checkpoints;
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    EXPECT_EQ(w.store->status().checkpoints, checkpoints);  // nothing changed, nothing written
  }
  EngineOptions without_shop = held_options();
  without_shop.contracts.pop_back();
  World w(dir.path(), nullptr, without_shop);
  EXPECT_EQ(w.store->status().recovery_holds_restored, 0u);
  EXPECT_EQ(w.store->status().recovery_holds_skipped, 1u);
  EXPECT_EQ(w.engine->holds().open(), 0u);
}

// Cuts the journal right after its last record of `type`, as a crash in the
// middle of that record's commit would.
void cut_after_last_record(const std::string& dir, RecordType type) {
  std::string segment;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().filename().string().starts_with("journal.")) segment = std::max(segment, f.path().string());
  ASSERT_FALSE(segment.empty());
  std::ifstream in(segment, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t cut = 0;
  for (size_t at = 0; at + store::kRecordHeaderBytes <= bytes.size();) {
    uint32_t length = 0;
    std::memcpy(&length, bytes.data() + at + 4, 4);
    const size_t end = at + store::kRecordHeaderBytes + length;
    if (static_cast<uint8_t>(bytes[at + 2]) == static_cast<uint8_t>(type)) cut = end;
    at = end;
  }
  ASSERT_GT(cut, 0u);
  std::filesystem::resize_file(segment, cut);
}

// Verifies that when a checkpoint's commit is torn after its hold set but
// before its ledger entries, recovery uses the previous hold set, which
// agrees with the ledger it recovered: the hold cancelled in the lost window
// comes back and is refunded once; the hold created in it (whose debit was
// lost) does not come back to refund money never taken.
TEST(HeldStatePersistence, TornCommitFallsBackToThePreviousHoldSet) {
  store::testing::TempDir dir;
  {
    auto first = shop_with_checkpointed_hold(dir.path());
    World& w = *first;
    ASSERT_TRUE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
    ASSERT_TRUE(call(w, "alice", "hold-2", kHoldMs).allowed);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  }
  cut_after_last_record(dir.path(), RecordType::kHolds);
  World w(dir.path(), nullptr, held_options());
  EXPECT_EQ(w.store->status().recovery_holds_sets_untrusted, 1u);
  EXPECT_EQ(shop_balance(w), 9900);
  EXPECT_FALSE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
  EXPECT_TRUE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
  EXPECT_EQ(shop_balance(w), 10000);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_shop_ledger_matches(w);
}

}  // namespace
}  // namespace tollgate::persist
