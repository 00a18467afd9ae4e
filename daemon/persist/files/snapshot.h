// Snapshots: a whole-state image at a journal sequence, written as a stream of
// typed records to `snapshot.<16-digit seq>.tmp`, synced, then renamed to
// `snapshot.<seq>` and the directory synced, so a snapshot either exists
// whole or not at all. Loading picks the newest one whose checksum holds.
// Not thread-safe; one control-plane thread. The FileSystem and StoreStatus in
// SnapshotOptions are borrowed and must outlive the calls.
//
// File (little endian): 48-byte header, then the body.
//   0  char[8] magic "TGSNAP\0\1"
//   8  u32  format version (1)
//   12 u32  reserved, 0
//   16 u64  sequence: the snapshot holds the effect of journal records <= seq
//   24 u64  body length in bytes (file size - 48)
//   32 u64  record count
//   40 u64  XXH3-64 of the body followed by header bytes 0..39
// Body: records, each u8 type, u32 length, payload.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "persist/files/file_system.h"
#include "persist/files/journal.h"
#include "persist/files/store_status.h"

namespace tollgate::files {

inline constexpr size_t kSnapshotHeaderBytes = 48;

struct SnapshotOptions {
  FileSystem* fs = nullptr;       // null: default_file_system()
  StoreStatus* status = nullptr;  // null: counters are not kept
  size_t keep = 2;                // snapshots kept after a successful write (newest first); >= 1
  size_t buffer_bytes = 1 << 20;  // the writer flushes in chunks of this size
};

struct SnapshotInfo {
  uint64_t seq = 0;
  std::string path;
  uint64_t bytes = 0;    // whole file
  uint64_t records = 0;
};

// "snapshot.0000000000000042".
std::string snapshot_name(uint64_t seq);

// Streams one snapshot to disk. Records are buffered up to buffer_bytes and
// written in chunks, so a snapshot of any size needs only that much memory.
// Abandoned (destroyed before finish(), or after an error) it removes its
// .tmp file. Move-only.
class SnapshotWriter {
 public:
  [[nodiscard]] static Result<SnapshotWriter> create(const std::string& dir, uint64_t seq,
                                                     const SnapshotOptions& options = {});
  SnapshotWriter(SnapshotWriter&& other) noexcept;
  SnapshotWriter& operator=(SnapshotWriter&&) = delete;
  SnapshotWriter(const SnapshotWriter&) = delete;
  ~SnapshotWriter();

  // Adds one record. A payload over kMaxRecordPayload is refused (EMSGSIZE).
  // After any error the writer is dead: every later call fails.
  [[nodiscard]] Result<void> add(uint8_t type, std::string_view bytes);
  // Writes the header, fsyncs, renames into place, fsyncs the directory, then
  // applies retention (keep newest `keep`, remove .tmp leftovers); retention
  // failures are counted in StoreStatus, not returned, since the snapshot is
  // already durable.
  [[nodiscard]] Result<SnapshotInfo> finish();

 private:
  SnapshotWriter(std::string dir, uint64_t seq, const SnapshotOptions& options, ScopedFile file,
                 std::string tmp_path);
  Result<void> flush();
  Result<void> fail(StoreError error);

  std::string dir_;
  uint64_t seq_;
  SnapshotOptions options_;
  ScopedFile file_;
  std::string tmp_path_;
  std::string buffer_;
  uint64_t flushed_ = 0;     // body bytes already written
  uint64_t records_ = 0;
  struct FreeHashState {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
  };
  std::unique_ptr<XXH3_state_t, FreeHashState> hash_;  // over the body so far
  bool done_ = false;            // finished or failed
};

struct SnapshotRecord {
  uint8_t type = 0;
  std::string_view bytes;
};

// Writes a whole snapshot from in-memory records.
[[nodiscard]] Result<SnapshotInfo> write_snapshot(const std::string& dir, uint64_t seq,
                                                  std::span<const SnapshotRecord> records,
                                                  const SnapshotOptions& options = {});

// Called once per record of the snapshot being loaded; `bytes` is valid only
// during the call.
using SnapshotVisitor = std::function<void(uint8_t type, std::string_view bytes)>;

struct SnapshotLoad {
  std::optional<SnapshotInfo> loaded;  // none: no valid snapshot (start empty, replay from seq 0)
  std::vector<Corruption> skipped;     // invalid snapshots newer than `loaded`, newest first
  std::vector<std::string> removed;    // leftover .tmp files deleted
};

// Finds the newest snapshot whose header and checksum verify and streams its
// records into `visit` (only after the whole file verified, so the visitor
// never sees a corrupt snapshot's records). Newer invalid snapshots are
// reported in `skipped` and left on disk as evidence (retention removes them
// later). Leftover .tmp files are deleted. Errors are I/O failures; if one
// happens while streaming, the visitor may have seen part of the snapshot.
[[nodiscard]] Result<SnapshotLoad> load_latest(const std::string& dir, const SnapshotVisitor& visit,
                                               const SnapshotOptions& options = {});

// Keeps the newest `keep` snapshots, deletes older ones and every .tmp file.
// Returns the paths deleted.
[[nodiscard]] Result<std::vector<std::string>> prune_snapshots(const std::string& dir, size_t keep,
                                                               const SnapshotOptions& options = {});

}  // namespace tollgate::files
