// The one hook on the decision path: what a decided CHECK (RESP or HTTP) or
// an applied SETTLE adds to the call log. Inline, allocation-free: a CHECK
// is written straight into the worker's ring from the request and the
// decision, SUBJECT and ID raw (the writer hashes them: no hash on the
// CHECK path; calllog/worker_buffer.h); a SETTLE hashes its ID here (not on
// the CHECK path).
// `generation` is the deciding engine's (Engine::options().generation): it
// places the record after that config generation's mark (call_log.h).
// Thread-safety: the calling worker's thread (CallLog::record).
#pragma once

#include "calllog/call_log.h"
#include "engine/engine.h"

namespace tollgate::calllog {

inline void record_check(CallLog* log, int worker, Nanos now, const CheckRequest& request, const Decision& d,
                         uint32_t generation = 0) {
  if (log == nullptr) return;
  log->record_check(worker, now, request, d, generation);
}

inline void record_settle(CallLog* log, int worker, Nanos now, std::string_view key, std::string_view id,
                          bool commit, uint32_t generation = 0) {
  if (log == nullptr) return;
  CallRecord r;
  r.kind = RecordKind::kSettle;
  r.time = now;
  r.key = key;
  r.id_hash = log_hash(id);
  r.allowed = commit;
  r.generation = generation;
  log->record(worker, r);
}

// A worker's hold timer expired `count` holds at `now` (none: nothing is
// recorded). Live, when a hold expires is the timer's choice, not the
// deadline's: replay repeats it at this instant rather than at the deadline,
// so a call between the two is decided as it was (README, "Determinism
// check"). Never sampled out: it belongs to no key.
inline void record_expiry(CallLog* log, int worker, Nanos now, size_t count, uint32_t generation) {
  if (log == nullptr || count == 0) return;
  CallRecord r;
  r.kind = RecordKind::kExpire;
  r.time = now;
  r.cost = static_cast<int64_t>(count);
  r.generation = generation;
  log->record_unsampled(worker, r);
}

}  // namespace tollgate::calllog
