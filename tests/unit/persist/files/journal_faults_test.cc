// Journal under injected disk failures: every failure is an error value,
// no partial record is ever readable, a retry succeeds, and nothing already
// durable is damaged.
#include <gtest/gtest.h>

#include "support/faulty_file_system.h"
#include "persist/files/journal.h"
#include "store_test_util.h"

namespace tollgate::files {
namespace {

using testing::Recorder;
using testing::Seen;
using testing::TempDir;
using testing::file_size;

// Reads the journal without changing it: what a reader would trust now.
std::vector<Seen> trusted_records(const std::string& dir, bool* torn = nullptr) {
  Recorder recorder;
  auto scan = scan_journal(default_file_system(), dir, 0, recorder.visitor());
  EXPECT_TRUE(scan);
  if (torn != nullptr) *torn = scan && scan->torn_tail.has_value();
  if (scan) {
    EXPECT_FALSE(scan->data_loss);
  }
  return recorder.records;
}

class JournalFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.fs = &fs_;
    options_.status = &status_;
    Recorder none;
    auto journal = Journal::open(dir_.path(), options_, none.visitor());
    ASSERT_TRUE(journal) << journal.error().message;
    journal_.emplace(std::move(*journal));
    for (uint64_t seq = 1; seq <= 3; ++seq) add(seq);
    ASSERT_EQ(journal_->commit(), 3u);
    durable_bytes_ = file_size(segment());
  }

  void add(uint64_t seq) {
    std::string payload = "payload-" + std::to_string(seq);
    EXPECT_EQ(journal_->append(1, payload), seq);
    expected_.push_back({1, seq, payload});
  }
  std::string segment() const { return journal_->segment_paths().back(); }
  std::vector<Seen> first(size_t n) const { return {expected_.begin(), expected_.begin() + n}; }

  TempDir dir_;
  FaultyFileSystem fs_;
  StoreStatus status_;
  JournalOptions options_;
  std::optional<Journal> journal_;
  std::vector<Seen> expected_;
  uint64_t durable_bytes_ = 0;
};

// Verifies ENOSPC on write returns an error naming the file, keeps the
// records pending, leaves the file at its durable length, and a retry writes them.
TEST_F(JournalFaultsTest, EnospcOnWriteThenRetry) {
  add(4);
  add(5);
  fs_.add_fault({.op = FileOp::kWrite, .error = ENOSPC});
  auto failed = journal_->commit();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind(), StoreErrorKind::kNoSpace);
  EXPECT_NE(failed.error().message.find(segment()), std::string::npos) << failed.error().message;
  EXPECT_EQ(status_.write_errors_enospc, 1u);
  EXPECT_EQ(status_.last_error, failed.error().message);
  EXPECT_EQ(journal_->pending_records(), 2u);
  EXPECT_EQ(journal_->last_durable_seq(), 3u);
  EXPECT_EQ(file_size(segment()), durable_bytes_);
  EXPECT_EQ(trusted_records(dir_.path()), first(3));

  add(6);  // appends keep working while the disk is full
  ASSERT_EQ(journal_->commit(), 6u);
  EXPECT_EQ(trusted_records(dir_.path()), first(6));
}

// Verifies EIO on fdatasync: the written-but-unsynced batch is cut back (a
// later sync could lie about it), stays pending, and the retry rewrites it.
TEST_F(JournalFaultsTest, EioOnFsyncThenRetry) {
  add(4);
  fs_.add_fault({.op = FileOp::kSync, .error = EIO});
  auto failed = journal_->commit();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind(), StoreErrorKind::kIo);
  EXPECT_EQ(failed.error().error_number, EIO);
  EXPECT_EQ(status_.write_errors_eio, 1u);
  EXPECT_EQ(file_size(segment()), durable_bytes_);
  EXPECT_EQ(journal_->pending_records(), 1u);
  EXPECT_EQ(trusted_records(dir_.path()), first(3));
  ASSERT_EQ(journal_->commit(), 4u);
  EXPECT_EQ(trusted_records(dir_.path()), first(4));
}

// Verifies a short write is continued: the commit still succeeds whole.
TEST_F(JournalFaultsTest, ShortWriteIsContinued) {
  add(4);
  add(5);
  uint64_t writes = fs_.calls(FileOp::kWrite);
  fs_.add_fault({.op = FileOp::kWrite, .short_write_bytes = 7});
  ASSERT_EQ(journal_->commit(), 5u);
  EXPECT_EQ(fs_.calls(FileOp::kWrite) - writes, 2u);
  EXPECT_EQ(trusted_records(dir_.path()), first(5));
}

// Verifies a short write followed by ENOSPC leaves no partial record: the
// file is cut back to the last durable byte before the error is returned.
TEST_F(JournalFaultsTest, ShortWriteThenEnospcLeavesNoPartialRecord) {
  add(4);
  fs_.add_fault({.op = FileOp::kWrite, .short_write_bytes = 30});
  fs_.add_fault({.op = FileOp::kWrite, .nth = 2, .error = ENOSPC});
  ASSERT_FALSE(journal_->commit());
  EXPECT_EQ(file_size(segment()), durable_bytes_);
  bool torn = true;
  EXPECT_EQ(trusted_records(dir_.path(), &torn), first(3));
  EXPECT_FALSE(torn);
  ASSERT_EQ(journal_->commit(), 4u);
  EXPECT_EQ(trusted_records(dir_.path()), first(4));
}

// Verifies that when even the cut-back fails, the partial bytes are never
// trusted by a reader (a torn tail), the next commit overwrites them, and a
// crash instead would have them truncated at recovery.
TEST_F(JournalFaultsTest, FailedCutBackIsRepairedByRetryOrRecovery) {
  add(4);
  add(5);
  // 20 bytes: part of record 4's header. (A longer short write could hold
  // whole records of the failed batch; those may survive a crash, which is
  // allowed: only the returned sequence is promised durable.)
  fs_.add_fault({.op = FileOp::kWrite, .short_write_bytes = 20});
  fs_.add_fault({.op = FileOp::kWrite, .nth = 2, .error = EIO});
  fs_.add_fault({.op = FileOp::kTruncate, .error = EIO});
  ASSERT_FALSE(journal_->commit());
  EXPECT_EQ(file_size(segment()), durable_bytes_ + 20);
  bool torn = false;
  EXPECT_EQ(trusted_records(dir_.path(), &torn), first(3));
  EXPECT_TRUE(torn);

  // Path 1: a crash now. Recovery cuts the partial record off.
  {
    TempDir copy;
    std::filesystem::copy(dir_.path(), copy.path(), std::filesystem::copy_options::recursive);
    Recorder recorder;
    auto recovered = Journal::open(copy.path(), {}, recorder.visitor());
    ASSERT_TRUE(recovered);
    EXPECT_EQ(recorder.records, first(3));
    EXPECT_TRUE(recovered->recovery().torn_tail);
    EXPECT_EQ(recovered->next_seq(), 4u);
  }
  // Path 2: the process lives on and retries.
  add(6);
  ASSERT_EQ(journal_->commit(), 6u);
  EXPECT_EQ(trusted_records(dir_.path(), &torn), first(6));
  EXPECT_FALSE(torn);
}

// Verifies rotate() refuses to leave a segment with uncut partial bytes
// behind (they would read as data loss once it is not the last segment).
TEST_F(JournalFaultsTest, RotateCutsPartialBytesFirst) {
  add(4);
  fs_.add_fault({.op = FileOp::kWrite, .short_write_bytes = 20});
  fs_.add_fault({.op = FileOp::kWrite, .nth = 2, .error = ENOSPC});
  fs_.add_fault({.op = FileOp::kTruncate, .nth = 1, .error = EIO});
  fs_.add_fault({.op = FileOp::kTruncate, .nth = 2, .error = EIO});
  ASSERT_FALSE(journal_->commit());
  auto refused = journal_->rotate(true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(journal_->segment_paths().size(), 1u);
  ASSERT_EQ(journal_->rotate(true), true);  // the third ftruncate works
  ASSERT_EQ(journal_->commit(), 4u);
  Recorder recorder;
  auto scan = scan_journal(default_file_system(), dir_.path(), 0, recorder.visitor());
  ASSERT_TRUE(scan);
  EXPECT_FALSE(scan->data_loss);
  EXPECT_FALSE(scan->torn_tail);
  EXPECT_EQ(recorder.records, first(4));
}

// Verifies rotate() makes a cut-back durable before it leaves the segment:
// after a failed fdatasync the batch is cut back in the page cache only, and
// a power loss could grow the segment back with the failed batch, which in a
// segment that is no longer the last reads as corruption. While that sync
// fails the rotation is refused; the next attempt syncs and rotates.
TEST_F(JournalFaultsTest, RotateSyncsACutBackFirst) {
  add(4);
  fs_.add_fault({.op = FileOp::kSync, .error = EIO});
  ASSERT_FALSE(journal_->commit());  // written, sync failed, cut back
  const std::string old_segment = segment();
  fs_.add_fault({.op = FileOp::kSync, .error = EIO, .path_contains = old_segment});
  auto refused = journal_->rotate(true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(journal_->segment_paths().size(), 1u);
  const uint64_t syncs = fs_.calls(FileOp::kSync);
  ASSERT_EQ(journal_->rotate(true), true);
  EXPECT_GE(fs_.calls(FileOp::kSync) - syncs, 2u);  // the old segment, then the directory
  ASSERT_EQ(journal_->commit(), 4u);
  EXPECT_EQ(trusted_records(dir_.path()), first(4));
}

// Verifies EROFS when opening a segment for writing is an error value from
// Journal::open, counted, and that opening works once the fault is gone.
TEST_F(JournalFaultsTest, ErofsOnOpen) {
  journal_.reset();
  fs_.add_fault({.op = FileOp::kOpen, .error = EROFS, .sticky = true, .writable_opens_only = true});
  Recorder recorder;
  auto failed = Journal::open(dir_.path(), options_, recorder.visitor());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind(), StoreErrorKind::kReadOnly);
  EXPECT_NE(failed.error().message.find(dir_.path()), std::string::npos);
  EXPECT_EQ(status_.write_errors_erofs, 1u);
  fs_.clear_faults();
  Recorder again;
  auto journal = Journal::open(dir_.path(), options_, again.visitor());
  ASSERT_TRUE(journal);
  EXPECT_EQ(again.records, first(3));
}

// Verifies a segment that cannot be created at rotation fails the commit,
// keeps the records pending, and the next commit rotates and writes them.
TEST_F(JournalFaultsTest, ErofsOnRotation) {
  ASSERT_EQ(journal_->rotate(true), true);
  add(4);
  ASSERT_EQ(journal_->commit(), 4u);
  options_.segment_bytes = 1;
  journal_.reset();
  Recorder none;
  auto reopened = Journal::open(dir_.path(), options_, none.visitor());
  ASSERT_TRUE(reopened);
  journal_.emplace(std::move(*reopened));
  add(5);
  fs_.add_fault({.op = FileOp::kOpen, .error = EROFS, .writable_opens_only = true});
  auto failed = journal_->commit();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().error_number, EROFS);
  EXPECT_EQ(journal_->pending_records(), 1u);
  ASSERT_EQ(journal_->commit(), 5u);
  EXPECT_EQ(segment(), dir_.file(journal_segment_name(5)));
  EXPECT_EQ(trusted_records(dir_.path()), first(5));
}

// Verifies fault rules: nth counts matching calls only, sticky keeps firing,
// path filters apply, and clear_faults stops everything.
TEST(FaultyFileSystemTest, RulesMatchAsDocumented) {
  TempDir dir;
  FaultyFileSystem fs;
  fs.add_fault({.op = FileOp::kUnlink, .nth = 2, .error = EIO});
  fs.add_fault({.op = FileOp::kMkdir, .error = ENOSPC, .sticky = true, .path_contains = "full"});
  EXPECT_EQ(fs.unlink(dir.file("a")).error().error_number, ENOENT);  // real call
  EXPECT_EQ(fs.unlink(dir.file("a")).error().error_number, EIO);     // injected
  EXPECT_EQ(fs.unlink(dir.file("a")).error().error_number, ENOENT);
  EXPECT_TRUE(fs.mkdir(dir.file("ok")));
  EXPECT_EQ(fs.mkdir(dir.file("full1")).error().error_number, ENOSPC);
  EXPECT_EQ(fs.mkdir(dir.file("full2")).error().error_number, ENOSPC);
  EXPECT_EQ(fs.faults_fired(), 3u);
  fs.clear_faults();
  EXPECT_TRUE(fs.mkdir(dir.file("full3")));
  EXPECT_EQ(fs.calls(FileOp::kUnlink), 3u);
}

}  // namespace
}  // namespace tollgate::files
