// Keeps a second process off a storage directory: an exclusive flock(2) on
// `<dir>/lock`, taken before anything in the directory is read and held for
// the owner's lifetime (the kernel drops it when the descriptor closes, so a
// crashed daemon leaves no stale lock). The holder writes its pid into the
// file so the refusal can name it. Two daemons on one directory would each
// append to the same journal from their own idea of its end, and whatever
// one acknowledged the other would overwrite or make unreadable.
// Move-only; not thread-safe (one owner). Borrows the FileSystem, which must
// outlive it.
#pragma once

#include <string>

#include "persist/files/file_system.h"

namespace tollgate::files {

class DirectoryLock {
 public:
  // Creates `<dir>/lock` if needed and locks it without waiting. Fails with
  // EWOULDBLOCK (message naming the directory and the holder's pid, when the
  // file tells it) if another process holds it, or with the I/O error.
  [[nodiscard]] static Result<DirectoryLock> acquire(FileSystem& fs, const std::string& dir);

  DirectoryLock() = default;
  DirectoryLock(DirectoryLock&&) noexcept = default;
  DirectoryLock& operator=(DirectoryLock&&) noexcept = default;

  bool held() const { return file_.is_open(); }
  const std::string& path() const { return file_.path(); }

 private:
  explicit DirectoryLock(ScopedFile file) : file_(std::move(file)) {}
  ScopedFile file_;
};

// "lock".
inline constexpr const char* kLockFileName = "lock";

}  // namespace tollgate::files
