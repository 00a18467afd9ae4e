#include "engine/monitor_action.h"

namespace tollgate {

std::string_view action_name(MonitorActionKind kind) {
  switch (kind) {
    case MonitorActionKind::kBlockChannel: return "block_channel";
    case MonitorActionKind::kSuspend: return "suspend";
    case MonitorActionKind::kThrottle: return "throttle";
    case MonitorActionKind::kEnforce: return "enforce";
  }
  return "unknown";
}

uint64_t restriction_word(const std::vector<ActiveAction>& actions, const std::vector<std::string>& channels) {
  uint64_t word = 0;
  for (const ActiveAction& a : actions) {
    if (a.kind == MonitorActionKind::kSuspend) {
      word |= kSuspendedBit;
      continue;
    }
    if (a.kind != MonitorActionKind::kBlockChannel) continue;
    for (size_t i = 0; i < channels.size() && i < kMaxBlockableChannels; ++i)
      if (channels[i] == a.channel) word |= uint64_t{1} << i;
  }
  if (!throttle_terms(actions, channels, 1).empty()) word |= kThrottledBit;
  return word;
}

std::vector<ThrottleTerms> throttle_terms(const std::vector<ActiveAction>& actions,
                                          const std::vector<std::string>& channels, size_t max) {
  std::vector<ThrottleTerms> out;
  for (const ActiveAction& a : actions) {
    if (a.kind != MonitorActionKind::kThrottle || a.rate <= 0 || a.per <= 0 || a.burst <= 0) continue;
    ThrottleTerms t{ThrottleTerms::kWholeContract, a.rate, a.per, a.burst};
    if (!a.channel.empty()) {
      t.channel = -2;
      for (size_t i = 0; i < channels.size(); ++i)
        if (channels[i] == a.channel) t.channel = static_cast<int64_t>(i);
      if (t.channel == -2) continue;
    }
    bool seen = false;
    for (const ThrottleTerms& o : out) seen = seen || o == t;
    if (!seen && out.size() < max) out.push_back(t);
  }
  return out;
}

}  // namespace tollgate
