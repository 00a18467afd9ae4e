// The one hook on the decision path: what a decided CHECK (RESP or HTTP) or
// an applied SETTLE adds to the call log. Inline, allocation-free: two
// hashes (SUBJECT and ID, only when given) and a copy into the worker's ring.
// Thread-safety: the calling worker's thread (CallLog::record).
#pragma once

#include "calllog/call_log.h"
#include "engine/engine.h"

namespace tollgate::calllog {

inline void record_check(CallLog* log, int worker, Nanos now, const CheckRequest& request, const Decision& d) {
  if (log == nullptr) return;
  CallRecord r;
  r.kind = RecordKind::kCheck;
  r.time = now;
  r.key = request.key;
  r.channel = request.channel;
  r.purpose = request.purpose;
  r.cost = request.cost;
  r.subject_hash = request.subject.empty() ? 0 : log_hash(request.subject);
  r.id_hash = request.id.empty() ? 0 : log_hash(request.id);
  r.hold_ms = request.hold_ms;
  r.wait_ms = request.wait_ms;
  r.allowed = d.allowed;
  r.code = d.code;
  r.limit = d.limit;
  r.balance = d.balance;
  log->record(worker, r);
}

inline void record_settle(CallLog* log, int worker, Nanos now, std::string_view key, std::string_view id,
                          bool commit) {
  if (log == nullptr) return;
  CallRecord r;
  r.kind = RecordKind::kSettle;
  r.time = now;
  r.key = key;
  r.id_hash = log_hash(id);
  r.allowed = commit;
  log->record(worker, r);
}

}  // namespace tollgate::calllog
