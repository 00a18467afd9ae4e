// The embedded store never starts with less than it made durable unless the
// operator says so: a corrupt journal, unreadable or removed state and a
// second process on the directory are refused with a clear error; the
// --recover modes start anyway, set aside (never delete) what they drop and
// count every payment id lost; per_subject counters survive a restart.
// Simulated time; real files in a temp dir.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>

#include "unit/engine/limit_specs.h"

#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"
#include "persist/state_codec.h"
#include "persist/files/discarded.h"
#include "persist/files/little_endian.h"
#include "persist/files/store_identity.h"
#include "unit/persist/files/store_test_util.h"

namespace tollgate::persist {
namespace {

using tollgate::testing::quota;
using tollgate::testing::window;
using files::testing::read_file;
using files::testing::write_file;

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

EngineOptions options() {
  EngineOptions o;
  o.track_changes = true;
  PolicySpec acme;
  acme.name = "acme";
  acme.limits = {quota("daily", 1000)};
  acme.per_subject = {quota("per_user", 3), window("per_user_minute", 2, 60 * kNanosPerSecond)};
  ContractRules rules;
  rules.pricing = PriceLadder::flat(100);
  acme.rules = rules;
  o.contracts.push_back(acme);
  return o;
}

// One daemon's worth of state over a storage dir; `recovered` says whether
// it may start.
struct Node {
  explicit Node(const std::string& dir, RecoverMode mode = RecoverMode::kRefuse) {
    clock.set(kStart);
    auto e = Engine::create(options(), reclaimer, kStart, state);
    EXPECT_TRUE(e.has_value());
    engine = std::move(*e);
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    EmbeddedStoreOptions so;
    so.dir = dir;
    so.clock = &clock;
    so.snapshot_interval = 3600 * kNanosPerSecond;
    so.recover = mode;
    store = std::make_unique<EmbeddedStore>(so, state, [this]() -> Engine& { return *engine; });
    recovered = store->recover(clock.now());
    if (recovered) admin->set_durability(store.get());
  }
  int64_t balance() { return state.find("acme")->account()->balance(); }
  Decision check_subject(std::string_view subject) {
    CheckRequest r;
    r.key = "acme";
    r.subject = subject;
    return engine->check(r, clock.now(), 0);
  }
  void recharge(int i) {
    auto r = admin->recharge("acme", "100000", "pay-" + std::to_string(i), 0, clock.now());
    ASSERT_TRUE(r.has_value()) << r.error().detail;
  }

  ManualClock clock{kStart};
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<EmbeddedStore> store;
  std::expected<void, std::string> recovered;
};

struct RecordAt {
  uint64_t offset;
  uint8_t type;
};

// Walks a journal segment's records by their headers.
std::vector<RecordAt> records_of(const std::string& bytes) {
  std::vector<RecordAt> out;
  for (uint64_t at = 0; at + files::kRecordHeaderBytes <= bytes.size();) {
    out.push_back({at, static_cast<uint8_t>(bytes[at + 2])});
    at += files::kRecordHeaderBytes + files::get_u32(bytes.data() + at + 4);
  }
  return out;
}

std::vector<std::string> segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().starts_with("journal.")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> tree(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().filename() != "lock")
      out.push_back(e.path().string() + ":" + (e.is_regular_file() ? read_file(e.path()) : ""));
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t watermark(const std::string& dir) {
  auto read = files::read_identity(files::default_file_system(), dir);
  EXPECT_TRUE(read);
  EXPECT_EQ(read->state, files::IdentityRead::State::kValid) << read->problem;
  return read->identity.durable_seq;
}

// Twenty acknowledged recharges of 1,000.00 and one flipped byte in the
// middle of the journal (inside the sixth): the case.
struct FlippedJournal {
  explicit FlippedJournal(const std::string& dir) {
    {
      Node n(dir);
      EXPECT_TRUE(n.recovered) << n.recovered.error();
      for (int i = 1; i <= 20; ++i) n.recharge(i);
      EXPECT_EQ(n.balance(), 20 * 100000);
    }  // no clean stop: as after kill -9
    const auto files = segments(dir);
    EXPECT_EQ(files.size(), 1u);
    segment = files.back();
    std::string bytes = read_file(segment);
    std::vector<RecordAt> admin;
    for (const RecordAt& r : records_of(bytes))
      if (r.type == static_cast<uint8_t>(RecordType::kAdmin)) admin.push_back(r);
    EXPECT_EQ(admin.size(), 20u);
    offset = admin[5].offset;
    bytes[offset + files::kRecordHeaderBytes + 10] ^= 0x20;
    write_file(segment, bytes);
    damaged = bytes;
  }
  std::string segment;
  uint64_t offset = 0;
  std::string damaged;
};

// Verifies issue 9 item 3: a flipped byte with acknowledged records after it
// refuses to start — the error names the file and the offset, and the
// journal is left exactly as it was (the old code truncated 15 recharges
// away and started with 5).
TEST(StoreSafety, FlippedJournalByteRefusesToStart) {
  files::testing::TempDir dir;
  FlippedJournal f(dir.path());
  const auto before = tree(dir.path());
  for (int attempt = 0; attempt < 2; ++attempt) {
    Node n(dir.path());
    ASSERT_FALSE(n.recovered);
    EXPECT_NE(n.recovered.error().find(f.segment + " at offset " + std::to_string(f.offset)), std::string::npos)
        << n.recovered.error();
    EXPECT_NE(n.recovered.error().find("--recover=truncate"), std::string::npos) << n.recovered.error();
  }
  EXPECT_EQ(tree(dir.path()), before);
}

// Verifies --recover=truncate starts with the recharges before the damage,
// keeps a byte-exact copy of the damaged segment in discarded/, counts every
// payment id lost, and that the next plain start accepts the result (the
// watermark came down with the operator's consent).
TEST(StoreSafety, TruncateKeepsThePrefixAndTheEvidence) {
  files::testing::TempDir dir;
  FlippedJournal f(dir.path());
  {
    Node n(dir.path(), RecoverMode::kTruncate);
    ASSERT_TRUE(n.recovered) << n.recovered.error();
    EXPECT_EQ(n.balance(), 5 * 100000);
    EXPECT_TRUE(n.state.payments().find("pay-5").has_value());
    EXPECT_FALSE(n.state.payments().find("pay-6").has_value());
    EXPECT_EQ(n.store->status().recovery_payments_lost, 14u);  // pay-7..pay-20; pay-6 itself is damaged
    EXPECT_EQ(n.store->status().recovery_journal_data_loss, 1u);
    const std::string copy = files::discarded_dir(dir.path()) + "/" + f.segment.substr(f.segment.rfind('/') + 1);
    EXPECT_EQ(read_file(copy), f.damaged);
    EXPECT_EQ(files::testing::file_size(f.segment), f.offset);
    n.recharge(6);  // the lost id is new money again, as the log says
  }
  Node again(dir.path());
  ASSERT_TRUE(again.recovered) << again.recovered.error();
  EXPECT_EQ(again.balance(), 6 * 100000);
}

// Verifies a second store on a locked directory is refused, naming the
// directory and the holder's pid, and starts once the first is gone.
TEST(StoreSafety, SecondStoreOnOneDirectoryIsRefused) {
  files::testing::TempDir dir;
  auto first = std::make_unique<Node>(dir.path());
  ASSERT_TRUE(first->recovered) << first->recovered.error();
  first->recharge(1);
  {
    Node second(dir.path());
    ASSERT_FALSE(second.recovered);
    EXPECT_NE(second.recovered.error().find("storage.dir " + dir.path() + " is in use by another tollgated (pid " +
                                            std::to_string(::getpid()) + ")"),
              std::string::npos)
        << second.recovered.error();
  }
  first->recharge(2);
  first.reset();
  Node third(dir.path());
  ASSERT_TRUE(third.recovered) << third.recovered.error();
  EXPECT_EQ(third.balance(), 2 * 100000);
}

// Verifies the identity file: a fresh directory is a first start with
// watermark 0, the first durable record raises it, a clean stop raises it to
// the end of the journal.
TEST(StoreSafety, IdentityMarksTheStoreAndItsWatermark) {
  files::testing::TempDir dir;
  std::string id;
  {
    Node n(dir.path());
    ASSERT_TRUE(n.recovered) << n.recovered.error();
    EXPECT_EQ(watermark(dir.path()), 0u);
    n.recharge(1);
    EXPECT_GE(watermark(dir.path()), 1u);
    n.recharge(2);
    EXPECT_TRUE(n.check_subject("u").allowed);
    ASSERT_TRUE(n.store->final_checkpoint(n.clock.now()));
    EXPECT_EQ(watermark(dir.path()), n.store->status().store.records_committed);
    id = files::read_identity(files::default_file_system(), dir.path())->identity.id;
    EXPECT_EQ(id.size(), 32u);
  }
  Node n(dir.path());
  ASSERT_TRUE(n.recovered) << n.recovered.error();
  EXPECT_EQ(files::read_identity(files::default_file_system(), dir.path())->identity.id, id);
}

// Verifies issue 9 item 4: an emptied or deleted journal with no snapshot is
// not a first start; it is refused, and --recover=empty starts with nothing,
// the old files set aside and every payment id lost counted.
TEST(StoreSafety, EmptiedOrDeletedJournalIsRefused) {
  for (bool remove : {false, true}) {
    SCOPED_TRACE(remove ? "deleted" : "emptied");
    files::testing::TempDir dir;
    {
      Node n(dir.path());
      ASSERT_TRUE(n.recovered) << n.recovered.error();
      for (int i = 1; i <= 3; ++i) n.recharge(i);
    }  // kill -9: only the first record raised the watermark
    for (const std::string& s : segments(dir.path())) {
      if (remove) {
        std::filesystem::remove(s);
      } else {
        write_file(s, "");
      }
    }
    const auto before = tree(dir.path());
    {
      Node n(dir.path());
      ASSERT_FALSE(n.recovered);
      EXPECT_NE(n.recovered.error().find("this store had made seq"), std::string::npos) << n.recovered.error();
    }
    EXPECT_EQ(tree(dir.path()), before);  // refusing changed nothing
    Node n(dir.path(), RecoverMode::kEmpty);
    ASSERT_TRUE(n.recovered) << n.recovered.error();
    EXPECT_EQ(n.balance(), 0);
    EXPECT_TRUE(std::filesystem::exists(files::discarded_dir(dir.path()) + "/identity"));
  }
}

// Verifies issue 9 item 4: when every snapshot is corrupt (here: emptied) or
// missing and the journal no longer starts at its first record, the store
// refuses instead of starting at zero; --recover=truncate starts from what
// can be trusted (here nothing) with the journal and the snapshots set
// aside; a plain start after that is accepted.
TEST(StoreSafety, EveryUnusableSnapshotIsRefused) {
  for (bool remove : {false, true}) {
    SCOPED_TRACE(remove ? "snapshots deleted" : "snapshots emptied");
    files::testing::TempDir dir;
    {
      Node n(dir.path());
      ASSERT_TRUE(n.recovered) << n.recovered.error();
      n.recharge(1);
      ASSERT_TRUE(n.store->snapshot(n.clock.now()));
      n.recharge(2);
      ASSERT_TRUE(n.store->snapshot(n.clock.now()));
      n.recharge(3);
      ASSERT_TRUE(n.store->snapshot(n.clock.now()));  // the journal now starts after the first snapshot
      n.recharge(4);
    }
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      if (!e.path().filename().string().starts_with("snapshot.")) continue;
      if (remove) {
        std::filesystem::remove(e.path());
      } else {
        write_file(e.path(), "");
      }
    }
    const auto before = tree(dir.path());
    {
      Node n(dir.path());
      ASSERT_FALSE(n.recovered);
      EXPECT_NE(n.recovered.error().find("sequence gap: expected segment starting at 1"), std::string::npos)
          << n.recovered.error();
    }
    EXPECT_EQ(tree(dir.path()), before);
    {
      Node n(dir.path(), RecoverMode::kTruncate);
      ASSERT_TRUE(n.recovered) << n.recovered.error();
      EXPECT_EQ(n.balance(), 0);
      EXPECT_GE(n.store->status().recovery_payments_lost, 1u);  // pay-4, after the last snapshot
    }
    Node n(dir.path());
    ASSERT_TRUE(n.recovered) << n.recovered.error();
  }
}

// Verifies a store written before identity files existed keeps working and
// gets one, and a damaged identity file is refused unless --recover says.
TEST(StoreSafety, UpgradeWithoutIdentityAndDamagedIdentity) {
  files::testing::TempDir dir;
  {
    Node n(dir.path());
    ASSERT_TRUE(n.recovered);
    n.recharge(1);
  }
  const std::string identity = dir.file("identity");
  ASSERT_TRUE(std::filesystem::remove(identity));
  {
    Node n(dir.path());
    ASSERT_TRUE(n.recovered) << n.recovered.error();
    EXPECT_EQ(n.balance(), 100000);
    EXPECT_TRUE(std::filesystem::exists(identity));
  }
  std::string text = read_file(identity);
  text[text.find("durable_seq ") + 12] = '7';
  write_file(identity, text);
  {
    Node n(dir.path());
    ASSERT_FALSE(n.recovered);
    EXPECT_NE(n.recovered.error().find("identity file " + identity + " is unreadable (checksum mismatch"),
              std::string::npos)
        << n.recovered.error();
  }
  Node n(dir.path(), RecoverMode::kTruncate);
  ASSERT_TRUE(n.recovered) << n.recovered.error();
  EXPECT_EQ(n.balance(), 100000);
  EXPECT_EQ(watermark(dir.path()), 0u);
}

// Verifies --recover=empty changes nothing when the state is intact.
TEST(StoreSafety, EmptyLeavesAnIntactStoreAlone) {
  files::testing::TempDir dir;
  {
    Node n(dir.path());
    ASSERT_TRUE(n.recovered);
    n.recharge(1);
  }
  Node n(dir.path(), RecoverMode::kEmpty);
  ASSERT_TRUE(n.recovered) << n.recovered.error();
  EXPECT_EQ(n.balance(), 100000);
  EXPECT_FALSE(std::filesystem::exists(files::discarded_dir(dir.path())));
}

// Verifies issue 9 item 6: per_subject counters (a quota and a window per
// SUBJECT) come back after a restart, from the journal and from a snapshot
// (the old code skipped them as "no longer configured").
TEST(StoreSafety, PerSubjectCountersSurviveARestart) {
  for (bool snapshot : {false, true}) {
    SCOPED_TRACE(snapshot ? "snapshot" : "journal");
    files::testing::TempDir dir;
    {
      Node n(dir.path());
      ASSERT_TRUE(n.recovered);
      n.recharge(1);
      EXPECT_TRUE(n.check_subject("alice").allowed);
      EXPECT_TRUE(n.check_subject("alice").allowed);
      EXPECT_FALSE(n.check_subject("alice").allowed);  // per_user_minute: 2
      EXPECT_TRUE(n.check_subject("bob").allowed);
      ASSERT_TRUE(n.store->checkpoint(n.clock.now()));
      if (snapshot) {
        ASSERT_TRUE(n.store->snapshot(n.clock.now()));
      }
    }
    Node n(dir.path());
    ASSERT_TRUE(n.recovered) << n.recovered.error();
    EXPECT_EQ(n.store->status().recovery_keys_skipped, 0u);
    EXPECT_EQ(n.store->status().recovery_limits_skipped, 0u);
    Decision d = n.check_subject("alice");
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limit, "per_user_minute");
    EXPECT_TRUE(n.check_subject("bob").allowed);
    n.clock.advance(61 * kNanosPerSecond);
    EXPECT_TRUE(n.check_subject("alice").allowed);  // the quota's third call
    EXPECT_FALSE(n.check_subject("alice").allowed);  // per_user: 3 a day
  }
}

}  // namespace
}  // namespace tollgate::persist
