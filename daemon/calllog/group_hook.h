// The call log's side of a group of CHECKs decided all-or-nothing
// (Engine::check_all: a MULTI/EXEC's CHECKs, an Envoy RLS call's matched
// descriptors): one kGroup record carrying the count of
// members that follow, then each member as an ordinary kCheck record with
// its own live decision (ABORTED for the members a denial took down).
// tollgate-replay collects the members after a kGroup record and decides
// them together again (tools/lib/replay/replay_group.h).
// Cost: the members are the same records a lone CHECK writes; the group
// adds one small record (flags, kind, a zero time delta, the first
// member's key index, empty channel, limit and text, cost = count: 8 bytes
// before compression).
// Sampling (call_log.sample): the members whose key is not sampled are
// left out and the count is of those kept; replay then decides the kept
// members together, without the others — a group whose live denial came
// from a member left out replays as allowed (a flip the sample made).
// Nothing is recorded when no member is kept.
// The writer keeps a group in one block (calllog/call_log.h, "Groups").
// Thread-safety: the thread that owns buffer `worker` (a data worker, or a
// gRPC thread with a buffer of its own: CallLog::record); inline and
// allocation-free like calllog/check_hook.h.
#pragma once

#include <span>

#include "calllog/call_log.h"
#include "calllog/check_hook.h"
#include "engine/engine.h"

namespace tollgate::calllog {

inline void record_group(CallLog* log, int worker, Nanos now, std::span<const CheckRequest> requests,
                         std::span<const Decision> decisions, uint32_t generation = 0) {
  if (log == nullptr || requests.empty() || requests.size() != decisions.size()) return;
  int64_t kept = 0;
  std::string_view first;
  for (const CheckRequest& r : requests) {
    if (!log->keeps(r.key)) continue;
    if (kept++ == 0) first = r.key;
  }
  if (kept == 0) return;
  CallRecord g;
  g.kind = RecordKind::kGroup;
  g.time = now;
  g.key = first;
  g.cost = kept;
  g.allowed = true;
  g.generation = generation;
  log->record_unsampled(worker, g);
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!log->keeps(requests[i].key)) continue;
    record_check(log, worker, now, requests[i], decisions[i], generation);
  }
}

}  // namespace tollgate::calllog
