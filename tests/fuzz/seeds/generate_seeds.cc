// Writes the binary seed corpora of the store fuzzers from the real code: a
// store runs the harness config with money, subjects, holds, IDs and admin
// changes, checkpoints and snapshots, and its journal records and snapshot
// are written out in each target's input layout (see the targets' headers).
// Usage: fuzz_seed_generator <tests/fuzz/corpus>. The output is committed;
// rerun it when a record format changes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "persist/embedded/embedded_store.h"
#include "persist/state_codec.h"
#include "persist/files/journal.h"
#include "persist/files/snapshot.h"

namespace tollgate::fuzz {
namespace {

struct Record {
  uint8_t type;
  uint64_t seq;
  std::string payload;
};

class Bytes {
 public:
  Bytes& u8(uint64_t v) { out_.push_back(static_cast<char>(v)); return *this; }
  Bytes& u16(uint64_t v) { return u8(v).u8(v >> 8); }
  Bytes& u32(uint64_t v) { return u16(v).u16(v >> 16); }
  Bytes& raw(std::string_view s) { out_.append(s); return *this; }
  Bytes& blob16(std::string_view s) { return u16(s.size()).raw(s.substr(0, 0xFFFF)); }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Writes one seed file (creating its directory) and says so.
void write_seed(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

// The harness config's daemon: state over `dir`.
struct Daemon {
  ManualClock clock{kFuzzStart};
  Reclaimer reclaimer{8};
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<persist::EmbeddedStore> store;

  explicit Daemon(const std::string& dir) {
    EngineOptions options = engine_options_from(must_parse(kHarnessConfig), 1);
    cap_table_sizes(options);
    options.track_changes = true;
    engine = std::move(*Engine::create(options, reclaimer, clock.now(), state));
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    persist::EmbeddedStoreOptions store_options;
    store_options.dir = dir;
    store_options.clock = &clock;
    store = std::make_unique<persist::EmbeddedStore>(store_options, state,
                                                     [this]() -> Engine& { return *engine; });
    if (!store->recover(clock.now())) std::abort();
    admin->set_durability(store.get());
  }
  void traffic(int round) {
    const int slot = reclaimer.register_reader();
    exercise(*engine, keys_of(must_parse(kHarnessConfig)), clock.now(), reclaimer, slot);
    ReadGuard guard(reclaimer, slot);
    for (int i = 0; i < 3; ++i) {
      CheckRequest r{.key = "acme", .channel = "pc", .purpose = "fraud-check",
                     .subject = i == 0 ? "user-1" : "user-2"};
      engine->check(r, clock.now(), 0);
    }
    std::string id = "round-" + std::to_string(round);
    CheckRequest hold{.key = "beta", .id = id, .hold_ms = 30'000};
    engine->check(hold, clock.now(), 0);
    clock.advance(1'500 * 1'000'000);
  }
  void checkpoint() {
    admin->flush_debits(clock.now());
    if (!store->checkpoint(clock.now())) std::abort();
  }
};

std::vector<Record> journal_records(const std::string& dir, uint64_t after_seq) {
  std::vector<Record> records;
  auto scan = files::scan_journal(files::default_file_system(), dir, after_seq, [&](const files::RecordView& r) {
    records.push_back({r.type, r.seq, std::string(r.payload)});
  });
  if (!scan) std::abort();
  return records;
}

struct SnapshotImage {
  uint64_t seq = 0;
  std::string path;
  std::vector<std::pair<uint8_t, std::string>> records;
};

SnapshotImage latest_snapshot(const std::string& dir) {
  SnapshotImage image;
  auto loaded = files::load_latest(dir, [&](uint8_t type, std::string_view bytes) {
    image.records.emplace_back(type, std::string(bytes));
  });
  if (!loaded || !loaded->loaded) std::abort();
  image.seq = loaded->loaded->seq;
  image.path = loaded->loaded->path;
  return image;
}

// state_codec target's selector for each record type (see state_codec_fuzz.cc).
int codec_selector(uint8_t type) {
  switch (static_cast<persist::RecordType>(type)) {
    case persist::RecordType::kAdmin: return 0;
    case persist::RecordType::kCancel: return 1;
    case persist::RecordType::kLedgerEntries: return 2;
    case persist::RecordType::kPayments: return 3;
    case persist::RecordType::kContract: return 4;
    case persist::RecordType::kHolds: return 5;
    case persist::RecordType::kIdRecords: return 6;
    case persist::RecordType::kSubjects: return 7;
    case persist::RecordType::kSubjectEstimate: return 8;
    case persist::RecordType::kCounters: return 9;
    default: return -1;
  }
}

// journal target, structured: every record, a commit after each third.
std::string journal_input(const std::vector<Record>& records, uint16_t segment_bytes) {
  Bytes b;
  b.u8(0).u16(segment_bytes).u8(records.size() > 255 ? 255 : records.size());
  for (size_t i = 0; i < records.size() && i < 255; ++i)
    b.u8(records[i].type).u8(i % 3 == 2 ? 1 : 0).blob16(records[i].payload);
  return b.str();
}

void generate(const std::filesystem::path& corpus) {
  ScratchDir scratch;
  const std::string dir = scratch.path() + "/var";
  std::vector<Record> early;
  SnapshotImage snapshot;
  std::vector<Record> after_snapshot;
  {
    Daemon d(dir);
    if (!d.admin->recharge("acme", "150000", "pay-acme-1", 1000, d.clock.now())) std::abort();
    if (!d.admin->recharge("beta", "2000", "pay-beta-1", 1000, d.clock.now())) std::abort();
    d.traffic(1);
    d.checkpoint();
    if (!d.admin->suspend("beta", "unpaid invoice", 1000, d.clock.now())) std::abort();
    if (!d.admin->resume("beta", 1000, d.clock.now())) std::abort();
    if (!d.admin->reset("ip:fuzz", "", 1000, d.clock.now())) std::abort();
    d.traffic(2);
    d.checkpoint();
    early = journal_records(dir, 0);
    if (!d.store->snapshot(d.clock.now())) std::abort();
    snapshot = latest_snapshot(dir);
    if (!d.admin->recharge("acme", "5000", "pay-acme-2", 1000, d.clock.now())) std::abort();
    d.traffic(3);
    d.checkpoint();
    after_snapshot = journal_records(dir, snapshot.seq);
  }
  std::printf("%zu journal records before the snapshot at %llu, %zu after; %zu snapshot records\n", early.size(),
              static_cast<unsigned long long>(snapshot.seq), after_snapshot.size(), snapshot.records.size());

  // journal
  write_seed(corpus / "journal" / "records-one-segment", journal_input(early, 0xFFFF));
  write_seed(corpus / "journal" / "records-small-segments", journal_input(early, 256));
  {
    Bytes flip;
    flip.raw(journal_input(early, 512)).u8(0).u8(0).u32(100).u8(0x40);  // one flipped byte mid-segment
    write_seed(corpus / "journal" / "flipped-byte-first-segment", flip.str());
    Bytes torn;
    torn.raw(journal_input(early, 0xFFFF)).u8(1).u8(0).u32(0xFFFFFFF0).u8(0);  // truncated near the end
    write_seed(corpus / "journal" / "torn-tail", torn.str());
    Bytes gone;
    gone.raw(journal_input(early, 256)).u8(2).u8(1).u32(0).u8(0);  // a middle segment deleted
    write_seed(corpus / "journal" / "missing-segment", gone.str());
  }
  {
    Bytes raw;
    std::string segment;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.path().filename().string().starts_with("journal.")) segment = entry.path();
    const std::string bytes = read_file(segment).substr(0, 0xFFFF);
    raw.u8(1).u8(snapshot.seq % 8).u8(1).blob16(bytes);
    write_seed(corpus / "journal" / "raw-segment", raw.str());
  }

  // snapshot
  {
    Bytes structured;
    structured.u8(0).u8(2).u8(12).blob16("meta").u8(1).blob16(std::string(40, 'l'));
    structured.u8(snapshot.records.size() > 255 ? 255 : snapshot.records.size());
    for (size_t i = 0; i < snapshot.records.size() && i < 255; ++i)
      structured.u8(snapshot.records[i].first).blob16(snapshot.records[i].second);
    write_seed(corpus / "snapshot" / "structured", structured.str());
    Bytes flipped;
    flipped.raw(structured.str()).u8(0).u32(60).u8(1);
    write_seed(corpus / "snapshot" / "structured-flipped", flipped.str());
    Bytes raw;
    raw.u8(1).u8(1).u8(12).blob16("older");
    raw.raw(read_file(snapshot.path));
    write_seed(corpus / "snapshot" / "raw", raw.str());
  }

  // state_codec
  {
    int n = 0;
    std::vector<bool> seen(10, false);
    auto add = [&](uint8_t type, std::string_view payload) {
      const int selector = codec_selector(type);
      if (selector < 0 || (seen[selector] && payload.size() > 4096)) return;
      seen[selector] = true;
      Bytes b;
      b.u8(selector).raw(payload);
      write_seed(corpus / "state_codec" / ("record-" + std::to_string(n++)), b.str());
    };
    for (const Record& r : early) add(r.type, r.payload);
    for (const auto& [type, bytes] : snapshot.records) add(type, bytes);
    add(static_cast<uint8_t>(persist::RecordType::kCancel), persist::encode_cancel(3));
  }

  // store_recovery
  {
    Bytes journal_only;
    journal_only.u8(0);
    for (const Record& r : early) journal_only.u8(r.seq % 4 == 0 ? 2 : 0).u8(r.type).blob16(r.payload);
    write_seed(corpus / "store_recovery" / "journal-only", journal_only.str());
    Bytes with_snapshot;
    with_snapshot.u8(snapshot.seq);
    for (const auto& [type, bytes] : snapshot.records) with_snapshot.u8(1).u8(type).blob16(bytes);
    for (const Record& r : after_snapshot) with_snapshot.u8(2).u8(r.type).blob16(r.payload);
    write_seed(corpus / "store_recovery" / "snapshot-and-journal", with_snapshot.str());
    Bytes cancelled;  // an admin record followed by its cancel
    cancelled.u8(0);
    for (const Record& r : early) {
      cancelled.u8(0).u8(r.type).blob16(r.payload);
      if (r.type == static_cast<uint8_t>(persist::RecordType::kAdmin)) {
        cancelled.u8(2).u8(static_cast<uint8_t>(persist::RecordType::kCancel)).blob16(persist::encode_cancel(r.seq));
        break;
      }
    }
    write_seed(corpus / "store_recovery" / "admin-cancelled", cancelled.str());
  }
}

}  // namespace
}  // namespace tollgate::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  tollgate::fuzz::quiet_logs();
  tollgate::fuzz::generate(argv[1]);
  return 0;
}
