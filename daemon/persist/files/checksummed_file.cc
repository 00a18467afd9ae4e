#include "persist/files/checksummed_file.h"

#include <xxhash.h>

#include "persist/files/little_endian.h"

namespace tollgate::files {
namespace {

uint64_t checksummed_hash(std::string_view header16, std::string_view body) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, header16.data(), header16.size());
  XXH3_64bits_update(state, body.data(), body.size());
  const uint64_t h = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return h;
}

}  // namespace

Result<void> write_checksummed_file(FileSystem& fs, const std::string& dir, const std::string& path, uint32_t magic,
                                    uint32_t version, std::string_view body) {
  std::string bytes(kChecksummedHeaderBytes, '\0');
  put_u32(bytes.data(), magic);
  put_u32(bytes.data() + 4, version);
  put_u64(bytes.data() + 8, body.size());
  put_u64(bytes.data() + 16, checksummed_hash(std::string_view(bytes).substr(0, 16), body));
  bytes.append(body);
  const std::string tmp = path + ".tmp";
  {
    auto opened = fs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!opened) return std::unexpected(std::move(opened.error()));
    ScopedFile file(fs, std::move(*opened));
    if (auto w = write_all_at(fs, file.get(), bytes, 0); !w) return w;
    if (auto s = fs.fsync(file.get()); !s) return s;
    if (auto c = file.close(); !c) return c;
  }
  if (auto r = fs.rename(tmp, path); !r) return r;
  return fsync_directory(fs, dir);
}

Result<ChecksummedRead> read_checksummed_file(FileSystem& fs, const std::string& path, uint32_t magic,
                                              uint64_t max_bytes) {
  ChecksummedRead out;
  auto opened = fs.open(path, O_RDONLY);
  if (!opened) {
    if (opened.error().error_number == ENOENT) return out;
    return std::unexpected(std::move(opened.error()));
  }
  ScopedFile file(fs, std::move(*opened));
  auto size = fs.size(file.get());
  if (!size) return std::unexpected(std::move(size.error()));
  out.state = ChecksummedRead::State::kUnreadable;
  if (*size > max_bytes + kChecksummedHeaderBytes) {
    out.problem = path + ": " + std::to_string(*size) + " bytes, more than the " + std::to_string(max_bytes) +
                  " this file may hold";
    return out;
  }
  std::string bytes(*size, '\0');
  auto got = read_full_at(fs, file.get(), bytes.data(), bytes.size(), 0);
  if (!got) return std::unexpected(std::move(got.error()));
  bytes.resize(*got);
  if (bytes.size() < kChecksummedHeaderBytes) {
    out.problem = path + ": truncated header (" + std::to_string(bytes.size()) + " bytes)";
    return out;
  }
  if (get_u32(bytes.data()) != magic) {
    out.problem = path + ": not a file of this kind (magic)";
    return out;
  }
  const uint64_t length = get_u64(bytes.data() + 8);
  if (length != bytes.size() - kChecksummedHeaderBytes) {
    out.problem = path + ": body of " + std::to_string(bytes.size() - kChecksummedHeaderBytes) +
                  " bytes, the header says " + std::to_string(length) + " (truncated or overwritten)";
    return out;
  }
  const std::string_view body = std::string_view(bytes).substr(kChecksummedHeaderBytes);
  if (get_u64(bytes.data() + 16) != checksummed_hash(std::string_view(bytes).substr(0, 16), body)) {
    out.problem = path + ": checksum mismatch (damaged)";
    return out;
  }
  out.state = ChecksummedRead::State::kValid;
  out.version = get_u32(bytes.data() + 4);
  out.body = std::string(body);
  return out;
}

}  // namespace tollgate::files
