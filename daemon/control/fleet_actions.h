// Fleet-wide monitor actions (docs/fleet.md, "Monitor actions"): every
// refill tick FleetLeases reads Redis' actions hash (P actions: every
// block_channel, suspend, throttle and enforce in force, whichever daemon's
// monitor put it there) and hands it here; this makes the actions in force
// on this daemon equal to it. An action fired on any node therefore denies
// on every node within about one refill_ms, and a lift anywhere lifts it
// everywhere.
//
// Why it is right — the reasoning the issue asks to be written down:
//
// * Redis is the one record. In fleet mode storage.mode is redis, so an
//   action is durable when its field is in P actions (with its one ledger
//   entry, written by the daemon that put it in force or lifted it). A
//   daemon applying another's change records nothing durable of its own:
//   nothing to apply twice, and a restart loads P actions as it stands
//   (persist/redis/redis_loader.cc), so a node that was down while an action
//   was put in force and lifted again starts with neither, and one down
//   while an action was put in force starts with it, with its `until`.
// * Reconcile with the whole hash, not a stream of changes. The hash is the
//   state, so a node that missed reads (cut off from Redis, busy) catches up
//   on its first read back, and a change is never applied twice: putting
//   an instance already in force, or lifting one that is not, changes
//   nothing (plan_remote_actions compares instances, not just targets).
// * A read never undoes a newer local change. Local changes are durable in
//   Redis before they apply here, so a read that Redis answered after a
//   local change sees it. The only stale read is one sent before a local
//   change and answered after it: reads are planned only under
//   ContractAdmin's exclusive lock and only when no action change was
//   applied here since the read was sent (ContractAdmin::action_changes()
//   unchanged); otherwise the read is dropped and the next tick reads again.
//   Under the lock no local change is half-done (made durable, not yet
//   applied). So a clear is never resurrected by a read that predates it.
// * A clear racing a re-fire: Redis orders them. The clear (an operator's)
//   deletes whatever is on the target; a re-fire writes a new instance. If
//   the re-fire lands last the action is in force everywhere (a new firing
//   after the clear), if the clear lands last it is lifted everywhere;
//   every node converges to what Redis holds within a tick.
// * Expiry by the absolute instant: `until` travels with the action, and
//   every node's monitor runner lifts it at its first tick past `until`,
//   whether it put it in force or not (so it lifts even when the node that
//   fired is down). Those lifts delete only the instance they lift
//   (persist/redis/redis_scripts.h, action()): the first delete appends the
//   ledger entry, the others find nothing and append nothing, and none can
//   remove a newer instance another node put on the same target. A read
//   that finds the action gone lifts it here too. An expired instance still
//   in Redis is never put in force by a read.
// * The call log: each change applied here is recorded through
//   ContractAdmin's on_applied like a local one, in apply order, so replay
//   of this node's log stays deterministic.
// * Monitors: a lift found before its `until` is a clear made elsewhere;
//   the monitor that put it stays quiet here for its cool-down, as after a
//   local MONITOR CLEAR.
//
// Thread-safety: on_read() and version() on the control loop (FleetLeases'
// reply handler); counters() from any thread. plan_remote_actions is pure.
// Borrows the admin, monitor runner and state, which must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/contract_admin.h"
#include "control/monitor_runner.h"
#include "engine/engine.h"
#include "tollgate/time.h"

namespace tollgate {

// One action as Redis holds it: its contract and the instance.
struct StoredAction {
  std::string contract;
  ActiveAction action;
};

// The changes that make `local` (contract -> actions in force here) equal
// to `stored` (the actions hash) at `now`: a put for each stored instance
// not in force here (unless its `until` has passed), a lift for each local
// one whose target Redis no longer holds (why: "expired" once its `until`
// passed, else "cleared on another daemon", cleared set). A target held in
// both with another instance is one put (it replaces the local one).
// Puts first, in `stored` order, then lifts in `local` order. Pure.
std::vector<RemoteActionChange> plan_remote_actions(const std::vector<StoredAction>& stored,
                                                    const std::map<std::string, std::vector<ActiveAction>>& local,
                                                    Nanos now);

// The same action: same target and the same instance of it.
bool same_instance(const ActiveAction& a, const ActiveAction& b);

class FleetActions {
 public:
  FleetActions(ContractAdmin& admin, MonitorRunner& monitors, RuntimeState& state);
  FleetActions(const FleetActions&) = delete;
  FleetActions& operator=(const FleetActions&) = delete;

  // Taken just before the read of the actions hash is sent. Loop thread.
  uint64_t version() const { return admin_.action_changes(); }
  // The hash as read (field, value pairs), by a read sent at version() ==
  // `seen`: reconciles this daemon with it (or drops it, see the header).
  // Loop thread.
  void on_read(uint64_t seen, const std::vector<std::pair<std::string, std::string>>& hash, Nanos now);

  struct Counters {
    uint64_t changes = 0;   // puts and lifts applied from reads
    uint64_t skipped = 0;   // reads dropped (lock busy, or a local change since the read)
    uint64_t refused = 0;   // puts this daemon could not apply (its config lacks the target)
    uint64_t malformed = 0; // fields that do not decode
  };
  Counters counters() const;

 private:
  ContractAdmin& admin_;
  MonitorRunner& monitors_;
  RuntimeState& state_;
  std::set<std::string> refused_logged_;  // contract|monitor|since already logged (loop thread)
  std::atomic<uint64_t> changes_{0}, skipped_{0}, refused_{0}, malformed_{0};
};

}  // namespace tollgate
