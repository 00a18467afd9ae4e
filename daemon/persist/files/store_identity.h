// The identity file of an initialized storage directory, `<dir>/identity`:
// written at the first start (tmp file, fsync, rename, directory fsync, so it
// exists whole or not at all) and rewritten whenever its watermark rises. It
// lets recovery tell a directory whose state is gone from a first start:
//   - format: of the store's files (a newer one is refused, not misread);
//   - id: 32 random hex digits, logged at every start (which store is this);
//   - created_ms: when the store was initialized;
//   - durable_seq: the watermark, a journal sequence this store is known to
//     have made durable; snapshots plus journal must reach it, or records
//     were removed. It rises at the store's first durable record, at every
//     snapshot and at a clean stop (never per commit: it costs three fsyncs).
// The text ends with `check <XXH3-64 of everything before that line>`.
// Pure functions over a borrowed FileSystem; thread-compatible.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "persist/files/file_system.h"

namespace tollgate::files {

inline constexpr uint32_t kIdentityFormat = 1;
inline constexpr const char* kIdentityFileName = "identity";

struct StoreIdentity {
  uint32_t format = kIdentityFormat;
  std::string id;          // 32 lowercase hex digits
  int64_t created_ms = 0;  // wall clock, ms since the epoch
  uint64_t durable_seq = 0;
  friend bool operator==(const StoreIdentity&, const StoreIdentity&) = default;
};

// A fresh identity with a random id (getrandom(2)) and watermark 0.
StoreIdentity new_store_identity(int64_t now_ms);

std::string encode_identity(const StoreIdentity& identity);
// The identity `text` holds, or why it is not one (damaged, or a format
// this build does not know).
std::expected<StoreIdentity, std::string> decode_identity(std::string_view text);

// What `<dir>/identity` holds.
struct IdentityRead {
  enum class State { kAbsent, kValid, kUnreadable };
  State state = State::kAbsent;
  StoreIdentity identity;  // kValid
  std::string problem;     // kUnreadable: why
};
// Errors are I/O failures; a damaged file is kUnreadable.
[[nodiscard]] Result<IdentityRead> read_identity(FileSystem& fs, const std::string& dir);
// Replaces `<dir>/identity` atomically and durably.
[[nodiscard]] Result<void> write_identity(FileSystem& fs, const std::string& dir, const StoreIdentity& identity);

}  // namespace tollgate::files
