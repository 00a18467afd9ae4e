// Fleet mode's control side (docs/fleet.md): keeps this node's leases of
// every contract's global pools in Redis. On the control loop, every
// refill_ms and whenever a worker found a lease short (FleetLease::note_short
// wakes it), it sends one atomic sync script per contract that needs one:
// report the units spent since the last report, return what sits idle, ask
// for a refill sized by the observed rate and the fair share. A heartbeat
// marks the node alive; nodes silent for lease_ttl are reclaimed (quota
// units spent, credits in doubt). Workers never wait on any of it: they
// decide from the FleetLease words (engine/fleet_lease.h states the races).
//
// Accounting per pool and period (loop thread only): `granted` units came
// from Redis, `returned` went back, `reported` were reported spent; the
// lease word holds the rest not yet spent. So spent = granted − returned −
// word, and each sync reports spent − reported. A sync is sent again, as it
// was (same seq), until Redis answers it; the script answers a resend with
// the stored reply, so a grant is never applied twice nor a report counted
// twice. One sync per contract is in flight at a time.
//
// Thread-safety: attach() before workers run; start/stop/tick on the loop
// thread; info()/contract_info() from any thread (a mutex over a copy of the
// figures). Monitor actions in force on any daemon reach this one the same
// way as status changes: the actions hash is read each tick (poll_actions,
// one read in flight at a time) and reconciled by FleetActions.
// Reloads (attach before the publish, relayout on the next tick): a lowered
// cap's units leave the lease word by CAS drain before the new engine can
// decide (a unit is taken by a worker or drained, never both); a grant that
// was in flight under the old cap is sent back (PoolTrack::epoch); a new
// layout is a new FleetLease published with one atomic store, the units of
// each kept pool drained from the old word and added to the new one, so a
// worker that still holds the old lease finds nothing (denied short) and a
// give-back into it is counted spent. A relayout waits for the contract's
// sync in flight, whose answer names pools by their old indices. Hammered
// by Fleet.ReloadsUnderLoadMoveLeasesWithoutLosingOrDoublingUnits.
// Ownership: owns the leases (they outlive every engine), its
// Redis connection and its libuv handles (closed by stop()). Borrows the
// RuntimeState and the clock.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "control/fleet_actions.h"
#include "control/fleet_monitor_counts.h"
#include "engine/engine.h"
#include "engine/fleet_lease.h"
#include "engine/limits/calendar.h"
#include "persist/redis/redis_connection.h"
#include "persist/redis/redis_layout.h"
#include "persist/redis/redis_target.h"
#include "tollgate/time.h"

namespace tollgate {

// The transport the leases speak through: one logical Redis
// (persist/redis/redis_target.h: standalone, Sentinel primary or Cluster);
// send() takes the routing key, the Redis key whose slot the command goes to.
class FleetRedis {
 public:
  FleetRedis(RedisConfig config, const Clock& clock, persist::RedisConnection::Events events)
      : target_(persist::RedisTarget::make(std::move(config), clock, std::move(events))) {}
  void start(uv_loop_t* loop) { target_->start(loop); }
  void check_timeouts(Nanos now) { target_->check_timeouts(now); }
  void close() { target_->close(); }
  bool ready() const { return target_->ready(); }
  bool ever_ready() const { return target_->ever_ready(); }
  void send(std::string_view routing_key, const std::vector<std::string>& argv,
            persist::RedisConnection::ReplyHandler on_reply) {
    target_->send(routing_key, argv, std::move(on_reply));
  }

 private:
  std::unique_ptr<persist::RedisTarget> target_;
};

struct FleetOptions {
  FleetConfig fleet;  // node filled in (hostname:pid when not configured)
  RedisConfig redis;
  const Clock* clock = nullptr;
};

class FleetLeases {
 public:
  FleetLeases(FleetOptions options, RuntimeState& state);
  ~FleetLeases();
  FleetLeases(const FleetLeases&) = delete;
  FleetLeases& operator=(const FleetLeases&) = delete;

  // Creates a lease for every contract of `engine` not leased yet and
  // publishes it on its ContractState (pools: its enforced quota, token-bucket
  // and sliding-window limits, its credits). Before workers run, and on the
  // loop thread for each reload's engine before it is published: new
  // contracts get a lease, a lowered limit's units on lease here go back at
  // once (lower_caps), and a leased contract's changed limits are re-leased
  // by the next tick (relayout).
  void attach(const Engine& engine);
  // Connects, starts the refill timer and the wake-up. Loop thread.
  void start(uv_loop_t* loop);
  // Closes the timer, the wake-up and the connection so that the loop can
  // end (the control plane is stopping); leases stay as they are. Loop thread.
  void halt();
  // halt(), then returns every unused unit and reports what was
  // spent with a blocking connection (at most command_timeout per contract),
  // forgets this node and closes the handles. After the workers stopped.
  // Loop thread. Returns what could not be returned.
  [[nodiscard]] std::expected<void, std::string> stop();

  // INFO fleet: name, value lines. Thread-safe.
  void info(const std::function<void(std::string_view, std::string_view)>& visit) const;
  // CONTRACT <key>: the global figures next to the local lease. Thread-safe.
  void contract_info(std::string_view contract,
                     const std::function<void(std::string_view, std::string_view)>& visit) const;
  // FLEET RESOLVE: in-doubt credits of `contract` counted spent (or made
  // spendable: returned). Blocking (admin thread), own connection. Returns the credits moved.
  [[nodiscard]] std::expected<int64_t, std::string> resolve(std::string_view contract, bool spent) const;

  const std::string& node() const { return options_.fleet.node; }
  // Monitor actions fleet-wide: each refill tick also reads Redis' actions
  // hash and hands it to `actions` (control/fleet_actions.h). Before start(); not owned.
  void set_actions(FleetActions* actions) { actions_ = actions; }
  // Monitors on the fleet's counts: about every 250 ms this node's deltas go
  // to Redis and the totals come back to `counts`, and each heartbeat tells
  // it whether this node is the monitor leader (control/fleet_monitor_counts.h).
  // Before start(); not owned.
  void set_monitor_counts(FleetMonitorCounts* counts) { monitor_counts_ = counts; }
  // Scheduled contract changes (`changes:`): once the attached engine's next
  // instant has passed, each tick calls `due` (the Reloader's
  // apply_due_changes, on this loop), whose rebuild attaches the new terms.
  // Before start().
  void set_change_due(std::function<void(Nanos)> due) { change_due_ = std::move(due); }

 private:
  struct PoolTrack {
    bool active = false;
    bool credits = false;
    std::string limit;                 // quota limit name
    int64_t cap = 0;                   // quota limit; credits: Σ lot credits known; bucket: burst
    std::optional<Calendar> calendar;  // quota period
    // A token bucket's pool (tag 0, no period): `cap` is its burst, `interval`
    // the time one token takes to come back (per / rate).
    bool bucket = false;
    Nanos interval = 0;
    // A sliding window's pool: its tag is the current slice (slice_length
    // ns each, `slices` to a window), `cap` its limit.
    bool window = false;
    Nanos slice_length = 0;
    int32_t slices = 0;
    uint32_t tag = 0;
    bool tag_set = false;
    int64_t granted = 0, returned = 0, reported = 0;  // for `tag`
    // Units of `tag` taken out of the lease word by a relayout (a lowered
    // limit) that the next sync returns: no longer on lease here, not yet
    // in `returned`.
    int64_t to_return = 0;
    uint32_t epoch = 0;  // moves on when a reload lowers `cap` (lower_caps)
    // fail: local units of `tag` (FleetLease::Pool::local_word) already
    // reported to the global pool as used: what the workers admitted beyond
    // the lease while Redis was away is reconciled by the first sync Redis
    // answers (docs/fleet.md, "When Redis is away").
    int64_t local_reported = 0;
    uint64_t last_taken = 0;
    uint64_t last_short = 0;
    double rate = 0;         // units/s, smoothed
    Nanos last_used = 0;     // the latest tick that saw takes
    // Figures from the latest answer (INFO, CONTRACT).
    int64_t global_free = -1, global_used = 0, global_leased = 0, doubt = 0;
  };
  // One resource of a sync as sent: which pool, which period, the grant's destination.
  struct SentResource {
    size_t pool = 0;
    uint32_t tag = 0;
    bool current = true;  // the pool's current period (else a rolled-over one: report/return only)
    uint32_t epoch = 0;   // the pool's epoch when sent
  };
  struct Sent {
    std::vector<std::string> argv;
    std::vector<SentResource> resources;
    Nanos sent_at = 0;
  };
  struct Tracked {
    std::string contract;
    std::string pool_key;
    ContractState* state = nullptr;
    std::unique_ptr<FleetLease> lease;
    std::array<PoolTrack, FleetLease::kMaxPools> pools;
    uint64_t seq = 0;
    bool fresh = true;  // no sync of this run has been answered yet
    bool in_flight = false;
    std::shared_ptr<Sent> sending;   // the sync in flight: stop() sends it again (its grant may have been applied)
    std::optional<Sent> unanswered;  // sent, not answered: sent again as it is
    // Rolled-over periods still to report/return: (res name, spent, returned).
    struct Leftover {
      std::string res;
      int64_t spent = 0, returned = 0, local = 0;
    };
    std::vector<Leftover> leftovers;
    uint32_t lots_seen = UINT32_MAX;
    // A reload's layout of this contract's pools, applied by relayout() on
    // the loop once no sync is on its way (loop thread only).
    std::optional<std::array<PoolTrack, FleetLease::kMaxPools>> pending_layout;
  };
  static std::array<PoolTrack, FleetLease::kMaxPools> pools_of(const Policy& policy);
  static bool same_pool(const PoolTrack& a, const PoolTrack& b);
  void relayout(Tracked& t);
  // A lease with no takes for this long goes back to the pool.
  Nanos idle_return() const;
  void lower_caps(Tracked& t, const std::array<PoolTrack, FleetLease::kMaxPools>& wanted);

  void tick(Nanos now, bool woken);
  void heartbeat();
  void load_scripts();
  void send_script(std::string_view routing_key, const std::vector<std::string>& argv,
                   persist::RedisConnection::ReplyHandler on_reply);
  void poll_statuses();
  void poll_actions();
  void report_monitor_counts();
  // Builds the next sync of `t` (nullopt when there is nothing to say).
  std::optional<Sent> build_sync(Tracked& t, Nanos now, bool woken, bool final);
  void send_sync(Tracked& t, Sent sent);
  void on_sync_reply(Tracked& t, const redisReply* reply);
  // Takes a sync's answer in: the grants into the lease, the global figures
  // for INFO and the denials. Loop thread, or stop() once the loop is gone.
  void apply_sync_reply(Tracked& t, const Sent& sent, const redisReply* reply);
  void reclaim_dead(const std::vector<std::string>& dead);
  std::string res_name(const PoolTrack& p, uint32_t tag) const;
  void refresh_caps(Tracked& t);

  static void on_timer(uv_timer_t* timer);
  static void on_wake(uv_async_t* async);
  static void wake(void* self);

  FleetOptions options_;
  RuntimeState& state_;
  const Clock& clock_;
  std::string run_;
  persist::RedisKeys keys_;  // the store's key names (status, actions)
  std::vector<std::unique_ptr<Tracked>> tracked_;
  // Leases a relayout replaced: workers may still hold one (ContractState::fleet
  // read before the swap), so they live as long as this object.
  std::vector<std::unique_ptr<FleetLease>> retired_;
  FleetRedis redis_;
  uv_loop_t* loop_ = nullptr;
  uv_timer_t timer_{};
  uv_async_t wake_{};
  bool handles_open_ = false;
  bool halted_ = false;
  Nanos last_heartbeat_ = 0;
  bool heartbeat_in_flight_ = false;
  bool status_in_flight_ = false;
  bool actions_in_flight_ = false;
  FleetActions* actions_ = nullptr;
  FleetMonitorCounts* monitor_counts_ = nullptr;
  std::function<void(Nanos)> change_due_;
  Nanos next_change_ = INT64_MAX;  // the attached engine's next scheduled instant
  Nanos last_counts_ = 0;
  int64_t live_nodes_ = 1;
  std::unordered_map<const char*, std::string> shas_;  // script text (its data()) -> SHA1 Redis knows

  // Figures for INFO (guarded by mutex_; written on the loop thread).
  mutable std::mutex mutex_;
  struct Counters {
    uint64_t syncs = 0, sync_failures = 0, grants = 0, granted_units = 0, returns = 0, returned_units = 0;
    uint64_t short_syncs = 0, redis_commands = 0, heartbeats = 0, reclaimed_nodes = 0, reclaimed_units = 0;
    uint64_t superseded = 0, status_changes = 0;
    uint64_t relayouts = 0;  // leases rebuilt for a reload's new limits
    uint64_t local_reconciled_units = 0;  // fail: local units reported to the global pools
    std::vector<int64_t> latencies_us;  // ring of the latest sync round trips
    size_t latency_next = 0;
    bool connected = false;
    Nanos partition_since = 0;
  } counters_;
};

}  // namespace tollgate
