// A small file written whole, atomically and durably (tmp file, fsync,
// rename, directory fsync), whose header names what it holds, its format
// version and a checksum — for state that is rewritten whole now and then
// rather than journaled (the monitors' learned baselines). A reader sees the
// previous file or the new one, never a mix; a damaged or foreign file is
// told apart from an absent one. Layout (little-endian):
//    0 u32  magic (the caller's: which kind of file)
//    4 u32  format version (the caller's)
//    8 u64  body length
//   16 u64  XXH3-64 of bytes 0..15 followed by the body
//   24      body
// Pure functions over a borrowed FileSystem; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persist/files/file_system.h"

namespace tollgate::files {

inline constexpr size_t kChecksummedHeaderBytes = 24;

struct ChecksummedRead {
  enum class State { kAbsent, kValid, kUnreadable };
  State state = State::kAbsent;
  uint32_t version = 0;  // kValid
  std::string body;      // kValid
  std::string problem;   // kUnreadable: why (names the file)
};

// Replaces `path` (in directory `dir`) with `body` under `magic` and
// `version`. On error the previous file is untouched (a `<path>.tmp` may be
// left, overwritten by the next write).
[[nodiscard]] Result<void> write_checksummed_file(FileSystem& fs, const std::string& dir, const std::string& path,
                                                  uint32_t magic, uint32_t version, std::string_view body);
// What `path` holds. I/O failures other than ENOENT are errors; a file that is
// short, too large (past `max_bytes`), of another magic or fails its checksum
// is kUnreadable with the reason. The version is not judged here.
[[nodiscard]] Result<ChecksummedRead> read_checksummed_file(FileSystem& fs, const std::string& path, uint32_t magic,
                                                            uint64_t max_bytes);

}  // namespace tollgate::files
