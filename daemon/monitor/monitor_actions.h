// What the monitors' outcomes become on a contract, built once for the two
// places that carry them out: the daemon (control/monitor_runner.h, which
// journals the action through ContractAdmin) and tollgate-replay
// (tools/lib/replay/replay_monitors.h, which puts it in force in memory). A
// candidate replayed with the live config's monitors thus throttles, blocks,
// suspends and enforces exactly as the daemon would have.
// Thread-safety: pure functions (scope_counts reads a contract's relaxed
// counters, which any thread may do).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/contract.h"
#include "engine/monitor_action.h"
#include "monitor/monitors.h"

namespace tollgate {

// The action a due MonitorOutcome (kind kAction) puts in force; nullopt for
// `do: event` (an event only). A block_channel or throttle of a per: channel
// monitor acts on the channel that fired (a throttle of a per: contract
// monitor, on every call); suspend and enforce act on the whole contract.
// `reason` is "<measure> <value> > <threshold>", `until` = time + `for:`.
std::optional<ActiveAction> action_for(const MonitorOutcome& o);

// A measured value or threshold as events and reports print it: an integer
// without decimals, otherwise three.
std::string measure_text(double v);

// The calls a contract's monitors count (every decision past the scope
// gates) and its scope denials (CHANNEL, PURPOSE, EXPIRED, SUSPENDED), from
// its cumulative decision counters.
struct ScopeCounts {
  uint64_t calls = 0;
  uint64_t scope_denials = 0;
};
ScopeCounts scope_counts(const ContractState& state);

}  // namespace tollgate
