// Recovery from torn and corrupt journals: nothing untrusted is ever
// replayed, torn tails are cut off, and appending continues correctly.
#include <gtest/gtest.h>

#include "store/journal.h"
#include "store_test_util.h"

namespace tollgate::store {
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

// Verifies each corruption reason is named: bad magic, bad checksum and a
// sequence that skips one.
TEST(JournalRecoveryTest, NamesTheReason) {
  TempDir dir;
  Fixture f = build(dir.path());
  std::string full = read_file(f.last_segment);
  uint64_t last_start = f.last_segment_offsets[3];
  auto reason_after = [&](std::string bytes) {
    write_file(f.last_segment, bytes);
    auto scan = scan_journal(default_file_system(), dir.path(), 0, [](const RecordView&) {});
    EXPECT_TRUE(scan);
    return scan && scan->torn_tail ? scan->torn_tail->reason : std::string("none");
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
  // Drop record 8: record 9 then follows 7, a gap that a valid checksum cannot hide.
  std::string gap = full.substr(0, f.last_segment_offsets[2]) + full.substr(f.last_segment_offsets[3]);
  EXPECT_EQ(reason_after(gap), "sequence gap: expected 8, found 9");
  // scan_journal reads only; nothing was truncated.
  EXPECT_EQ(file_size(f.last_segment), gap.size());
}

// Verifies corruption in a segment that is not the last is reported as data
// loss: records before it are replayed, later ones are not, the evidence is
// kept as .corrupt files, and the journal continues from the last good record.
TEST(JournalRecoveryTest, CorruptionBeforeLastSegmentIsDataLoss) {
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
  Recorder recorder;
  auto journal = Journal::open(dir.path(), options, recorder.visitor());
  ASSERT_TRUE(journal) << journal.error().message;
  EXPECT_EQ(recorder.records, first_n(f.records, 2));
  ASSERT_TRUE(journal->recovery().data_loss);
  EXPECT_EQ(journal->recovery().data_loss->file, f.first_segment);
  EXPECT_EQ(journal->recovery().data_loss->offset, third_start);
  EXPECT_EQ(journal->recovery().data_loss->reason, "bad checksum");
  EXPECT_FALSE(journal->recovery().torn_tail);
  EXPECT_EQ(status.journal_data_loss_events, 1u);
  EXPECT_EQ(journal->recovery().quarantined,
            (std::vector<std::string>{f.first_segment + ".corrupt", f.last_segment + ".corrupt"}));
  EXPECT_EQ(read_file(f.first_segment + ".corrupt"), damaged);  // the evidence, byte for byte
  EXPECT_EQ(file_size(f.first_segment), third_start);

  EXPECT_EQ(journal->append(7, "after loss"), 3u);
  ASSERT_EQ(journal->commit(), 3u);
  Recorder reread;
  auto reopened = Journal::open(dir.path(), {}, reread.visitor());
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(reopened->recovery().data_loss);
  ASSERT_EQ(reread.records.size(), 3u);
  EXPECT_EQ(reread.records[2], (Seen{7, 3, "after loss"}));
}

// Verifies a missing segment in the middle is data loss at the next one.
TEST(JournalRecoveryTest, MissingMiddleSegmentIsDataLoss) {
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
  Recorder recorder;
  auto journal = Journal::open(dir.path(), {}, recorder.visitor());
  ASSERT_TRUE(journal);
  EXPECT_EQ(recorder.records.size(), 2u);
  ASSERT_TRUE(journal->recovery().data_loss);
  EXPECT_EQ(journal->recovery().data_loss->file, dir.file(journal_segment_name(5)));
  EXPECT_EQ(journal->next_seq(), 3u);
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
}  // namespace tollgate::store
