// The embedded store's meaning layer (persist/embedded/): admin mutations durable
// before they apply, checkpoints, snapshots and recovery into a fresh engine,
// refusal while the disk fails. Simulated time; real files in a temp dir.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>
#include <atomic>

#include "control/commit_gate.h"
#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"
#include "persist/state_codec.h"
#include "support/faulty_file_system.h"
#include "persist/files/journal.h"
#include "unit/persist/files/store_test_util.h"

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
  explicit World(const std::string& dir, files::FileSystem* fs = nullptr, EngineOptions o = options(),
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
    so.checkpoint_probe = [this](std::string_view point) {
      if (probe) probe(point);
    };
    if (gate != nullptr) {
      so.number_checkpoint = [gate] { return gate->begin(); };
      so.checkpoint_durable = [gate](uint64_t n) { gate->published(n); };
    }
    store = std::make_unique<EmbeddedStore>(so, state, [this]() -> Engine& { return *engine; });
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

  std::function<void(std::string_view)> probe;  // EmbeddedStoreOptions::checkpoint_probe
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
  files::FaultyFileSystem fs;
  {
    World w(dir.path(), &fs);
    ASSERT_TRUE(w.admin->recharge("acme", "10000", "pay-1", 0, w.clock.now()).has_value());
    fs.add_fault({.op = files::FileOp::kSync, .error = ENOSPC, .sticky = true});
    auto refused = w.admin->recharge("acme", "5000", "pay-2", 0, w.clock.now());
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, AdminError::Code::kNotDurable) << refused.error().detail;
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
  files::testing::TempDir dir;
  files::FaultyFileSystem fs;
  {
    CommitGate gate;
    World w(dir.path(), &fs, options(), kStart, &gate);
    ASSERT_TRUE(w.admin->recharge("acme", "10000", "pay-1", 0, w.clock.now()).has_value());
    ASSERT_TRUE(w.check("acme").allowed);
    const uint64_t ticket = gate.ticket();
    EXPECT_LT(gate.durable_through(), ticket);
    fs.add_fault({.op = files::FileOp::kSync, .error = ENOSPC, .sticky = true});
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
    files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
  files::testing::TempDir dir;
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
  for (size_t at = 0; at + files::kRecordHeaderBytes <= bytes.size();) {
    uint32_t length = 0;
    std::memcpy(&length, bytes.data() + at + 4, 4);
    const size_t end = at + files::kRecordHeaderBytes + length;
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
  files::testing::TempDir dir;
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

// --- Holds over more lots than a hold-pool slot keeps inline ---

// "lots": a ladder of seven steps, so recharges of 100..700 make seven lots
// of 2, 5, 10, 16, 25, 40 and 70 credits at 50, 40, 30, 25, 20, 15 and 10
// (2,800 in all, no wallet).
EngineOptions many_lots_options() {
  EngineOptions o = options();
  PolicySpec lots;
  lots.name = "lots";
  lots.limits = {quota("daily", 1000)};
  ContractRules rules;
  auto ladder = PriceLadder::create({{0, 50}, {200, 40}, {300, 30}, {400, 25}, {500, 20}, {600, 15}, {700, 10}});
  EXPECT_TRUE(ladder.has_value());
  rules.pricing = *ladder;
  rules.concurrency = {ConcurrencyLimit{"inflight", 4, false}};
  lots.rules = rules;
  o.contracts.push_back(lots);
  return o;
}

void recharge_seven_lots(World& w, const std::string& pay_prefix) {
  for (int64_t amount = 100; amount <= 700; amount += 100)
    ASSERT_TRUE(w.admin->recharge("lots", std::to_string(amount), pay_prefix + std::to_string(amount), 0,
                                  w.clock.now())
                    .has_value());
}

Decision hold_lots(World& w, std::string_view id, int64_t cost) {
  CheckRequest r;
  r.key = "lots";
  r.cost = cost;
  r.id = id;
  r.hold_ms = kHoldMs;
  return w.engine->check(r, w.clock.now(), 0);
}

std::vector<int64_t> lot_remaining(World& w) {
  std::vector<int64_t> out;
  for (const LotState& lot : w.state.find("lots")->account()->snapshot().lots) out.push_back(lot.remaining());
  return out;
}

void expect_lots_ledger_matches(World& w) {
  w.admin->flush_debits(w.clock.now());
  auto ok = check_invariant(w.state.ledger(), "lots", w.state.find("lots")->account()->balance());
  EXPECT_TRUE(ok.has_value()) << ok.error();
}

// Verifies a hold over seven lots written in a snapshot comes back from it
// alone, and with another written in the journal after it comes back from
// snapshot + journal, with every span: both still charged, and CANCEL after
// the restart gives each lot back exactly what it gave.
TEST(HeldStatePersistence, HoldsOverManyLotsSurviveSnapshotAndJournal) {
  files::testing::TempDir dir;
  const std::vector<int64_t> full = {2, 5, 10, 16, 25, 40, 70, 2, 5, 10, 16, 25, 40, 70};
  std::vector<int64_t> charged;
  {
    World w(dir.path(), nullptr, many_lots_options());
    recharge_seven_lots(w, "pay-a-");
    const Decision a = hold_lots(w, "big-a", 2 + 5 + 10 + 16 + 25 + 40 + 1);  // lots 0..6
    ASSERT_TRUE(a.allowed) << a.limit;
    EXPECT_EQ(a.balance, 69 * 10);
    ASSERT_TRUE(w.store->snapshot(w.clock.now()).has_value());
  }  // a crash
  {
    World w(dir.path(), nullptr, many_lots_options());
    EXPECT_GT(w.store->status().recovery_snapshot_seq, 0u);
    EXPECT_EQ(w.store->status().recovery_holds_restored, 1u);
    EXPECT_EQ(lot_remaining(w), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 69}));
    recharge_seven_lots(w, "pay-b-");
    const Decision b = hold_lots(w, "big-b", 69 + 2 + 5 + 10 + 16 + 25 + 1);  // lots 6..12
    ASSERT_TRUE(b.allowed) << b.limit;
    EXPECT_EQ(b.balance, 39 * 15 + 70 * 10);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    charged = lot_remaining(w);
  }  // a crash
  World w(dir.path(), nullptr, many_lots_options());
  EXPECT_GT(w.store->status().recovery_snapshot_seq, 0u);
  EXPECT_EQ(w.store->status().recovery_holds_restored, 2u);
  EXPECT_EQ(w.state.find("lots")->open_holds().load(), 2);
  EXPECT_EQ(lot_remaining(w), charged);
  EXPECT_EQ(w.state.find("lots")->account()->balance(), 39 * 15 + 70 * 10);
  expect_lots_ledger_matches(w);
  ASSERT_TRUE(w.engine->settle("lots", "big-b", false, w.clock.now()));
  EXPECT_EQ(lot_remaining(w), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 69, 2, 5, 10, 16, 25, 40, 70}));
  ASSERT_TRUE(w.engine->settle("lots", "big-a", false, w.clock.now()));
  EXPECT_EQ(lot_remaining(w), full);
  EXPECT_EQ(w.state.find("lots")->account()->balance(), 2 * 2800);
  EXPECT_EQ(w.state.find("lots")->open_holds().load(), 0);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_lots_ledger_matches(w);
}

// Rewrites every kHolds record of the journal in `dir` in the version-1
// layout (u8 span count, at most 4), with a valid checksum: the journal a
// daemon before holds over many lots would have written.
void rewrite_holds_as_version_1(const std::string& dir) {
  size_t rewritten = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (!f.path().filename().string().starts_with("journal.")) continue;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::string out;
    for (size_t at = 0; at + files::kRecordHeaderBytes <= bytes.size();) {
      uint32_t length = 0;
      std::memcpy(&length, bytes.data() + at + 4, 4);
      std::string header = bytes.substr(at, files::kRecordHeaderBytes);
      std::string payload = bytes.substr(at + files::kRecordHeaderBytes, length);
      at += files::kRecordHeaderBytes + length;
      if (static_cast<uint8_t>(header[2]) == static_cast<uint8_t>(RecordType::kHolds)) {
        auto set = decode_holds(payload);
        ASSERT_TRUE(set.has_value()) << set.error();
        Encoder v1;
        v1.u8(1);
        v1.u64(set->ledger_seq);
        v1.u32(static_cast<uint32_t>(set->holds.size()));
        for (const HoldImage& h : set->holds) {
          ASSERT_LE(h.spans.size(), 4u);
          v1.u64(h.hash);
          v1.str(h.contract);
          v1.i64(h.cost);
          v1.i64(h.charged_at);
          v1.i64(h.expires_at);
          v1.u8(static_cast<uint8_t>((h.takes_slot ? 1 : 0) | (h.commit_on_expiry ? 2 : 0)));
          v1.u8(static_cast<uint8_t>(h.limits.size()));
          for (const std::string& name : h.limits) v1.str(name);
          v1.u8(static_cast<uint8_t>(h.spans.size()));
          for (const DebitSpan& span : h.spans) {
            v1.u32(span.lot);
            v1.i64(span.credits);
          }
        }
        payload = std::move(v1.bytes());
        const uint32_t new_length = static_cast<uint32_t>(payload.size());
        std::memcpy(header.data() + 4, &new_length, 4);
        const std::string summed = header.substr(0, 16) + payload;
        const uint64_t checksum = XXH3_64bits(summed.data(), summed.size());
        std::memcpy(header.data() + 16, &checksum, 8);
        ++rewritten;
      }
      out += header + payload;
    }
    std::ofstream(f.path(), std::ios::binary | std::ios::trunc) << out;
  }
  ASSERT_GT(rewritten, 0u);
}

// Verifies a store written by the previous version (hold sets in the
// version-1 layout) recovers: the hold over three lots comes back and its
// CANCEL restores each lot exactly.
TEST(HeldStatePersistence, Version1HoldSetsRecover) {
  files::testing::TempDir dir;
  {
    World w(dir.path(), nullptr, many_lots_options());
    recharge_seven_lots(w, "pay-");
    ASSERT_TRUE(hold_lots(w, "three", 2 + 5 + 3).allowed);  // lots 0..2
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  }
  rewrite_holds_as_version_1(dir.path());
  World w(dir.path(), nullptr, many_lots_options());
  EXPECT_EQ(w.store->status().recovery_holds_restored, 1u);
  EXPECT_EQ(lot_remaining(w), (std::vector<int64_t>{0, 0, 7, 16, 25, 40, 70}));
  ASSERT_TRUE(w.engine->settle("lots", "three", false, w.clock.now()));
  EXPECT_EQ(lot_remaining(w), (std::vector<int64_t>{2, 5, 10, 16, 25, 40, 70}));
  EXPECT_EQ(w.state.find("lots")->account()->balance(), 2800);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_lots_ledger_matches(w);
}

// --- A hold settled while a checkpoint cuts holds and money ---

enum class Settle { kCancel, kCommit, kExpireCancel };

// Verifies a hold settled at each point of a checkpoint's hold cut — after
// the open holds were read, inside an account's read (the read is taken
// again), after the flush — lands on one side of the cut with its money: a
// crash right after that checkpoint restores it open and charged exactly
// when its settlement is not in the journaled ledger, so retrying the
// settlement after the restart applies it exactly once (CANCEL and a
// cancelling expiry: the whole 10000 back; COMMIT: 100 kept). The set is
// read fresh (a hold created since the last set) and from the cached set.
// Before the fix, a settle at "flushed" was in neither the set nor the
// ledger: the restart kept its 100 and no CANCEL could reach it.
TEST(HeldStatePersistence, SettleDuringTheCheckpointKeepsMoneyAndHoldsTogether) {
  for (const char* point : {"holds_read", "account_read", "flushed"})
    for (Settle how : {Settle::kCancel, Settle::kCommit, Settle::kExpireCancel})
      for (bool cached : {false, true}) {
        if (cached && how != Settle::kCancel) continue;  // the cached set is read the same way for each
        SCOPED_TRACE(std::string(point) + " settle " + std::to_string(static_cast<int>(how)) +
                     (cached ? " cached" : " fresh"));
        files::testing::TempDir dir;
        bool restored_open = false;
        {
          auto first = shop_with_checkpointed_hold(dir.path(), 1'000);  // hold-1, expires after 1 s
          World& w = *first;
          if (!cached) {
            ASSERT_TRUE(call(w, "alice", "hold-2", kHoldMs).allowed);  // the set changes: read afresh
          }
          int settled = 0;
          w.probe = [&](std::string_view at) {
            if (at != point || settled++ > 0) return;
            if (how == Settle::kExpireCancel) {
              w.clock.advance(2 * kNanosPerSecond);
              EXPECT_EQ(w.engine->expire_holds(0, w.clock.now()), 1u);
            } else {
              EXPECT_TRUE(w.engine->settle("shop", "hold-1", how == Settle::kCommit, w.clock.now()));
            }
          };
          ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
          EXPECT_EQ(settled, std::string_view(point) == "account_read" ? 2 : 1);  // the read was taken again
          restored_open = std::string_view(point) == "flushed";
        }  // crash
        World w(dir.path(), nullptr, held_options());
        expect_shop_ledger_matches(w);
        EXPECT_EQ(shop_open_holds(w), (cached ? 0 : 1) + (restored_open ? 1 : 0));
        // The client retries the settlement it was told of (or the expiry runs again).
        EXPECT_EQ(w.engine->settle("shop", "hold-1", how == Settle::kCommit, w.clock.now()), restored_open);
        if (!cached) {
          ASSERT_TRUE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
        }
        EXPECT_EQ(shop_balance(w), how == Settle::kCommit ? 9900 : 10000);
        ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
        expect_shop_ledger_matches(w);
      }
}

// "tab": 100 a call, no concurrency limit, holds cancelled on timeout.
EngineOptions tab_options() {
  EngineOptions o = options();
  PolicySpec tab;
  tab.name = "tab";
  tab.limits = {quota("daily", 100000)};
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  tab.rules = rules;
  o.contracts.push_back(tab);
  return o;
}

// Verifies, with real threads (run under TSan too), that settles racing
// checkpoints never lose or create money: 300 holds are checkpointed, then a
// worker thread cancels them one by one while this thread checkpoints in a
// loop; the crash follows a checkpoint taken mid-way. After the restart
// every hold is either open and charged (its cancel was after the cut) or
// gone with its refund in the ledger: cancelling the restored ones gives
// back exactly the whole 100000, and Σ ledger == balance throughout.
TEST(HeldStatePersistence, SettlesRacingCheckpointsLoseNoMoney) {
  constexpr int kHolds = 300;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    files::testing::TempDir dir;
    {
      World w(dir.path(), nullptr, tab_options());
      ASSERT_TRUE(w.admin->recharge("tab", "100000", "pay-1", 0, w.clock.now()).has_value());
      for (int i = 0; i < kHolds; ++i) {
        CheckRequest r;
        r.key = "tab";
        const std::string id = "h-" + std::to_string(i);
        r.id = id;
        r.hold_ms = kHoldMs;
        ASSERT_TRUE(w.engine->check(r, w.clock.now(), 0).allowed);
      }
      ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
      std::atomic<int> cancelled{0};
      const Nanos now = w.clock.now();
      std::thread worker([&] {
        for (int i = 0; i < kHolds; ++i) {
          EXPECT_TRUE(w.engine->settle("tab", "h-" + std::to_string(i), false, now));
          cancelled.store(i + 1, std::memory_order_release);
        }
      });
      // Checkpoints race the cancels; the last one is taken mid-way (or,
      // on a machine that let the worker finish first, after all of them).
      const int stop_after = kHolds / 3 + round * kHolds / 6;
      while (cancelled.load(std::memory_order_acquire) < stop_after)
        ASSERT_TRUE(w.store->checkpoint(now).has_value());
      ASSERT_TRUE(w.store->checkpoint(now).has_value());
      worker.join();
    }  // crash: the cancels after the last checkpoint are lost with it
    World w(dir.path(), nullptr, tab_options());
    const int64_t restored = w.store->status().recovery_holds_restored;
    auto balance = [&] { return w.state.find("tab")->account()->balance(); };
    EXPECT_EQ(balance() + 100 * restored, 100000) << restored << " holds restored";
    for (int i = 0; i < kHolds; ++i) (void)w.engine->settle("tab", "h-" + std::to_string(i), false, w.clock.now());
    EXPECT_EQ(balance(), 100000);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    auto ok = check_invariant(w.state.ledger(), "tab", balance());
    EXPECT_TRUE(ok.has_value()) << ok.error();
  }
}


// --- An admin change between checkpoints ---
//
// The control plane's sweep (ContractAdmin::flush_debits, every
// sweep_interval; CONTRACT and LEDGER do the same for one account) turns
// settled refunds into ledger entries between checkpoints, and an admin
// change's durable() journals the ledger as it is. Until 2026-12-03 it did so
// without a hold set: a crash before the next checkpoint brought the hold
// back open beside its refund, and a retried CANCEL (or the start-up expiry)
// refunded it a second time.

enum class Change { kSuspend, kRecharge, kAction, kReset };

const char* change_name(Change c) {
  switch (c) {
    case Change::kSuspend: return "suspend";
    case Change::kRecharge: return "recharge";
    case Change::kAction: return "monitor action";
    case Change::kReset: return "reset";
  }
  return "?";
}

// One admin change made durable and applied the way the daemon makes it
// (ContractAdmin → EmbeddedStore::durable). A recharge adds 500 to "shop";
// the others change no money.
void admin_change(World& w, Change change, int n = 0) {
  const Nanos now = w.clock.now();
  switch (change) {
    case Change::kSuspend:
      ASSERT_TRUE(w.admin->suspend("other", "audit " + std::to_string(n), 7, now).has_value());
      break;
    case Change::kRecharge:
      ASSERT_TRUE(w.admin->recharge("shop", "500", "pay-x" + std::to_string(n), 7, now).has_value());
      break;
    case Change::kAction: {
      ActiveAction a;
      a.kind = MonitorActionKind::kSuspend;
      a.monitor = "spike-" + std::to_string(n);
      a.reason = "test";
      a.since = now;
      a.until = now + 3600 * kNanosPerSecond;
      ASSERT_TRUE(w.admin->put_action("other", a, kDaemonActor, now).has_value());
      break;
    }
    case Change::kReset: ASSERT_TRUE(w.admin->reset("shop", "", 7, now).has_value()); break;
  }
}

// Verifies the sequence of the known gap, for every way a hold is settled
// (CANCEL, COMMIT, a cancelling expiry) and every kind of admin change:
// hold-1 checkpointed, settled, swept into the ledger, an admin change made
// durable, a crash before the next checkpoint. The admin change was durable
// after the settlement, so the settlement survives with it: hold-1 does not
// come back, a retried CANCEL or COMMIT finds nothing, the start-up expiry
// settles nothing, the money is the settlement's exactly once and Σ ledger
// == balance.
TEST(HeldStatePersistence, SettlementSweptBeforeAnAdminChangeIsNotUndoneByACrash) {
  for (Settle how : {Settle::kCancel, Settle::kCommit, Settle::kExpireCancel})
    for (Change change : {Change::kSuspend, Change::kRecharge, Change::kAction, Change::kReset}) {
      SCOPED_TRACE(std::string("settle ") + std::to_string(static_cast<int>(how)) + ", " + change_name(change));
      files::testing::TempDir dir;
      {
        auto first = shop_with_checkpointed_hold(dir.path(), how == Settle::kExpireCancel ? 1'000 : kHoldMs);
        World& w = *first;
        if (how == Settle::kExpireCancel) {
          w.clock.advance(2 * kNanosPerSecond);
          ASSERT_EQ(w.engine->expire_holds(0, w.clock.now()), 1u);
        } else {
          ASSERT_TRUE(w.engine->settle("shop", "hold-1", how == Settle::kCommit, w.clock.now()));
        }
        w.admin->flush_debits(w.clock.now());  // the control plane's sweep
        admin_change(w, change);
      }  // crash: no checkpoint after the admin change
      World w(dir.path(), nullptr, held_options(), kStart + 3 * kNanosPerSecond);
      expect_shop_ledger_matches(w);
      EXPECT_EQ(w.store->status().recovery_holds_restored, 0u);
      EXPECT_EQ(w.store->status().recovery_holds_expired, 0u);
      EXPECT_EQ(shop_open_holds(w), 0);
      EXPECT_EQ(w.store->status().recovery_admin_applied, 2u);  // pay-1 and the change
      // The client retries what it was told of; nothing is left to settle.
      EXPECT_FALSE(w.engine->settle("shop", "hold-1", how == Settle::kCommit, w.clock.now()));
      EXPECT_FALSE(w.engine->settle("shop", "hold-1", false, w.clock.now()));
      const int64_t recharged = change == Change::kRecharge ? 500 : 0;
      EXPECT_EQ(shop_balance(w), (how == Settle::kCommit ? 9900 : 10000) + recharged);
      ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
      expect_shop_ledger_matches(w);
    }
}

// Verifies the other side of the same cut: a hold created after the last
// checkpoint, its debit swept into the ledger, then an admin change and a
// crash: the hold comes back open with the debit the admin change made
// durable, so its CANCEL still refunds it (before, the debit came back
// without the hold and no CANCEL could reach it).
TEST(HeldStatePersistence, HoldSweptBeforeAnAdminChangeComesBackWithItsDebit) {
  files::testing::TempDir dir;
  {
    World w(dir.path(), nullptr, held_options());
    ASSERT_TRUE(w.admin->recharge("shop", "10000", "pay-1", 0, w.clock.now()).has_value());
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    ASSERT_TRUE(call(w, "alice", "hold-2", kHoldMs).allowed);
    w.admin->flush_debits(w.clock.now());
    admin_change(w, Change::kSuspend);
  }  // crash
  World w(dir.path(), nullptr, held_options());
  expect_shop_ledger_matches(w);
  EXPECT_EQ(shop_balance(w), 9900);
  EXPECT_EQ(shop_open_holds(w), 1);
  EXPECT_TRUE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
  EXPECT_FALSE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
  EXPECT_EQ(shop_balance(w), 10000);
  ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
  expect_shop_ledger_matches(w);
}

// Verifies that a hold recovery settled at start-up (it expired while the
// daemon was down) stays settled when an admin change, not a checkpoint, is
// the first thing made durable after the start: a second crash does not
// settle (refund) it again.
TEST(HeldStatePersistence, StartUpExpiryBeforeAnAdminChangeIsSettledOnce) {
  files::testing::TempDir dir;
  {
    shop_with_checkpointed_hold(dir.path(), 1'000);
  }  // crash with hold-1 open
  {
    World w(dir.path(), nullptr, held_options(), kStart + 2 * kNanosPerSecond);
    EXPECT_EQ(w.store->status().recovery_holds_expired, 1u);
    EXPECT_EQ(shop_balance(w), 10000);
    w.admin->flush_debits(w.clock.now());
    admin_change(w, Change::kSuspend);
  }  // crash before any checkpoint
  World w(dir.path(), nullptr, held_options(), kStart + 3 * kNanosPerSecond);
  EXPECT_EQ(w.store->status().recovery_holds_restored, 0u);
  EXPECT_EQ(w.store->status().recovery_holds_expired, 0u);
  EXPECT_EQ(shop_balance(w), 10000);
  expect_shop_ledger_matches(w);
}

// Verifies an admin change cuts holds and money as a checkpoint does when a
// hold is settled while its durable() reads them: at each point of the cut
// (the probe fires in durable() as in a checkpoint) the settlement lands on
// one side with its money, so after a crash right after the admin change
// retrying it applies it exactly once.
TEST(HeldStatePersistence, SettleDuringAnAdminChangeKeepsMoneyAndHoldsTogether) {
  for (const char* point : {"holds_read", "account_read", "flushed"})
    for (Settle how : {Settle::kCancel, Settle::kCommit}) {
      SCOPED_TRACE(std::string(point) + " settle " + std::to_string(static_cast<int>(how)));
      files::testing::TempDir dir;
      bool restored_open = false;
      {
        auto first = shop_with_checkpointed_hold(dir.path());
        World& w = *first;
        ASSERT_TRUE(call(w, "alice", "hold-2", kHoldMs).allowed);  // the set changes: read afresh
        w.admin->flush_debits(w.clock.now());
        int settled = 0;
        w.probe = [&](std::string_view at) {
          if (at != point || settled++ > 0) return;
          EXPECT_TRUE(w.engine->settle("shop", "hold-1", how == Settle::kCommit, w.clock.now()));
        };
        admin_change(w, Change::kSuspend);
        EXPECT_EQ(settled, std::string_view(point) == "account_read" ? 2 : 1);
        restored_open = std::string_view(point) == "flushed";
      }  // crash
      World w(dir.path(), nullptr, held_options());
      expect_shop_ledger_matches(w);
      EXPECT_EQ(shop_open_holds(w), 1 + (restored_open ? 1 : 0));
      EXPECT_EQ(w.engine->settle("shop", "hold-1", how == Settle::kCommit, w.clock.now()), restored_open);
      ASSERT_TRUE(w.engine->settle("shop", "hold-2", false, w.clock.now()));
      EXPECT_EQ(shop_balance(w), how == Settle::kCommit ? 9900 : 10000);
      ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
      expect_shop_ledger_matches(w);
    }
}

// Verifies, with real threads (run under TSan too), that settles racing
// admin changes, sweeps and checkpoints never lose or create money: 300
// holds are checkpointed, then a worker thread cancels them one by one
// while a control-loop thread checkpoints in a loop and this thread (the
// admin connection) sweeps and makes admin changes durable. The checkpoints
// stop part-way (the worker waits for that before it goes on), the cancels
// and admin changes go on, and the crash follows an admin change taken while
// the worker still cancels: the cancels between the last checkpoint and the
// last admin change are what only the admin changes made durable. After the
// restart every hold is either open and charged or gone with its refund in
// the ledger: cancelling the restored ones gives back exactly the whole
// 100000, and Σ ledger == balance.
TEST(HeldStatePersistence, SettlesRacingAdminChangesLoseNoMoney) {
  constexpr int kHolds = 300;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    files::testing::TempDir dir;
    int durable_cancels = 0;  // cancels before the last admin change began
    {
      World w(dir.path(), nullptr, tab_options());
      ASSERT_TRUE(w.admin->recharge("tab", "100000", "pay-1", 0, w.clock.now()).has_value());
      for (int i = 0; i < kHolds; ++i) {
        CheckRequest r;
        r.key = "tab";
        const std::string id = "h-" + std::to_string(i);
        r.id = id;
        r.hold_ms = kHoldMs;
        ASSERT_TRUE(w.engine->check(r, w.clock.now(), 0).allowed);
      }
      ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
      const int checkpoints_until = kHolds / 4 + round * kHolds / 12;
      const int changes_until = checkpoints_until + kHolds / 4;
      std::atomic<int> cancelled{0};
      std::atomic<bool> checkpoints_stopped{false};
      std::atomic<bool> stop_checkpoints{false};
      const Nanos now = w.clock.now();
      std::thread worker([&] {
        for (int i = 0; i < kHolds; ++i) {
          if (i == checkpoints_until)
            while (!checkpoints_stopped.load(std::memory_order_acquire)) std::this_thread::yield();
          EXPECT_TRUE(w.engine->settle("tab", "h-" + std::to_string(i), false, now));
          cancelled.store(i + 1, std::memory_order_release);
        }
      });
      std::thread control_loop([&] {
        while (!stop_checkpoints.load(std::memory_order_acquire)) EXPECT_TRUE(w.store->checkpoint(now).has_value());
      });
      int changes = 0;
      auto sweep_and_change = [&] {
        w.admin->flush_debits(now);
        const Nanos at = now + changes;
        if (changes++ % 2 == 0) EXPECT_TRUE(w.admin->suspend("other", "audit", 7, at).has_value());
        else EXPECT_TRUE(w.admin->resume("other", 7, at).has_value());
      };
      while (cancelled.load(std::memory_order_acquire) < checkpoints_until) sweep_and_change();
      stop_checkpoints.store(true, std::memory_order_release);
      control_loop.join();
      checkpoints_stopped.store(true, std::memory_order_release);
      while (cancelled.load(std::memory_order_acquire) < changes_until) sweep_and_change();
      durable_cancels = cancelled.load(std::memory_order_acquire);
      sweep_and_change();  // the last thing made durable: an admin change
      worker.join();
    }  // crash: the cancels after the last admin change are lost with it
    World w(dir.path(), nullptr, tab_options());
    const int64_t restored = w.store->status().recovery_holds_restored;
    EXPECT_LE(restored, kHolds - durable_cancels);  // what the last admin change made durable stays cancelled
    auto balance = [&] { return w.state.find("tab")->account()->balance(); };
    EXPECT_EQ(balance() + 100 * restored, 100000) << restored << " holds restored";
    for (int i = 0; i < kHolds; ++i) (void)w.engine->settle("tab", "h-" + std::to_string(i), false, w.clock.now());
    EXPECT_EQ(balance(), 100000);
    ASSERT_TRUE(w.store->checkpoint(w.clock.now()).has_value());
    auto ok = check_invariant(w.state.ledger(), "tab", balance());
    EXPECT_TRUE(ok.has_value()) << ok.error();
  }
}

}  // namespace
}  // namespace tollgate::persist
