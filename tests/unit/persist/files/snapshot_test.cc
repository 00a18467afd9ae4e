#include "persist/files/snapshot.h"

#include <gtest/gtest.h>

#include "support/faulty_file_system.h"
#include "store_test_util.h"

namespace tollgate::files {
namespace {

using testing::TempDir;
using testing::file_size;
using testing::read_file;
using testing::write_file;

struct Item {
  uint8_t type;
  std::string bytes;
  bool operator==(const Item&) const = default;
};

struct Loaded {
  std::vector<Item> items;
  SnapshotVisitor visitor() {
    return [this](uint8_t type, std::string_view bytes) { items.push_back({type, std::string(bytes)}); };
  }
};

std::vector<Item> sample(uint64_t seed, size_t count) {
  std::vector<Item> items;
  for (size_t i = 0; i < count; ++i) {
    items.push_back({static_cast<uint8_t>(i % 5), std::string((i * 7 + seed) % 50, static_cast<char>('A' + i % 26))});
  }
  return items;
}

Result<SnapshotInfo> write_items(const std::string& dir, uint64_t seq, const std::vector<Item>& items,
                                 const SnapshotOptions& options = {}) {
  std::vector<SnapshotRecord> records;
  for (const Item& item : items) records.push_back({item.type, item.bytes});
  return write_snapshot(dir, seq, records, options);
}

// Verifies a snapshot round-trips its records and sequence, and the file is
// named by its sequence with no .tmp left behind.
TEST(SnapshotTest, WriteAndLoad) {
  TempDir dir;
  StoreStatus status;
  SnapshotOptions options;
  options.status = &status;
  auto items = sample(1, 100);
  auto info = write_items(dir.path(), 42, items, options);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->path, dir.file("snapshot.0000000000000042"));
  EXPECT_EQ(info->records, 100u);
  EXPECT_EQ(info->bytes, file_size(info->path));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"snapshot.0000000000000042"});
  EXPECT_EQ(status.snapshots_written, 1u);
  EXPECT_EQ(status.bytes_written, info->bytes);

  Loaded loaded;
  auto load = load_latest(dir.path(), loaded.visitor(), options);
  ASSERT_TRUE(load);
  ASSERT_TRUE(load->loaded);
  EXPECT_EQ(load->loaded->seq, 42u);
  EXPECT_TRUE(load->skipped.empty());
  EXPECT_EQ(loaded.items, items);
}

// Verifies an empty directory loads nothing, without error.
TEST(SnapshotTest, NoSnapshot) {
  TempDir dir;
  Loaded loaded;
  auto load = load_latest(dir.path(), loaded.visitor());
  ASSERT_TRUE(load);
  EXPECT_FALSE(load->loaded);
  EXPECT_TRUE(loaded.items.empty());
}

// Verifies a snapshot far larger than the writer's buffer streams through
// in chunks, including records bigger than the buffer and empty records.
TEST(SnapshotTest, LargeSnapshotStreamsInChunks) {
  TempDir dir;
  FaultyFileSystem fs;
  SnapshotOptions options;
  options.fs = &fs;
  options.buffer_bytes = 4096;
  auto writer = SnapshotWriter::create(dir.path(), 7, options);
  ASSERT_TRUE(writer);
  std::vector<Item> items;
  for (int i = 0; i < 2000; ++i) {
    size_t size = i % 100 == 0 ? 10000 : (i % 3 == 0 ? 0 : 300);
    items.push_back({static_cast<uint8_t>(i), std::string(size, static_cast<char>(i))});
    ASSERT_TRUE(writer->add(items.back().type, items.back().bytes));
  }
  uint64_t writes_before_finish = fs.calls(FileOp::kWrite);
  auto info = writer->finish();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_GT(writes_before_finish, 100u);  // flushed as it went, not in one buffer
  Loaded loaded;
  auto load = load_latest(dir.path(), loaded.visitor(), options);
  ASSERT_TRUE(load);
  ASSERT_TRUE(load->loaded);
  EXPECT_EQ(loaded.items, items);
}

// Verifies a corrupt newest snapshot (any flipped byte, or truncation) is
// skipped with a report and the previous one is loaded instead; its records
// are never delivered.
TEST(SnapshotTest, CorruptNewestFallsBackToPrevious) {
  TempDir dir;
  auto older = sample(1, 20);
  auto newer = sample(2, 20);
  ASSERT_TRUE(write_items(dir.path(), 10, older));
  auto written = write_items(dir.path(), 20, newer);
  ASSERT_TRUE(written);
  std::string good = read_file(written->path);
  std::vector<std::string> damaged_versions = {good.substr(0, good.size() - 1), good.substr(0, 10), ""};
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::string flipped = good;
    flipped[pos] ^= 0x20;
    damaged_versions.push_back(flipped);
  }
  for (const std::string& damaged : damaged_versions) {
    write_file(written->path, damaged);
    StoreStatus status;
    SnapshotOptions options;
    options.status = &status;
    Loaded loaded;
    auto load = load_latest(dir.path(), loaded.visitor(), options);
    ASSERT_TRUE(load);
    ASSERT_TRUE(load->loaded);
    EXPECT_EQ(load->loaded->seq, 10u);
    EXPECT_EQ(loaded.items, older);
    ASSERT_EQ(load->skipped.size(), 1u);
    EXPECT_EQ(load->skipped[0].file, written->path);
    EXPECT_FALSE(load->skipped[0].reason.empty());
    EXPECT_EQ(status.corrupt_snapshots_skipped, 1u);
  }
}

// Verifies a leftover .tmp (a crash mid-write) is ignored by loading and
// deleted.
TEST(SnapshotTest, LeftoverTmpIgnoredAndCleaned) {
  TempDir dir;
  auto items = sample(3, 5);
  ASSERT_TRUE(write_items(dir.path(), 5, items));
  write_file(dir.file("snapshot.0000000000000009.tmp"), "half a snapshot");
  Loaded loaded;
  auto load = load_latest(dir.path(), loaded.visitor());
  ASSERT_TRUE(load);
  EXPECT_EQ(load->loaded->seq, 5u);
  EXPECT_EQ(loaded.items, items);
  EXPECT_TRUE(load->skipped.empty());
  EXPECT_EQ(load->removed, std::vector<std::string>{dir.file("snapshot.0000000000000009.tmp")});
  EXPECT_EQ(dir.names(), std::vector<std::string>{"snapshot.0000000000000005"});
}

// Verifies retention keeps the newest K snapshots and deletes older ones.
TEST(SnapshotTest, RetentionKeepsNewestK) {
  TempDir dir;
  SnapshotOptions options;
  options.keep = 2;
  for (uint64_t seq : {3, 1, 2, 4}) ASSERT_TRUE(write_items(dir.path(), seq, sample(seq, 3), options));
  EXPECT_EQ(dir.names(), (std::vector<std::string>{"snapshot.0000000000000003", "snapshot.0000000000000004"}));
  options.keep = 3;
  ASSERT_TRUE(write_items(dir.path(), 5, sample(5, 3), options));
  EXPECT_EQ(dir.names().size(), 3u);
  auto pruned = prune_snapshots(dir.path(), 1);
  ASSERT_TRUE(pruned);
  EXPECT_EQ(pruned->size(), 2u);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"snapshot.0000000000000005"});
}

// Verifies a failure at any step of writing (ENOSPC on write, EIO on fsync,
// failed rename, EROFS creating the file) is an error value, leaves no .tmp
// and no new snapshot, and the previous snapshot still loads; a retry works.
TEST(SnapshotTest, WriteFailuresLeaveNothingBehind) {
  const std::vector<Fault> faults = {
      {.op = FileOp::kWrite, .error = ENOSPC},
      {.op = FileOp::kWrite, .short_write_bytes = 3},  // continued, then...
      {.op = FileOp::kSync, .error = EIO},
      {.op = FileOp::kRename, .error = EIO},
      {.op = FileOp::kOpen, .error = EROFS, .writable_opens_only = true},
  };
  for (const Fault& fault : faults) {
    SCOPED_TRACE(static_cast<int>(fault.op));
    TempDir dir;
    auto previous = sample(9, 10);
    ASSERT_TRUE(write_items(dir.path(), 1, previous));
    FaultyFileSystem fs;
    StoreStatus status;
    SnapshotOptions options;
    options.fs = &fs;
    options.status = &status;
    options.buffer_bytes = 64;
    fs.add_fault(fault);
    bool short_write = fault.short_write_bytes != Fault::kNoShortWrite;
    if (short_write) fs.add_fault({.op = FileOp::kWrite, .nth = 2, .error = ENOSPC});
    auto failed = write_items(dir.path(), 2, sample(10, 50), options);
    ASSERT_FALSE(failed);
    EXPECT_EQ(status.write_errors_enospc + status.write_errors_eio + status.write_errors_erofs, 1u);
    EXPECT_EQ(dir.names(), std::vector<std::string>{"snapshot.0000000000000001"});
    Loaded loaded;
    auto load = load_latest(dir.path(), loaded.visitor());
    ASSERT_TRUE(load);
    EXPECT_EQ(load->loaded->seq, 1u);
    EXPECT_EQ(loaded.items, previous);

    fs.clear_faults();
    ASSERT_TRUE(write_items(dir.path(), 2, sample(10, 50), options));
  }
}

// Verifies a writer abandoned before finish() removes its .tmp, and a
// finished or failed writer refuses more work.
TEST(SnapshotTest, AbandonedWriterRemovesTmp) {
  TempDir dir;
  {
    auto writer = SnapshotWriter::create(dir.path(), 3);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->add(1, "x"));
    EXPECT_EQ(dir.names(), std::vector<std::string>{"snapshot.0000000000000003.tmp"});
  }
  EXPECT_TRUE(dir.names().empty());
  auto writer = SnapshotWriter::create(dir.path(), 4);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->finish());
  EXPECT_FALSE(writer->add(1, "late"));
  EXPECT_FALSE(writer->finish());
  EXPECT_EQ(dir.names(), std::vector<std::string>{"snapshot.0000000000000004"});
}

}  // namespace
}  // namespace tollgate::files
