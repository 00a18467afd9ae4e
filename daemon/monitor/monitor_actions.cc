#include "monitor/monitor_actions.h"

#include <fmt/format.h>

namespace tollgate {
namespace {

// The scope gates' codes: a call denied by one never reached the limits.
bool gate_code(Code c) {
  return c == Code::kChannel || c == Code::kPurpose || c == Code::kSuspended || c == Code::kTerminated ||
         c == Code::kExpired || c == Code::kNotStarted;
}
// The gate denials scope_probing watches.
bool probing_code(Code c) {
  return c == Code::kChannel || c == Code::kPurpose || c == Code::kExpired || c == Code::kSuspended;
}

}  // namespace

std::optional<ActiveAction> action_for(const MonitorOutcome& o) {
  ActiveAction a;
  switch (o.action.action) {
    case ActionDo::kEvent: return std::nullopt;
    case ActionDo::kBlockChannel: a.kind = MonitorActionKind::kBlockChannel; break;
    case ActionDo::kSuspend: a.kind = MonitorActionKind::kSuspend; break;
    case ActionDo::kThrottle: a.kind = MonitorActionKind::kThrottle; break;
    case ActionDo::kEnforce: a.kind = MonitorActionKind::kEnforce; break;
  }
  a.monitor = o.monitor;
  if (a.kind == MonitorActionKind::kBlockChannel || a.kind == MonitorActionKind::kThrottle) a.channel = o.channel;
  a.rate = o.action.rate;
  a.per = o.action.per;
  a.burst = o.action.burst;
  a.limit = o.action.limit;
  a.reason = fmt::format("{} {} > {}", o.measure, measure_text(o.value), measure_text(o.threshold));
  a.since = o.time;
  a.until = o.time + o.action.duration;
  return a;
}

std::string measure_text(double v) {
  return v == static_cast<double>(static_cast<int64_t>(v)) ? std::to_string(static_cast<int64_t>(v))
                                                           : fmt::format("{:.3f}", v);
}

ScopeCounts scope_counts(const ContractState& state) {
  ScopeCounts s;
  for (int c = 0; c < kCodeCount; ++c) {
    const Code code = static_cast<Code>(c);
    const uint64_t n = state.decisions(code);
    if (!gate_code(code) && code != Code::kAborted && code != Code::kUnknown) s.calls += n;
    if (probing_code(code)) s.scope_denials += n;
  }
  return s;
}

}  // namespace tollgate
