#include "persist/files/directory_lock.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace tollgate::files {
namespace {

// The pid the holder wrote, or "" when the file does not say.
std::string holder_pid(FileSystem& fs, const FileHandle& file) {
  char buffer[32];
  auto got = read_full_at(fs, file, buffer, sizeof buffer, 0);
  if (!got) return "";
  std::string text(buffer, *got);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  const bool digits =
      !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits ? text : "";
}

}  // namespace

Result<DirectoryLock> DirectoryLock::acquire(FileSystem& fs, const std::string& dir) {
  const std::string path = join_path(dir, kLockFileName);
  // O_RDWR without O_TRUNC: the holder's pid must stay readable to the loser.
  auto opened = fs.open(path, O_RDWR | O_CREAT, 0644);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  if (auto locked = fs.lock_exclusive(file.get()); !locked) {
    if (locked.error().error_number != EWOULDBLOCK) return std::unexpected(std::move(locked.error()));
    const std::string pid = holder_pid(fs, file.get());
    return std::unexpected(StoreError{
        EWOULDBLOCK, "storage.dir " + dir + " is in use by another tollgated" +
                         (pid.empty() ? std::string() : " (pid " + pid + ")") + ", which holds the lock on " + path +
                         "; two daemons on one directory would lose acknowledged changes"});
  }
  // Informational only (the lock is the flock, not the content): no sync.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (auto t = fs.ftruncate(file.get(), 0); !t) return std::unexpected(std::move(t.error()));
  if (auto w = write_all_at(fs, file.get(), pid, 0); !w) return std::unexpected(std::move(w.error()));
  return DirectoryLock(std::move(file));
}

}  // namespace tollgate::files
