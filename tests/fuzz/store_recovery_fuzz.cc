// Fuzzes the embedded store's recovery: the meaning of journal and snapshot
// records (admin mutations, ledger entries, payments, contract images,
// counter words, holds, IDs, subjects) replayed into a live engine. The
// records come from the input and are written with valid checksums, so every
// payload reaches the decoders and the restorer. Input (little endian):
//   u8 snapshot seq (0: no snapshot), then records until the end:
//   u8 where (bit 0: snapshot, else journal; bit 1: commit after it),
//   u8 type, u16 length, payload
// The storage directory is first initialised by a store of its own, so
// whatever marks an initialised directory is there. Properties:
//   - recovery either refuses with an error, or starts with Σ ledger ==
//     balance for every contract;
//   - what it recovered, plus a burst of calls, survives a checkpoint, a
//     snapshot and a restart unchanged: balances, ledgers, statuses, payment
//     ids, and what every key's PEEK answers.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "persist/embedded/embedded_store.h"
#include "persist/files/journal.h"
#include "persist/files/snapshot.h"

namespace tollgate::fuzz {
namespace {

const Config& harness_config() {
  static const Config config = must_parse(kHarnessConfig);
  return config;
}

const EngineOptions& engine_options() {
  static const EngineOptions options = [] {
    EngineOptions o = engine_options_from(harness_config(), 1);
    cap_table_sizes(o);
    o.track_changes = true;  // storage: embedded
    return o;
  }();
  return options;
}

// One daemon's state over a storage directory.
struct World {
  ManualClock clock{kFuzzStart};
  Reclaimer reclaimer{8};
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<persist::EmbeddedStore> store;
  int slot = 0;

  explicit World(const std::string& dir) {
    auto built = Engine::create(engine_options(), reclaimer, clock.now(), state);
    if (!built) std::abort();
    engine = std::move(*built);
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    persist::EmbeddedStoreOptions options;
    options.dir = dir;
    options.clock = &clock;
    options.snapshot_interval = 3600 * kNanosPerSecond;
    store = std::make_unique<persist::EmbeddedStore>(options, state, [this]() -> Engine& { return *engine; });
    slot = reclaimer.register_reader();
  }
  std::expected<void, std::string> recover() {
    auto r = store->recover(clock.now());
    if (r) admin->set_durability(store.get());
    return r;
  }
  ~World() {
    store.reset();
    admin.reset();
    engine.reset();
    reclaimer.collect();
  }
};

// Everything a restart must keep, as comparable values.
struct Observed {
  std::map<std::string, int64_t> balances;
  std::map<std::string, std::vector<LedgerEntry>> ledgers;
  std::map<std::string, std::pair<ContractStatus, std::string>> statuses;
  std::map<std::string, PaymentRecord> payments;
  std::vector<PeekAnswer> peeks;
};

Observed observe(World& w, const std::vector<std::string>& keys) {
  Observed o;
  w.admin->flush_debits(w.clock.now());
  for (ContractState* c : w.state.all()) {
    o.statuses[c->key()] = {c->status(), c->reason()};
    o.ledgers[c->key()] = w.state.ledger().entries(c->key());
    if (c->account() != nullptr) o.balances[c->key()] = c->account()->balance();
  }
  w.state.payments().for_each([&](const std::string& id, const PaymentRecord& r) { o.payments[id] = r; });
  o.peeks = peek_all(*w.engine, keys, w.clock.now(), w.reclaimer, w.slot);
  return o;
}

void compare(const Observed& a, const Observed& b, const std::vector<std::string>& keys) {
  FUZZ_CHECK(a.balances == b.balances, "balances changed across a restart");
  for (const auto& [key, entries] : a.ledgers) {
    auto it = b.ledgers.find(key);
    FUZZ_CHECK(it != b.ledgers.end() && it->second == entries,
               "the ledger of " + key + " changed across a restart (" + std::to_string(entries.size()) + " -> " +
                   std::to_string(it == b.ledgers.end() ? 0 : it->second.size()) + " entries)");
  }
  for (const auto& [key, status] : a.statuses) {
    auto it = b.statuses.find(key);
    FUZZ_CHECK(it != b.statuses.end() && it->second == status, "the status of " + key + " changed across a restart");
  }
  FUZZ_CHECK(a.payments == b.payments, "payment ids changed across a restart");
  for (size_t i = 0; i < a.peeks.size(); ++i)
    FUZZ_CHECK(a.peeks[i] == b.peeks[i], "PEEK " + keys[i / 2] + (i % 2 ? " SUBJECT subject-a" : "") +
                                             " changed across a restart: " + a.peeks[i].to_string() + " -> " +
                                             b.peeks[i].to_string());
}

// Replaces the store's files with the input's snapshot and journal.
void write_state(const std::string& dir, std::string_view input) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    // The identity file goes too: the input's state is a store of its own (an
    // upgrade from a version without one), not this first start's.
    if (name.starts_with("journal.") || name.starts_with("snapshot.") || name == "identity")
      std::filesystem::remove(entry.path());
  }
  ByteReader in(input);
  const uint64_t snapshot_seq = in.u8();
  std::vector<std::pair<uint8_t, std::string>> snapshot;
  files::JournalOptions options;
  options.after_seq = snapshot_seq;
  // No segment yet behind a snapshot-to-be: what recovery would call missing
  // records is this writer's starting point.
  options.discard_corruption = true;
  auto journal = files::Journal::open(dir, options, [](const files::RecordView&) {});
  FUZZ_CHECK(journal.has_value(), "opening an empty journal failed");
  while (!in.empty()) {
    const uint8_t where = in.u8();
    const uint8_t type = in.u8();
    std::string payload(in.bytes(in.u16()));
    if ((where & 1) != 0) {
      snapshot.emplace_back(type, std::move(payload));
    } else {
      journal->append(type, payload);
      if ((where & 2) != 0) FUZZ_CHECK(journal->commit().has_value(), "journal commit failed");
    }
  }
  FUZZ_CHECK(journal->commit().has_value(), "journal commit failed");
  if (snapshot_seq > 0) {
    std::vector<files::SnapshotRecord> records;
    for (const auto& [type, bytes] : snapshot) records.push_back({type, bytes});
    FUZZ_CHECK(files::write_snapshot(dir, snapshot_seq, records).has_value(), "writing the snapshot failed");
  }
}

void run(std::string_view input) {
  const std::string dir = scratch().clear() + "/var";
  {
    World first_start(dir);
    FUZZ_CHECK(first_start.recover().has_value(), "a store could not start in an empty directory");
  }
  write_state(dir, input);

  const std::vector<std::string> keys = keys_of(harness_config());
  Observed before;
  {
    World w(dir);
    if (!w.recover()) return;  // refused with an error: fine
    check_money(w.state, *w.admin, w.clock.now(), "after recovery");
    exercise(*w.engine, keys, w.clock.now(), w.reclaimer, w.slot);
    check_money(w.state, *w.admin, w.clock.now(), "after calls on the recovered state");
    before = observe(w, keys);  // debits flushed: the checkpoint journals them
    auto checkpoint = w.store->checkpoint(w.clock.now());
    FUZZ_CHECK(checkpoint.has_value(), "checkpoint failed: " + (checkpoint ? std::string() : checkpoint.error()));
    auto snapshot = w.store->snapshot(w.clock.now());
    FUZZ_CHECK(snapshot.has_value(), "snapshot failed: " + (snapshot ? std::string() : snapshot.error()));
  }
  World w(dir);
  auto again = w.recover();
  FUZZ_CHECK(again.has_value(), "the state a recovery wrote back does not recover: " +
                                    (again ? std::string() : again.error()));
  compare(before, observe(w, keys), keys);
}

}  // namespace
}  // namespace tollgate::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tollgate::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
