// An action a monitor put on a contract (block one channel, suspend the
// contract) and the restriction word the decision path reads: the engine's
// side of the monitors (daemon/monitor/, control/monitor_runner.h).
// Plain value types and pure functions. Thread-safety: values only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/time.h"

namespace tollgate {

// Stored numbers (journal, snapshots): never renumber.
enum class MonitorActionKind : uint8_t { kBlockChannel = 1, kSuspend = 2 };

std::string_view action_name(MonitorActionKind kind);  // "block_channel", "suspend"

struct ActiveAction {
  MonitorActionKind kind = MonitorActionKind::kBlockChannel;
  std::string monitor;  // the monitor that fired (or the admin's label)
  std::string channel;  // kBlockChannel: the channel denied
  std::string reason;   // the measured value and threshold, shown in CONTRACT
  Nanos since = 0;
  Nanos until = 0;  // lifted by the control plane at this instant

  bool same_target(const ActiveAction& o) const {
    return kind == o.kind && monitor == o.monitor && channel == o.channel;
  }
};

// The restriction word of a policy (Policy::restricted): bit i denies the
// contract's i-th configured channel (CHANNEL), kSuspendedBit denies every
// call (SUSPENDED). Zero when nothing is in force: one relaxed load on the
// decision path. Channels beyond the 62nd cannot be blocked by a monitor.
inline constexpr uint64_t kSuspendedBit = uint64_t{1} << 63;
inline constexpr size_t kMaxBlockableChannels = 62;
uint64_t restriction_word(const std::vector<ActiveAction>& actions, const std::vector<std::string>& channels);

// The limit name a monitor's denial reports (Decision::limit).
inline constexpr std::string_view kMonitorLimit = "monitor";

}  // namespace tollgate
