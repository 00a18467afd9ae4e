#include "persist/files/file_system.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace tollgate::files {

StoreError make_error(int error_number, std::string_view op, std::string_view path) {
  std::string message;
  message.reserve(op.size() + path.size() + 40);
  message.append(op).append(" ").append(path).append(": ");
  message.append(error_number == 0 ? "corrupt" : std::strerror(error_number));
  return StoreError{error_number, std::move(message)};
}

namespace {

// Runs a syscall returning -1/errno, retrying EINTR.
template <typename Call>
auto retry_eintr(Call call) {
  for (;;) {
    auto rc = call();
    if (rc >= 0 || errno != EINTR) return rc;
  }
}

}  // namespace

Result<FileHandle> PosixFileSystem::open(const std::string& path, int flags, unsigned mode) {
  int fd = retry_eintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return std::unexpected(make_error(errno, "open", path));
  return FileHandle{fd, path};
}

Result<void> PosixFileSystem::close(FileHandle& file) {
  int fd = file.fd;
  file.fd = -1;
  // Never retry close(2) on EINTR: on Linux the descriptor is already gone.
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) {
    return std::unexpected(make_error(errno, "close", file.path));
  }
  return {};
}

Result<size_t> PosixFileSystem::write(const FileHandle& file, std::string_view data) {
  ssize_t n = retry_eintr([&] { return ::write(file.fd, data.data(), data.size()); });
  if (n < 0) return std::unexpected(make_error(errno, "write", file.path));
  return static_cast<size_t>(n);
}

Result<size_t> PosixFileSystem::pwrite(const FileHandle& file, std::string_view data, uint64_t offset) {
  ssize_t n = retry_eintr(
      [&] { return ::pwrite(file.fd, data.data(), data.size(), static_cast<off_t>(offset)); });
  if (n < 0) return std::unexpected(make_error(errno, "write", file.path));
  return static_cast<size_t>(n);
}

Result<size_t> PosixFileSystem::read(const FileHandle& file, char* buffer, size_t size) {
  ssize_t n = retry_eintr([&] { return ::read(file.fd, buffer, size); });
  if (n < 0) return std::unexpected(make_error(errno, "read", file.path));
  return static_cast<size_t>(n);
}

Result<size_t> PosixFileSystem::pread(const FileHandle& file, char* buffer, size_t size, uint64_t offset) {
  ssize_t n = retry_eintr([&] { return ::pread(file.fd, buffer, size, static_cast<off_t>(offset)); });
  if (n < 0) return std::unexpected(make_error(errno, "read", file.path));
  return static_cast<size_t>(n);
}

Result<void> PosixFileSystem::fsync(const FileHandle& file) {
  if (retry_eintr([&] { return ::fsync(file.fd); }) != 0) {
    return std::unexpected(make_error(errno, "fsync", file.path));
  }
  return {};
}

Result<void> PosixFileSystem::fdatasync(const FileHandle& file) {
  if (retry_eintr([&] { return ::fdatasync(file.fd); }) != 0) {
    return std::unexpected(make_error(errno, "fdatasync", file.path));
  }
  return {};
}

Result<void> PosixFileSystem::ftruncate(const FileHandle& file, uint64_t length) {
  if (retry_eintr([&] { return ::ftruncate(file.fd, static_cast<off_t>(length)); }) != 0) {
    return std::unexpected(make_error(errno, "ftruncate", file.path));
  }
  return {};
}

Result<uint64_t> PosixFileSystem::size(const FileHandle& file) {
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) return std::unexpected(make_error(errno, "fstat", file.path));
  return static_cast<uint64_t>(st.st_size);
}

Result<void> PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return std::unexpected(make_error(errno, "rename " + from + " to", to));
  }
  return {};
}

Result<void> PosixFileSystem::unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return std::unexpected(make_error(errno, "unlink", path));
  return {};
}

Result<std::vector<std::string>> PosixFileSystem::readdir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::unexpected(make_error(errno, "opendir", dir));
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = ::readdir(d)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  int read_errno = errno;
  ::closedir(d);
  if (read_errno != 0) return std::unexpected(make_error(read_errno, "readdir", dir));
  return names;
}

Result<void> PosixFileSystem::mkdir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return std::unexpected(make_error(errno, "mkdir", dir));
  }
  return {};
}

Result<void> PosixFileSystem::lock_exclusive(const FileHandle& file) {
  if (retry_eintr([&] { return ::flock(file.fd, LOCK_EX | LOCK_NB); }) != 0) {
    return std::unexpected(make_error(errno, "flock", file.path));
  }
  return {};
}

FileSystem& default_file_system() {
  static PosixFileSystem fs;
  return fs;
}

ScopedFile& ScopedFile::operator=(ScopedFile&& other) noexcept {
  if (this != &other) {
    reset();
    fs_ = other.fs_;
    file_ = std::move(other.file_);
    other.file_.fd = -1;
  }
  return *this;
}

Result<void> ScopedFile::close() {
  if (!is_open()) return {};
  return fs_->close(file_);
}

void ScopedFile::reset() {
  if (is_open()) (void)fs_->close(file_);
}

Result<void> write_all_at(FileSystem& fs, const FileHandle& file, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    auto written = fs.pwrite(file, data, offset);
    if (!written) return std::unexpected(std::move(written.error()));
    // A zero-byte write would loop forever; treat it as the disk being full.
    if (*written == 0) return std::unexpected(make_error(ENOSPC, "write (0 bytes)", file.path));
    data.remove_prefix(*written);
    offset += *written;
  }
  return {};
}

Result<size_t> read_full_at(FileSystem& fs, const FileHandle& file, char* buffer, size_t size,
                            uint64_t offset) {
  size_t total = 0;
  while (total < size) {
    auto got = fs.pread(file, buffer + total, size - total, offset + total);
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got == 0) break;
    total += *got;
  }
  return total;
}

Result<void> fsync_directory(FileSystem& fs, const std::string& dir) {
  auto handle = fs.open(dir, O_RDONLY | O_DIRECTORY);
  if (!handle) return std::unexpected(std::move(handle.error()));
  ScopedFile file(fs, std::move(*handle));
  if (auto synced = fs.fsync(file.get()); !synced) return synced;
  return file.close();
}

Result<size_t> BufferedReader::read(char* out, size_t size) {
  size_t copied = 0;
  while (copied < size) {
    if (begin_ == end_) {
      // Large reads bypass the buffer.
      if (size - copied >= buffer_.size()) {
        auto got = read_full_at(fs_, file_, out + copied, size - copied, file_offset_);
        if (!got) return std::unexpected(std::move(got.error()));
        file_offset_ += *got;
        return copied + *got;
      }
      auto got = fs_.pread(file_, buffer_.data(), buffer_.size(), file_offset_);
      if (!got) return std::unexpected(std::move(got.error()));
      if (*got == 0) break;
      begin_ = 0;
      end_ = *got;
      file_offset_ += *got;
    }
    size_t n = std::min(size - copied, end_ - begin_);
    std::memcpy(out + copied, buffer_.data() + begin_, n);
    begin_ += n;
    copied += n;
  }
  return copied;
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

}  // namespace tollgate::files
