#include "engine/monitor_action.h"

namespace tollgate {

std::string_view action_name(MonitorActionKind kind) {
  switch (kind) {
    case MonitorActionKind::kBlockChannel: return "block_channel";
    case MonitorActionKind::kSuspend: return "suspend";
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
    for (size_t i = 0; i < channels.size() && i < kMaxBlockableChannels; ++i)
      if (channels[i] == a.channel) word |= uint64_t{1} << i;
  }
  return word;
}

}  // namespace tollgate
