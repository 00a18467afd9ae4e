#include "support/faulty_file_system.h"

#include <algorithm>

namespace tollgate::files {

const Fault* FaultyFileSystem::check(FileOp op, const std::string& path, int open_flags) {
  ++calls_[static_cast<size_t>(op)];
  const Fault* firing = nullptr;
  for (Armed& armed : faults_) {
    const Fault& f = armed.fault;
    if (f.op != op) continue;
    if (!f.path_contains.empty() && path.find(f.path_contains) == std::string::npos) continue;
    if (op == FileOp::kOpen && f.writable_opens_only &&
        (open_flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) == 0) {
      continue;
    }
    ++armed.seen;
    bool fires = f.sticky ? armed.seen >= f.nth : armed.seen == f.nth;
    if (fires && firing == nullptr) firing = &f;
  }
  if (firing != nullptr) ++fired_;
  return firing;
}

Result<FileHandle> FaultyFileSystem::open(const std::string& path, int flags, unsigned mode) {
  if (const Fault* f = check(FileOp::kOpen, path, flags)) return fail<FileHandle>(*f, "open", path);
  return real_.open(path, flags, mode);
}

Result<void> FaultyFileSystem::close(FileHandle& file) {
  if (const Fault* f = check(FileOp::kClose, file.path)) {
    (void)real_.close(file);  // the descriptor is gone either way, as with close(2)
    return fail<void>(*f, "close", file.path);
  }
  return real_.close(file);
}

Result<size_t> FaultyFileSystem::write(const FileHandle& file, std::string_view data) {
  if (const Fault* f = check(FileOp::kWrite, file.path)) {
    if (f->short_write_bytes == Fault::kNoShortWrite) return fail<size_t>(*f, "write", file.path);
    return real_.write(file, data.substr(0, std::min(data.size(), f->short_write_bytes)));
  }
  return real_.write(file, data);
}

Result<size_t> FaultyFileSystem::pwrite(const FileHandle& file, std::string_view data, uint64_t offset) {
  if (const Fault* f = check(FileOp::kWrite, file.path)) {
    if (f->short_write_bytes == Fault::kNoShortWrite) return fail<size_t>(*f, "write", file.path);
    return real_.pwrite(file, data.substr(0, std::min(data.size(), f->short_write_bytes)), offset);
  }
  return real_.pwrite(file, data, offset);
}

Result<size_t> FaultyFileSystem::read(const FileHandle& file, char* buffer, size_t size) {
  if (const Fault* f = check(FileOp::kRead, file.path)) return fail<size_t>(*f, "read", file.path);
  return real_.read(file, buffer, size);
}

Result<size_t> FaultyFileSystem::pread(const FileHandle& file, char* buffer, size_t size, uint64_t offset) {
  if (const Fault* f = check(FileOp::kRead, file.path)) return fail<size_t>(*f, "read", file.path);
  return real_.pread(file, buffer, size, offset);
}

Result<void> FaultyFileSystem::fsync(const FileHandle& file) {
  if (const Fault* f = check(FileOp::kSync, file.path)) return fail<void>(*f, "fsync", file.path);
  return real_.fsync(file);
}

Result<void> FaultyFileSystem::fdatasync(const FileHandle& file) {
  if (const Fault* f = check(FileOp::kSync, file.path)) return fail<void>(*f, "fdatasync", file.path);
  return real_.fdatasync(file);
}

Result<void> FaultyFileSystem::ftruncate(const FileHandle& file, uint64_t length) {
  if (const Fault* f = check(FileOp::kTruncate, file.path)) return fail<void>(*f, "ftruncate", file.path);
  return real_.ftruncate(file, length);
}

Result<uint64_t> FaultyFileSystem::size(const FileHandle& file) {
  if (const Fault* f = check(FileOp::kSize, file.path)) return fail<uint64_t>(*f, "fstat", file.path);
  return real_.size(file);
}

Result<void> FaultyFileSystem::rename(const std::string& from, const std::string& to) {
  if (const Fault* f = check(FileOp::kRename, to)) return fail<void>(*f, "rename", to);
  return real_.rename(from, to);
}

Result<void> FaultyFileSystem::unlink(const std::string& path) {
  if (const Fault* f = check(FileOp::kUnlink, path)) return fail<void>(*f, "unlink", path);
  return real_.unlink(path);
}

Result<std::vector<std::string>> FaultyFileSystem::readdir(const std::string& dir) {
  if (const Fault* f = check(FileOp::kReaddir, dir)) return fail<std::vector<std::string>>(*f, "readdir", dir);
  return real_.readdir(dir);
}

Result<void> FaultyFileSystem::mkdir(const std::string& dir) {
  if (const Fault* f = check(FileOp::kMkdir, dir)) return fail<void>(*f, "mkdir", dir);
  return real_.mkdir(dir);
}

Result<void> FaultyFileSystem::lock_exclusive(const FileHandle& file) {
  if (const Fault* f = check(FileOp::kLock, file.path)) return fail<void>(*f, "flock", file.path);
  return real_.lock_exclusive(file);
}

}  // namespace tollgate::files
