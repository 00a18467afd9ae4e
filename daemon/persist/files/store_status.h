// Counters the store's file layer keeps for INFO. One instance is owned by
// whoever owns the store and passed by pointer to Journal and snapshot calls.
// Not thread-safe; one control-plane thread writes and reads it (INFO copies
// it on that thread).
#pragma once

#include <cstdint>
#include <string>

#include "persist/files/store_error.h"

namespace tollgate::files {

// name, description: the one table INFO and docs are generated from.
#define TOLLGATE_STORE_COUNTERS(X)                                                        \
  X(bytes_written, "bytes written to journal segments and snapshots")                     \
  X(commits, "journal commits that reached disk (one fdatasync each)")                    \
  X(records_committed, "journal records made durable")                                    \
  X(fsyncs, "fsync/fdatasync calls that succeeded")                                       \
  X(fsync_latency_last_ns, "duration of the latest successful fsync/fdatasync")           \
  X(fsync_latency_max_ns, "longest successful fsync/fdatasync")                           \
  X(write_errors_enospc, "failed writes/syncs/creates with ENOSPC or EDQUOT")             \
  X(write_errors_eio, "failed writes/syncs/creates with EIO")                             \
  X(write_errors_erofs, "failed writes/syncs/creates with EROFS, EACCES or EPERM")        \
  X(write_errors_other, "failed writes/syncs/creates with any other errno")               \
  X(segments_created, "journal segments created")                                         \
  X(segments_dropped, "journal segments deleted after a snapshot covered them")           \
  X(records_truncated_at_recovery, "torn journal tails cut off at recovery")              \
  X(bytes_truncated_at_recovery, "bytes cut off journal tails at recovery")               \
  X(journal_data_loss_events, "journal corruptions found (start refused, or --recover)")   \
  X(snapshots_written, "snapshots completed (renamed into place)")                        \
  X(corrupt_snapshots_skipped, "invalid snapshots skipped when loading the latest")

struct StoreStatus {
#define TOLLGATE_STORE_FIELD(name, description) uint64_t name = 0;
  TOLLGATE_STORE_COUNTERS(TOLLGATE_STORE_FIELD)
#undef TOLLGATE_STORE_FIELD
  std::string last_error;  // message of the latest write-side error; empty if none

  // Counts a write-side failure by kind and remembers its message.
  void note_error(const StoreError& error) {
    switch (error.kind()) {
      case StoreErrorKind::kNoSpace: ++write_errors_enospc; break;
      case StoreErrorKind::kIo: ++write_errors_eio; break;
      case StoreErrorKind::kReadOnly: ++write_errors_erofs; break;
      case StoreErrorKind::kOther:
      case StoreErrorKind::kCorrupt: ++write_errors_other; break;
    }
    last_error = error.message;
  }

  void note_sync(uint64_t latency_ns) {
    ++fsyncs;
    fsync_latency_last_ns = latency_ns;
    if (latency_ns > fsync_latency_max_ns) fsync_latency_max_ns = latency_ns;
  }

  // Calls visit(name, value, description) for every counter, in table order.
  template <typename Visit>
  void for_each_counter(Visit&& visit) const {
#define TOLLGATE_STORE_VISIT(name, description) visit(#name, name, description);
    TOLLGATE_STORE_COUNTERS(TOLLGATE_STORE_VISIT)
#undef TOLLGATE_STORE_VISIT
  }
};

}  // namespace tollgate::files
