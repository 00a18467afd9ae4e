// The decision path's side of the `throttle` and `enforce` monitor actions:
// keeping a policy's throttle slots and enforced-shadow mask in step with its
// contract's actions, and applying the throttles to a call. The race
// reasoning for the slots is in engine/monitor_action.h (MonitorThrottles);
// the mask is one relaxed atomic word written whole.
// Thread-safety: sync_monitor_actions takes the policy's monitor_mutex (any
// thread); throttled_by_monitor is lock-free (workers); action_problem reads
// immutable policy rules only.
#pragma once

#include <string>
#include <vector>

#include "engine/monitor_action.h"
#include "engine/policy.h"
#include "tollgate/decision.h"
#include "tollgate/time.h"

namespace tollgate {

// Installs the throttles of `actions` in p's slots (a throttle already in a
// slot keeps its bucket; a new one starts full) and sets p.promoted from the
// enforce actions (none in the daemon-wide shadow_mode: a dry run stays one).
// Returns whether any throttle slot is in use (the word's kThrottledBit).
bool sync_monitor_actions(const Policy& p, const std::vector<ActiveAction>& actions, bool shadow_mode);

// The throttles in force on a call on channel `channel` (its index in the
// contract's channels, or negative: the contract lists none): the first that
// has no room denies it (RATE, limit "monitor", retry-after as a token bucket's).
// One call is one unit, whatever its cost. With `charge` the buckets are
// charged (a call denied by a later throttle gives the earlier ones back);
// without, only peeked (PEEK). Returns true when denied. Lock-free.
bool throttled_by_monitor(const Policy& p, int channel, Nanos now, bool charge, Decision& out);

// Why `a` cannot apply to the policy as configured now (empty: it can): an
// enforce naming a limit that is no longer a shadow counter limit, a
// throttle or block of a channel no longer listed. The monitor runner lifts
// such actions after a reload.
std::string action_problem(const Policy& p, const ActiveAction& a);

// Why `a` cannot be put in force on `p` now (empty: it can): action_problem,
// a throttle whose bucket is invalid, or one more throttle than the
// kMaxThrottles slots. What the decision path could not apply is refused
// before anything is journaled (ContractAdmin) or simulated (tollgate-replay).
// Reads p's actions under ContractState's own lock.
std::string action_refusal(const Policy& p, const ActiveAction& a);

}  // namespace tollgate
