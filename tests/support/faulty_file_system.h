// A FileSystem for tests that forwards to a real one but can make chosen
// calls fail (ENOSPC, EIO, EROFS, ...) or write only part of a buffer.
// Not thread-safe. Does not own the wrapped FileSystem.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "persist/files/file_system.h"

namespace tollgate::files {

// Which calls a Fault matches. write+pwrite are kWrite, read+pread are kRead,
// fsync+fdatasync are kSync.
enum class FileOp : uint8_t {
  kOpen, kClose, kWrite, kRead, kSync, kTruncate, kSize, kRename, kUnlink, kReaddir, kMkdir,
  kLock,
  kCount,
};

struct Fault {
  static constexpr size_t kNoShortWrite = std::numeric_limits<size_t>::max();

  FileOp op = FileOp::kWrite;
  uint64_t nth = 1;      // fires on the nth matching call after add_fault (1 = the next one)
  int error = EIO;       // errno the call fails with
  bool sticky = false;   // keeps firing on every later matching call until clear_faults()
  // kWrite only: really write min(size, short_write_bytes) bytes and report
  // that count instead of failing (`error` is then ignored).
  size_t short_write_bytes = kNoShortWrite;
  std::string path_contains = {};  // when set, only calls on paths containing it match
  bool writable_opens_only = false;  // kOpen only: match only opens for writing
};

class FaultyFileSystem final : public FileSystem {
 public:
  explicit FaultyFileSystem(FileSystem& real = default_file_system()) : real_(real) {}

  void add_fault(Fault fault) { faults_.push_back({std::move(fault), 0}); }
  void clear_faults() { faults_.clear(); }
  // Calls of `op` made so far (faulted or not).
  uint64_t calls(FileOp op) const { return calls_[static_cast<size_t>(op)]; }
  uint64_t faults_fired() const { return fired_; }

  Result<FileHandle> open(const std::string& path, int flags, unsigned mode = 0644) override;
  Result<void> close(FileHandle& file) override;
  Result<size_t> write(const FileHandle& file, std::string_view data) override;
  Result<size_t> pwrite(const FileHandle& file, std::string_view data, uint64_t offset) override;
  Result<size_t> read(const FileHandle& file, char* buffer, size_t size) override;
  Result<size_t> pread(const FileHandle& file, char* buffer, size_t size, uint64_t offset) override;
  Result<void> fsync(const FileHandle& file) override;
  Result<void> fdatasync(const FileHandle& file) override;
  Result<void> ftruncate(const FileHandle& file, uint64_t length) override;
  Result<uint64_t> size(const FileHandle& file) override;
  Result<void> rename(const std::string& from, const std::string& to) override;
  Result<void> unlink(const std::string& path) override;
  Result<std::vector<std::string>> readdir(const std::string& dir) override;
  Result<void> mkdir(const std::string& dir) override;
  Result<void> lock_exclusive(const FileHandle& file) override;

 private:
  struct Armed {
    Fault fault;
    uint64_t seen;
  };
  // Counts the call and returns the fault that fires on it, if any.
  const Fault* check(FileOp op, const std::string& path, int open_flags = 0);
  template <typename T>
  Result<T> fail(const Fault& fault, std::string_view op, const std::string& path) {
    return std::unexpected(make_error(fault.error, std::string(op) + " (injected)", path));
  }

  FileSystem& real_;
  std::vector<Armed> faults_;
  std::array<uint64_t, static_cast<size_t>(FileOp::kCount)> calls_{};
  uint64_t fired_ = 0;
};

}  // namespace tollgate::files
