// The call log's side of the admin flow: an applied admin mutation that
// changes decisions (a status override — SUSPEND, RESUME, TERMINATE —, a
// counter RESET, a monitor action put in force or lifted) as a call-log
// record, and back, for tollgate-replay to apply it through the same
// apply_admin_record the daemon used. RECHARGE has its own record (kRecharge,
// written by the RECHARGE command: replay re-prices it on its own ladder).
// Thread-safety: pure functions; record_admin_change is CallLog::record_admin.
#pragma once

#include <optional>

#include "calllog/call_log.h"
#include "engine/admin_record.h"

namespace tollgate::calllog {

// `generation`: the config generation in force when it was applied (call_log.h).
inline void record_admin_change(CallLog* log, const AdminRecord& a, uint32_t generation) {
  if (log == nullptr) return;
  CallRecord r;
  r.time = a.time;
  r.key = a.contract;
  r.generation = generation;
  r.allowed = true;
  switch (a.kind) {
    case AdminRecord::Kind::kStatus:
      r.kind = RecordKind::kStatus;
      r.cost = static_cast<int64_t>(a.status);
      break;
    case AdminRecord::Kind::kReset:
      r.kind = RecordKind::kReset;
      r.limit = a.limit;
      break;
    case AdminRecord::Kind::kAction:
      r.kind = RecordKind::kAction;
      r.allowed = !a.lift;
      r.cost = static_cast<int64_t>(a.action.kind);
      r.limit = a.action.monitor;
      r.channel = a.action.channel;
      break;
    case AdminRecord::Kind::kRecharge:
      return;
  }
  log->record_admin(r);
}

// The admin record a kStatus, kReset or kAction record stands for (nullopt
// for other kinds), enough for apply_admin_record to change decisions as
// live (the ledger gets the admin entry of amount 0 unnumbered; no event).
inline std::optional<AdminRecord> admin_change_of(const CallRecord& r) {
  AdminRecord a;
  a.contract = std::string(r.key);
  a.time = r.time;
  a.ledger_entry.time_ms = r.time / kNanosPerMilli;
  a.ledger_entry.contract = a.contract;
  a.ledger_entry.kind = LedgerKind::kAdmin;
  switch (r.kind) {
    case RecordKind::kStatus:
      a.kind = AdminRecord::Kind::kStatus;
      a.status = static_cast<ContractStatus>(r.cost);
      return a;
    case RecordKind::kReset:
      a.kind = AdminRecord::Kind::kReset;
      a.limit = std::string(r.limit);
      return a;
    case RecordKind::kAction:
      a.kind = AdminRecord::Kind::kAction;
      a.lift = !r.allowed;
      a.action.kind = static_cast<MonitorActionKind>(r.cost);
      a.action.monitor = std::string(r.limit);
      a.action.channel = std::string(r.channel);
      a.action.since = r.time;
      return a;
    default:
      return std::nullopt;
  }
}

}  // namespace tollgate::calllog
