// The store's window onto files: a small injectable interface over the POSIX
// calls the journal and snapshots need, so tests can inject ENOSPC, EIO,
// EROFS and short writes. Implementations are not thread-safe; the store uses
// them from one control-plane thread. Callers own the FileSystem and every
// FileHandle they open (close it, or hold it in a ScopedFile).
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persist/files/store_error.h"

namespace tollgate::files {

// An open file: the descriptor plus the path, so errors can name the file.
struct FileHandle {
  int fd = -1;
  std::string path;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // open(2) with O_CLOEXEC added.
  virtual Result<FileHandle> open(const std::string& path, int flags, unsigned mode = 0644) = 0;
  virtual Result<void> close(FileHandle& file) = 0;
  // One write(2)/pwrite(2): may write fewer bytes than asked (a short write).
  virtual Result<size_t> write(const FileHandle& file, std::string_view data) = 0;
  virtual Result<size_t> pwrite(const FileHandle& file, std::string_view data, uint64_t offset) = 0;
  // One read(2)/pread(2): may return fewer bytes than asked; 0 at end of file.
  virtual Result<size_t> read(const FileHandle& file, char* buffer, size_t size) = 0;
  virtual Result<size_t> pread(const FileHandle& file, char* buffer, size_t size, uint64_t offset) = 0;
  virtual Result<void> fsync(const FileHandle& file) = 0;
  virtual Result<void> fdatasync(const FileHandle& file) = 0;
  virtual Result<void> ftruncate(const FileHandle& file, uint64_t length) = 0;
  virtual Result<uint64_t> size(const FileHandle& file) = 0;
  virtual Result<void> rename(const std::string& from, const std::string& to) = 0;
  virtual Result<void> unlink(const std::string& path) = 0;
  // Names in `dir` (no "." or ".."), unsorted.
  virtual Result<std::vector<std::string>> readdir(const std::string& dir) = 0;
  // Creates `dir` (one level); an existing directory is success.
  virtual Result<void> mkdir(const std::string& dir) = 0;
  // flock(2) LOCK_EX | LOCK_NB: fails with EWOULDBLOCK while another open
  // file description (another process, or another open() here) holds it.
  // Released when the descriptor is closed.
  virtual Result<void> lock_exclusive(const FileHandle& file) = 0;
};

// The real thing: POSIX calls, EINTR retried. Stateless, so thread-safe.
class PosixFileSystem final : public FileSystem {
 public:
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
};

// A process-wide PosixFileSystem for callers that do not inject one.
FileSystem& default_file_system();

// Closes its file on destruction (errors ignored: nothing useful to do with
// them after the data has been synced or abandoned). Move-only.
class ScopedFile {
 public:
  ScopedFile() = default;
  ScopedFile(FileSystem& fs, FileHandle file) : fs_(&fs), file_(std::move(file)) {}
  ScopedFile(ScopedFile&& other) noexcept : fs_(other.fs_), file_(std::move(other.file_)) {
    other.file_.fd = -1;
  }
  ScopedFile& operator=(ScopedFile&& other) noexcept;
  ScopedFile(const ScopedFile&) = delete;
  ScopedFile& operator=(const ScopedFile&) = delete;
  ~ScopedFile() { reset(); }

  bool is_open() const { return file_.fd >= 0; }
  const FileHandle& get() const { return file_; }
  const std::string& path() const { return file_.path; }
  // Closes now and reports the error close(2) gave, if any.
  Result<void> close();
  void reset();

 private:
  FileSystem* fs_ = nullptr;
  FileHandle file_;
};

// pwrite(2) until all of `data` is written at `offset`, or an error. On error
// some prefix of `data` may be on disk; the caller decides what to do with it.
[[nodiscard]] Result<void> write_all_at(FileSystem& fs, const FileHandle& file, std::string_view data,
                                        uint64_t offset);
// pread(2) until `size` bytes or end of file; returns the bytes read.
[[nodiscard]] Result<size_t> read_full_at(FileSystem& fs, const FileHandle& file, char* buffer,
                                          size_t size, uint64_t offset);
// Makes renames, creations and unlinks in `dir` durable.
[[nodiscard]] Result<void> fsync_directory(FileSystem& fs, const std::string& dir);
// Reads a file front to back through a buffer, so record-sized reads do not
// each cost a syscall. Does not own the FileHandle. Not thread-safe.
class BufferedReader {
 public:
  BufferedReader(FileSystem& fs, const FileHandle& file, size_t buffer_bytes = 1 << 20)
      : fs_(fs), file_(file), buffer_(buffer_bytes, '\0') {}
  // Copies up to `size` bytes; fewer only at end of file.
  [[nodiscard]] Result<size_t> read(char* out, size_t size);
  // File offset of the next byte read() returns.
  uint64_t offset() const { return file_offset_ - (end_ - begin_); }

 private:
  FileSystem& fs_;
  const FileHandle& file_;
  std::string buffer_;
  size_t begin_ = 0;           // next unread byte in buffer_
  size_t end_ = 0;             // end of valid bytes in buffer_
  uint64_t file_offset_ = 0;   // file offset just past buffer_[end_ - 1]
};

// "dir/name", without doubling a trailing slash.
std::string join_path(std::string_view dir, std::string_view name);

}  // namespace tollgate::files
