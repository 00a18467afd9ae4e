#include "persist/files/journal.h"

#include <gtest/gtest.h>

#include "support/faulty_file_system.h"
#include "store_test_util.h"
#include "tollgate/time.h"

namespace tollgate::files {
namespace {

using testing::Recorder;
using testing::Seen;
using testing::TempDir;
using testing::payload_for;

Journal open_or_die(const std::string& dir, const JournalOptions& options, Recorder& recorder) {
  auto journal = Journal::open(dir, options, recorder.visitor());
  if (!journal) {
    ADD_FAILURE() << journal.error().message;
    std::abort();
  }
  return std::move(*journal);
}

// Verifies records written across many segments come back in order, with
// their types, sequences and payloads, after reopening.
TEST(JournalTest, RoundTripAcrossSegments) {
  TempDir dir;
  JournalOptions options;
  options.segment_bytes = 1024;
  std::vector<Seen> expected;
  {
    Recorder none;
    Journal journal = open_or_die(dir.path(), options, none);
    EXPECT_TRUE(none.records.empty());
    for (uint64_t i = 1; i <= 500; ++i) {
      uint64_t seq = journal.append(static_cast<uint8_t>(i % 7), payload_for(i));
      EXPECT_EQ(seq, i);
      expected.push_back({static_cast<uint8_t>(i % 7), i, payload_for(i)});
      if (i % 10 == 0) {
        ASSERT_EQ(journal.commit(), i);
      }
    }
    EXPECT_GT(journal.segment_paths().size(), 5u);
  }
  Recorder recorder;
  Journal journal = open_or_die(dir.path(), options, recorder);
  EXPECT_EQ(recorder.records, expected);
  EXPECT_EQ(journal.recovery().records_replayed, 500u);
  EXPECT_FALSE(journal.recovery().torn_tail);
  EXPECT_FALSE(journal.recovery().data_loss);
  EXPECT_EQ(journal.next_seq(), 501u);
  // Segment names carry their first sequence.
  for (const std::string& path : journal.segment_paths()) {
    EXPECT_NE(path.find("/journal."), std::string::npos);
    EXPECT_EQ(path.size() - path.rfind('/') - 1, std::string("journal.").size() + 16);
  }
}

// Verifies group commit: many appends become durable with one write and one
// fdatasync, and an empty commit touches nothing.
TEST(JournalTest, GroupCommitSyncsOncePerBatch) {
  TempDir dir;
  FaultyFileSystem fs;  // no faults: used to count calls
  StoreStatus status;
  JournalOptions options;
  options.fs = &fs;
  options.status = &status;
  Recorder none;
  Journal journal = open_or_die(dir.path(), options, none);
  uint64_t syncs = fs.calls(FileOp::kSync);
  uint64_t writes = fs.calls(FileOp::kWrite);
  for (int i = 0; i < 1000; ++i) journal.append(1, std::string(64, 'x'));
  EXPECT_EQ(journal.pending_records(), 1000u);
  EXPECT_EQ(journal.last_durable_seq(), 0u);
  ASSERT_EQ(journal.commit(), 1000u);
  EXPECT_EQ(fs.calls(FileOp::kSync) - syncs, 1u);
  EXPECT_EQ(fs.calls(FileOp::kWrite) - writes, 1u);
  EXPECT_EQ(journal.pending_records(), 0u);
  EXPECT_EQ(status.commits, 1u);
  EXPECT_EQ(status.records_committed, 1000u);
  EXPECT_EQ(status.bytes_written, 1000u * (kRecordHeaderBytes + 64));
  EXPECT_EQ(status.fsyncs, 1u);
  ASSERT_EQ(journal.commit(), 1000u);
  EXPECT_EQ(fs.calls(FileOp::kSync) - syncs, 1u);
}

// Verifies fsync latency is measured with the injected clock.
TEST(JournalTest, FsyncLatencyUsesInjectedClock) {
  TempDir dir;
  ManualClock clock;
  StoreStatus status;
  JournalOptions options;
  options.status = &status;
  options.clock = &clock;
  Recorder none;
  Journal journal = open_or_die(dir.path(), options, none);
  journal.append(1, "a");
  ASSERT_TRUE(journal.commit());
  EXPECT_EQ(status.fsync_latency_last_ns, 0u);  // the manual clock did not move
  EXPECT_EQ(status.fsync_latency_max_ns, 0u);
}

// Verifies a commit that fills the segment makes the next commit start a
// new one, whose name is its first sequence, and that rotate() is a no-op on
// an empty or non-full segment unless forced.
TEST(JournalTest, RotatesWhenSegmentIsFull) {
  TempDir dir;
  JournalOptions options;
  options.segment_bytes = 100;
  Recorder none;
  Journal journal = open_or_die(dir.path(), options, none);
  EXPECT_EQ(journal.rotate(), false);
  EXPECT_EQ(journal.rotate(true), false);  // nothing in it yet
  journal.append(1, std::string(200, 'x'));
  ASSERT_EQ(journal.commit(), 1u);
  EXPECT_EQ(journal.segment_paths().size(), 1u);
  journal.append(1, "small");
  ASSERT_EQ(journal.commit(), 2u);
  ASSERT_EQ(journal.segment_paths().size(), 2u);
  EXPECT_EQ(journal.segment_paths()[1], dir.file(journal_segment_name(2)));
  EXPECT_EQ(journal.rotate(), false);     // 29 bytes < 100
  EXPECT_EQ(journal.rotate(true), true);  // forced
  EXPECT_EQ(journal.segment_paths().back(), dir.file(journal_segment_name(3)));
}

// Verifies drop_segments_before deletes exactly the segments whose records
// are all below the given sequence, keeps the live one, and that recovery
// after a snapshot (after_seq) replays only newer records.
TEST(JournalTest, DropSegmentsCoveredBySnapshot) {
  TempDir dir;
  StoreStatus status;
  JournalOptions options;
  options.status = &status;
  Recorder none;
  Journal journal = open_or_die(dir.path(), options, none);
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    journal.append(1, payload_for(seq));
    ASSERT_TRUE(journal.commit());
    if (seq % 10 == 0) {
      ASSERT_EQ(journal.rotate(true), true);
    }
  }
  // Segments: 1..10, 11..20, 21..30, 31.. (empty, live).
  ASSERT_EQ(journal.segment_paths().size(), 4u);
  EXPECT_EQ(journal.drop_segments_before(15), 1u);  // 11..20 still holds 15..20
  EXPECT_EQ(journal.segment_paths().front(), dir.file(journal_segment_name(11)));
  EXPECT_EQ(journal.drop_segments_before(1000), 2u);  // never the live segment
  EXPECT_EQ(journal.segment_paths(), std::vector<std::string>{dir.file(journal_segment_name(31))});
  EXPECT_EQ(status.segments_dropped, 3u);
  journal.append(1, payload_for(31));
  ASSERT_EQ(journal.commit(), 31u);

  options.after_seq = 30;  // a snapshot covers 1..30
  Recorder recorder;
  Journal reopened = open_or_die(dir.path(), options, recorder);
  ASSERT_EQ(recorder.records.size(), 1u);
  EXPECT_EQ(recorder.records[0].seq, 31u);
  EXPECT_FALSE(reopened.recovery().data_loss);

  // Without the snapshot, the missing 1..30 are corruption: refused.
  options.after_seq = 0;
  Recorder without;
  auto lost = Journal::open(dir.path(), options, without.visitor());
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind(), StoreErrorKind::kCorrupt);
}

// Verifies that when a snapshot is newer than the journal's end, appending
// continues after the snapshot in a new segment that later recovers cleanly.
TEST(JournalTest, SnapshotNewerThanJournalStartsNewSegment) {
  TempDir dir;
  JournalOptions options;
  Recorder none;
  {
    Journal journal = open_or_die(dir.path(), options, none);
    journal.append(1, "one");
    ASSERT_EQ(journal.commit(), 1u);
  }
  options.after_seq = 50;
  {
    Journal journal = open_or_die(dir.path(), options, none);
    EXPECT_EQ(journal.next_seq(), 51u);
    EXPECT_EQ(journal.append(2, "fifty-one"), 51u);
    ASSERT_EQ(journal.commit(), 51u);
  }
  Recorder recorder;
  Journal journal = open_or_die(dir.path(), options, recorder);
  EXPECT_FALSE(journal.recovery().data_loss);
  EXPECT_EQ(recorder.records, (std::vector<Seen>{{2, 51, "fifty-one"}}));
}

// Verifies the status table lists every counter once, in order.
TEST(JournalTest, StatusTableVisitsAllCounters) {
  StoreStatus status;
  status.commits = 7;
  std::vector<std::string> names;
  uint64_t commits = 0;
  status.for_each_counter([&](const char* name, uint64_t value, const char* description) {
    names.emplace_back(name);
    EXPECT_NE(std::string(description), "");
    if (std::string(name) == "commits") commits = value;
  });
  EXPECT_EQ(names.front(), "bytes_written");
  EXPECT_EQ(commits, 7u);
  EXPECT_EQ(names.size(), 17u);
}

}  // namespace
}  // namespace tollgate::files
