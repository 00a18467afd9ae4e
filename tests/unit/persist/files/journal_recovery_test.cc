// Recovery from torn and corrupt journals: nothing untrusted is ever
// replayed, torn tails are cut off and appending continues correctly, and
// corruption (damage a crash cannot leave) refuses to open, changing nothing,
// unless discard_corruption sets it aside in <dir>/discarded/.
#include <gtest/gtest.h>

#include "persist/files/discarded.h"
#include "persist/files/journal.h"
#include "store_test_util.h"

#include <filesystem>

namespace tollgate::files {
namespace {

using testing::Recorder;
using testing::Seen;
using testing::TempDir;
using testing::file_size;
using testing::read_file;
using testing::write_file;

// A journal of two segments: records 1..5 in the first, 6..9 in the second.
// Returns every record and the byte offset where each record of the last
// segment starts.
struct Fixture {
  std::vector<Seen> records;
  std::string first_segment;
  std::string last_segment;
  std::vector<uint64_t> last_segment_offsets;  // start of records 6..9, then the end
  std::vector<uint64_t> first_segment_offsets;
};

Fixture build(const std::string& dir) {
  Fixture f;
  Recorder none;
  auto journal = Journal::open(dir, {}, none.visitor());
  EXPECT_TRUE(journal) << journal.error().message;
  f.first_segment_offsets.push_back(0);
  for (uint64_t seq = 1; seq <= 9; ++seq) {
    std::string payload = "record-" + std::to_string(seq) + std::string(seq * 3, 'p');
    journal->append(static_cast<uint8_t>(seq), payload);
    EXPECT_EQ(journal->commit(), seq);
    f.records.push_back({static_cast<uint8_t>(seq), seq, payload});
    std::string current = journal->segment_paths().back();
    if (seq <= 5) f.first_segment_offsets.push_back(file_size(current));
    if (seq >= 6) f.last_segment_offsets.push_back(file_size(current));
    if (seq == 5) {
      EXPECT_EQ(journal->rotate(true), true);
      f.last_segment_offsets.push_back(0);
    }
  }
  f.first_segment = journal->segment_paths().front();
  f.last_segment = journal->segment_paths().back();
  return f;
}

std::vector<Seen> first_n(const std::vector<Seen>& all, size_t n) { return {all.begin(), all.begin() + n}; }

// Verifies that cutting the last segment at every byte offset inside its
// last record recovers exactly the earlier records, truncates the file to
// the last good record, and lets appending continue with the right sequence.
TEST(JournalRecoveryTest, TornTailAtEveryOffsetOfLastRecord) {
  TempDir dir;
  Fixture f = build(dir.path());
  std::string full = read_file(f.last_segment);
  uint64_t last_start = f.last_segment_offsets[3];
  uint64_t last_end = f.last_segment_offsets[4];
  ASSERT_EQ(full.size(), last_end);
  for (uint64_t cut = last_start; cut < last_end; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    write_file(f.last_segment, full.substr(0, cut));
    StoreStatus status;
    JournalOptions options;
    options.status = &status;
    Recorder recorder;
    auto journal = Journal::open(dir.path(), options, recorder.visitor());
    ASSERT_TRUE(journal) << journal.error().message;
    EXPECT_EQ(recorder.records, first_n(f.records, 8));
    EXPECT_EQ(journal->recovery().torn_tail.has_value(), cut > last_start);
    if (cut > last_start) {
      EXPECT_EQ(journal->recovery().torn_tail->file, f.last_segment);
      EXPECT_EQ(journal->recovery().torn_tail->offset, last_start);
      EXPECT_EQ(journal->recovery().bytes_truncated, cut - last_start);
      EXPECT_EQ(status.records_truncated_at_recovery, 1u);
    }
    EXPECT_FALSE(journal->recovery().data_loss);
    EXPECT_EQ(file_size(f.last_segment), last_start);
    EXPECT_EQ(journal->next_seq(), 9u);

    EXPECT_EQ(journal->append(42, "again"), 9u);
    ASSERT_EQ(journal->commit(), 9u);
    Recorder reread;
    auto reopened = Journal::open(dir.path(), {}, reread.visitor());
    ASSERT_TRUE(reopened);
    EXPECT_FALSE(reopened->recovery().torn_tail);
    ASSERT_EQ(reread.records.size(), 9u);
    EXPECT_EQ(reread.records.back(), (Seen{42, 9, "again"}));
  }
}

// Verifies a flipped byte anywhere in the last record (header, checksum or
// payload) is detected, the record is not replayed, and it is truncated.
TEST(JournalRecoveryTest, FlippedByteInLastRecordIsTruncated) {
  TempDir dir;
  Fixture f = build(dir.path());
  std::string full = read_file(f.last_segment);
  uint64_t last_start = f.last_segment_offsets[3];
  for (uint64_t pos = last_start; pos < full.size(); ++pos) {
    SCOPED_TRACE("flip at " + std::to_string(pos));
    std::string damaged = full;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x5A);
    write_file(f.last_segment, damaged);
    Recorder recorder;
    auto journal = Journal::open(dir.path(), {}, recorder.visitor());
    ASSERT_TRUE(journal) << journal.error().message;
    EXPECT_EQ(recorder.records, first_n(f.records, 8));
    ASSERT_TRUE(journal->recovery().torn_tail);
    EXPECT_EQ(journal->recovery().torn_tail->offset, last_start);
    EXPECT_FALSE(journal->recovery().data_loss);
    EXPECT_EQ(file_size(f.last_segment), last_start);
  }
}

// Verifies each reason is named: bad magic, bad checksum, short header and
// payload (torn tails), and a sequence that skips one (corruption).
TEST(JournalRecoveryTest, NamesTheReason) {
  TempDir dir;
  Fixture f = build(dir.path());
  std::string full = read_file(f.last_segment);
  uint64_t last_start = f.last_segment_offsets[3];
  auto reason_after = [&](std::string bytes) {
    write_file(f.last_segment, bytes);
    auto scan = scan_journal(default_file_system(), dir.path(), 0, [](const RecordView&) {});
    EXPECT_TRUE(scan);
    if (scan && scan->torn_tail) return scan->torn_tail->reason;
    if (scan && scan->data_loss) return "corrupt: " + scan->data_loss->reason;
    return std::string("none");
  };
  std::string bad_magic = full;
  bad_magic[last_start] = 0;
  EXPECT_EQ(reason_after(bad_magic), "bad magic");
  std::string bad_payload = full;
  bad_payload.back() ^= 1;
  EXPECT_EQ(reason_after(bad_payload), "bad checksum");
  EXPECT_EQ(reason_after(full.substr(0, last_start + 5)), "short header");
  EXPECT_EQ(reason_after(full.substr(0, full.size() - 1)), "short payload");
  EXPECT_EQ(reason_after(full + std::string(100, '\0')), "bad magic");  // preallocated zeros
  // Drop record 8: record 9 then follows 7, a gap that a valid checksum
  // cannot hide — and an intact record no crash can leave: corruption.
  std::string gap = full.substr(0, f.last_segment_offsets[2]) + full.substr(f.last_segment_offsets[3]);
  EXPECT_EQ(reason_after(gap), "corrupt: sequence gap: expected 8, found 9");
  // scan_journal reads only; nothing was truncated.
  EXPECT_EQ(file_size(f.last_segment), gap.size());
}

// Verifies corruption in a segment that is not the last refuses to open by
// default: the error names the file and offset, and nothing on disk changes.
TEST(JournalRecoveryTest, CorruptionBeforeLastSegmentIsRefused) {
  TempDir dir;
  Fixture f = build(dir.path());
  std::string first = read_file(f.first_segment);
  uint64_t third_start = f.first_segment_offsets[2];
  std::string damaged = first;
  damaged[third_start + kRecordHeaderBytes + 2] ^= 0x01;  // payload byte of record 3
  write_file(f.first_segment, damaged);
  const std::string last = read_file(f.last_segment);
  const auto names = dir.names();

  StoreStatus status;
  JournalOptions options;
  options.status = &status;
  for (int attempt = 0; attempt < 2; ++attempt) {  // a refused start refuses again
    Recorder recorder;
    auto journal = Journal::open(dir.path(), options, recorder.visitor());
    ASSERT_FALSE(journal);
    EXPECT_EQ(journal.error().kind(), StoreErrorKind::kCorrupt);
    EXPECT_NE(journal.error().message.find(f.first_segment + " at offset " + std::to_string(third_start)),
              std::string::npos)
        << journal.error().message;
    EXPECT_NE(journal.error().message.find("bad checksum"), std::string::npos) << journal.error().message;
    EXPECT_EQ(recorder.records, first_n(f.records, 2));
  }
  EXPECT_EQ(dir.names(), names);
  EXPECT_EQ(read_file(f.first_segment), damaged);
  EXPECT_EQ(read_file(f.last_segment), last);
  EXPECT_EQ(status.write_errors_other, 0u);  // corruption is not a write error
}

// Verifies discard_corruption keeps the records before the damage, copies the
// damaged segment and moves every later one to <dir>/discarded/, hands every
// intact record after the damage to on_untrusted, and continues the journal.
TEST(JournalRecoveryTest, DiscardSetsCorruptionAsideAndContinues) {
  TempDir dir;
  Fixture f = build(dir.path());
  std::string first = read_file(f.first_segment);
  uint64_t third_start = f.first_segment_offsets[2];
  std::string damaged = first;
  damaged[third_start + kRecordHeaderBytes + 2] ^= 0x01;  // payload byte of record 3
  write_file(f.first_segment, damaged);

  StoreStatus status;
  JournalOptions options;
  options.status = &status;
  options.discard_corruption = true;
  Recorder untrusted;
  options.on_untrusted = untrusted.visitor();
  Recorder recorder;
  auto journal = Journal::open(dir.path(), options, recorder.visitor());
  ASSERT_TRUE(journal) << journal.error().message;
  EXPECT_EQ(recorder.records, first_n(f.records, 2));
  ASSERT_TRUE(journal->recovery().data_loss);
  EXPECT_EQ(journal->recovery().data_loss->file, f.first_segment);
  EXPECT_EQ(journal->recovery().data_loss->offset, third_start);
  EXPECT_EQ(journal->recovery().data_loss->reason, "bad checksum");
  EXPECT_EQ(journal->recovery().data_loss->intact_after, 2u);  // records 4 and 5
  EXPECT_FALSE(journal->recovery().torn_tail);
  EXPECT_EQ(status.journal_data_loss_events, 1u);
  // Records 4..9 are intact and were not replayed: the caller is told of each.
  EXPECT_EQ(untrusted.records, std::vector<Seen>(f.records.begin() + 3, f.records.end()));
  EXPECT_EQ(journal->recovery().untrusted_records, 6u);
  const std::string aside = discarded_dir(dir.path());
  const auto name = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  EXPECT_EQ(journal->recovery().quarantined,
            (std::vector<std::string>{aside + "/" + name(f.first_segment), aside + "/" + name(f.last_segment)}));
  EXPECT_EQ(read_file(aside + "/" + name(f.first_segment)), damaged);  // the evidence, byte for byte
  EXPECT_FALSE(std::filesystem::exists(f.last_segment));
  EXPECT_EQ(file_size(f.first_segment), third_start);

  EXPECT_EQ(journal->append(7, "after loss"), 3u);
  ASSERT_EQ(journal->commit(), 3u);
  Recorder reread;
  auto reopened = Journal::open(dir.path(), {}, reread.visitor());
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_FALSE(reopened->recovery().data_loss);
  ASSERT_EQ(reread.records.size(), 3u);
  EXPECT_EQ(reread.records[2], (Seen{7, 3, "after loss"}));
}

// Verifies the regression of issue 9 item 3: one flipped byte anywhere in a
// record of the LAST segment that has records after it is corruption, not a
// torn tail — open refuses, naming the file and the record's offset, and
// truncates nothing (the old code cut every later record away).
TEST(JournalRecoveryTest, FlippedByteWithRecordsAfterItIsCorruption) {
  TempDir dir;
  Fixture f = build(dir.path());
  const std::string full = read_file(f.last_segment);
  // Records 6, 7 and 8 each have an intact record after them.
  for (size_t record = 0; record < 3; ++record) {
    const uint64_t start = f.last_segment_offsets[record];
    for (uint64_t pos = start; pos < f.last_segment_offsets[record + 1]; ++pos) {
      SCOPED_TRACE("record " + std::to_string(6 + record) + ", flip at " + std::to_string(pos));
      std::string damaged = full;
      damaged[pos] = static_cast<char>(damaged[pos] ^ 0x5A);
      write_file(f.last_segment, damaged);
      Recorder recorder;
      auto journal = Journal::open(dir.path(), {}, recorder.visitor());
      ASSERT_FALSE(journal);
      EXPECT_EQ(journal.error().kind(), StoreErrorKind::kCorrupt);
      EXPECT_NE(journal.error().message.find(f.last_segment + " at offset " + std::to_string(start)),
                std::string::npos)
          << journal.error().message;
      EXPECT_EQ(recorder.records, first_n(f.records, 5 + record));
      ASSERT_EQ(read_file(f.last_segment), damaged);  // nothing truncated
    }
  }
}

// Verifies a garbage length field cannot pass for a torn record: the search
// for intact records after it does not trust the length, so the records it
// would have swallowed make it corruption. A garbage length on the last
// record, with nothing intact after it, is still a torn tail.
TEST(JournalRecoveryTest, GarbageLengthFieldIsCorruptionWhenRecordsFollow) {
  TempDir dir;
  Fixture f = build(dir.path());
  const std::string full = read_file(f.last_segment);
  for (uint32_t length : {0xFFFFFFFFu, 0x00FFFFFFu, 3u}) {
    SCOPED_TRACE("length " + std::to_string(length));
    std::string damaged = full;
    const uint64_t seventh = f.last_segment_offsets[1];
    for (int i = 0; i < 4; ++i) damaged[seventh + 4 + i] = static_cast<char>((length >> (8 * i)) & 0xFF);
    write_file(f.last_segment, damaged);
    auto scan = scan_journal(default_file_system(), dir.path(), 0, [](const RecordView&) {});
    ASSERT_TRUE(scan);
    EXPECT_FALSE(scan->torn_tail);
    ASSERT_TRUE(scan->data_loss);
    EXPECT_EQ(scan->data_loss->offset, seventh);
    EXPECT_EQ(scan->data_loss->intact_after, 2u);

    std::string last_damaged = full;
    const uint64_t ninth = f.last_segment_offsets[3];
    for (int i = 0; i < 4; ++i) last_damaged[ninth + 4 + i] = static_cast<char>((length >> (8 * i)) & 0xFF);
    write_file(f.last_segment, last_damaged);
    auto torn = scan_journal(default_file_system(), dir.path(), 0, [](const RecordView&) {});
    ASSERT_TRUE(torn);
    EXPECT_FALSE(torn->data_loss);
    ASSERT_TRUE(torn->torn_tail);
    EXPECT_EQ(torn->torn_tail->offset, ninth);
  }
}

// Verifies zeros (or any junk) inserted between two records are corruption:
// the record after them is intact.
TEST(JournalRecoveryTest, JunkBetweenRecordsIsCorruption) {
  TempDir dir;
  Fixture f = build(dir.path());
  const std::string full = read_file(f.last_segment);
  const uint64_t eighth = f.last_segment_offsets[2];
  write_file(f.last_segment, full.substr(0, eighth) + std::string(4096, '\0') + full.substr(eighth));
  Recorder recorder;
  auto journal = Journal::open(dir.path(), {}, recorder.visitor());
  ASSERT_FALSE(journal);
  EXPECT_NE(journal.error().message.find("at offset " + std::to_string(eighth)), std::string::npos)
      << journal.error().message;
}

// Verifies a missing segment in the middle is corruption at the next one:
// refused by default, the later segments set aside with discard_corruption.
TEST(JournalRecoveryTest, MissingMiddleSegmentIsCorruption) {
  TempDir dir;
  Recorder none;
  {
    auto journal = Journal::open(dir.path(), {}, none.visitor());
    ASSERT_TRUE(journal);
    for (uint64_t seq = 1; seq <= 6; ++seq) {
      journal->append(1, "x");
      ASSERT_EQ(journal->commit(), seq);
      if (seq % 2 == 0) {
        ASSERT_EQ(journal->rotate(true), true);
      }
    }
  }
  ASSERT_EQ(::unlink(dir.file(journal_segment_name(3)).c_str()), 0);
  {
    Recorder recorder;
    auto refused = Journal::open(dir.path(), {}, recorder.visitor());
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find(dir.file(journal_segment_name(5))), std::string::npos)
        << refused.error().message;
  }
  JournalOptions options;
  options.discard_corruption = true;
  Recorder recorder;
  auto journal = Journal::open(dir.path(), options, recorder.visitor());
  ASSERT_TRUE(journal);
  EXPECT_EQ(recorder.records.size(), 2u);
  ASSERT_TRUE(journal->recovery().data_loss);
  EXPECT_EQ(journal->recovery().data_loss->file, dir.file(journal_segment_name(5)));
  EXPECT_EQ(journal->next_seq(), 3u);
}

// Verifies what the store relies on to tell lost state from a new store: no
// segment at all while a snapshot exists, or a journal that ends before the
// required sequence (the identity watermark), refuses to open and changes
// nothing; discard_corruption starts from what is there.
TEST(JournalRecoveryTest, MissingRecordsAreRefused) {
  TempDir dir;
  JournalOptions options;
  options.after_seq = 50;  // a snapshot at 50, no journal
  Recorder none;
  auto removed = Journal::open(dir.path(), options, none.visitor());
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("no journal segment"), std::string::npos) << removed.error().message;
  EXPECT_TRUE(dir.names().empty());  // no segment was created: the next start refuses too

  options.after_seq = 0;
  {
    auto journal = Journal::open(dir.path(), options, none.visitor());
    ASSERT_TRUE(journal);
    for (int i = 0; i < 5; ++i) journal->append(1, "x");
    ASSERT_EQ(journal->commit(), 5u);
  }
  options.required_seq = 5;
  ASSERT_TRUE(Journal::open(dir.path(), options, none.visitor()));
  write_file(dir.file(journal_segment_name(1)), "");  // emptied
  options.required_seq = 5;
  auto emptied = Journal::open(dir.path(), options, none.visitor());
  ASSERT_FALSE(emptied);
  EXPECT_NE(emptied.error().message.find("reach seq 0, but this store had made seq 5 durable"), std::string::npos)
      << emptied.error().message;
  options.discard_corruption = true;
  auto accepted = Journal::open(dir.path(), options, none.visitor());
  ASSERT_TRUE(accepted);
  ASSERT_TRUE(accepted->recovery().data_loss);
  EXPECT_EQ(accepted->next_seq(), 1u);
}

// Verifies files that are not segments (quarantined copies, strays) are ignored.
TEST(JournalRecoveryTest, IgnoresNonSegmentFiles) {
  TempDir dir;
  write_file(dir.file("journal.0000000000000001.corrupt"), "garbage");
  write_file(dir.file("journal.12"), "garbage");
  write_file(dir.file("notes.txt"), "garbage");
  Recorder recorder;
  auto journal = Journal::open(dir.path(), {}, recorder.visitor());
  ASSERT_TRUE(journal);
  EXPECT_TRUE(recorder.records.empty());
  EXPECT_FALSE(journal->recovery().data_loss);
  EXPECT_FALSE(journal->recovery().torn_tail);
}

}  // namespace
}  // namespace tollgate::files
