// The control plane's side of the monitors: about once a second it samples
// every watched contract's counters from the engine in force, lets
// monitor/monitors.h decide, and carries the outcomes out — EVENTS entries,
// lines in the JSON event file (control/monitor_event_file.h), and the
// actions, journaled through ContractAdmin (put in force when due, lifted
// when their `for:` has passed). It also keeps every policy's restriction
// word in step with its contract's actions (a reload racing an action is
// corrected here within one tick).
//
// The monitors' learned state (baselines, warm-up, firings) is kept between
// runs by a BaselineStore (control/monitor_baselines.h): restored by
// keep_baselines() at start, saved every kBaselineSaveInterval of tick time
// and at close(). A reload keeps the state of every contract that still has
// a monitor (Monitors::prune).
//
// Thread-safety: tick(), configure() and the timer run on the control loop;
// on_clear() and on_ack() may come from the admin thread (on_ack only queues;
// the loop writes the file and posts the webhook), on_fleet_actions() from the
// control loop (not under ContractAdmin's lock); baseline_info() from any
// (its own small mutex, always taken last and held only to copy a few
// fields). One mutex guards the monitors'
// state; it is taken before ContractAdmin's exclusive() on both paths (the
// same order), so the two never wait on each other in a cycle. Borrows the
// engine accessor, state and admin, which must outlive it.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "control/contract_admin.h"
#include "control/fleet_monitor_counts.h"
#include "control/monitor_baselines.h"
#include "control/monitor_event_file.h"
#include "control/monitor_webhook.h"
#include "engine/engine.h"
#include "monitor/monitors.h"
#include "tollgate/time.h"

namespace tollgate {

class MonitorRunner {
 public:
  MonitorRunner(std::function<Engine&()> engine, RuntimeState& state, ContractAdmin& admin);
  MonitorRunner(const MonitorRunner&) = delete;
  MonitorRunner& operator=(const MonitorRunner&) = delete;

  // Takes the monitors of `config` (each contract's own, then the defaults it
  // does not override) and the event outputs. At start and after each reload.
  void configure(const Config& config);
  // Starts the 1 s timer on `loop` (the control loop); close() stops it.
  void start(uv_loop_t* loop, const Clock& clock, Nanos interval = kNanosPerSecond);
  // Stops the timer and saves the learned state a last time (clean stop).
  void close();
  // Keeps the learned state in `store`: restores what an earlier run saved
  // for the contracts that have monitors now (an unreadable store is logged,
  // counted and shown in INFO; those contracts warm up), then saves every
  // `every` of tick time from `now`. After configure(), before the first tick.
  static constexpr Nanos kBaselineSaveInterval = 5 * 60 * kNanosPerSecond;
  void keep_baselines(std::unique_ptr<BaselineStore> store, Nanos now, Nanos every = kBaselineSaveInterval);
  // One evaluation at `now`. Tests call it with simulated time.
  void tick(Nanos now);
  // MONITOR CLEAR told us: that monitor stays quiet for its cool-down.
  void on_clear(std::string_view contract, std::string_view monitor, Nanos now);
  // MONITOR ACK told us (ContractAdmin::set_on_ack; admin thread): the ack
  // goes to the event file and the webhook as a `monitor.ack` line, written
  // by the next tick (both belong to the control loop) or by close().
  void on_ack(const Event& acked, uint64_t ack_seq);
  // Fleet mode: actions another daemon put in force or lifted, applied here
  // (control/fleet_actions.h). Their contracts are watched for expiry like
  // local ones (every node lifts at `until`); a clear made elsewhere quiets
  // the monitor here for its cool-down, as a local MONITOR CLEAR does.
  void on_fleet_actions(const std::vector<RemoteActionChange>& applied, Nanos now);

  // Fleet mode: samples carry the fleet's counts, balance and distinct
  // users, and the monitors run only on the monitor leader
  // (control/fleet_monitor_counts.h).
  // Before start(); not owned.
  void set_fleet_counts(FleetMonitorCounts* counts) { fleet_counts_ = counts; }

  // INFO monitors' lines about the kept baselines: where, restored, saved,
  // failures, the latest error. Any thread.
  void baseline_info(const std::function<void(std::string_view, std::string_view)>& visit) const;
  struct BaselineCounts {
    uint64_t restored = 0, saved = 0, failures = 0;
    std::string where = "none", last_error;
  };
  BaselineCounts baseline_counts() const {
    std::lock_guard lock(status_mutex_);
    return baseline_status_;
  }

  const Monitors& monitors() const { return monitors_; }
  size_t webhook_queued() const { return webhook_.queued(); }

 private:
  static void on_timer(uv_timer_t* timer);
  void carry_out(const MonitorOutcome& o);
  void expire_actions(Nanos now);
  void event(const MonitorOutcome& o, std::string_view kind, const ActiveAction* action);
  // Writes and posts the acks on_ack queued. Loop thread, under mutex_.
  void flush_acks();
  // Saves the learned state when due (`entries` were taken under mutex_). Loop thread, outside mutex_.
  void save_baselines(BaselineStore::Entries entries, Nanos now);

  std::function<Engine&()> engine_;
  RuntimeState& state_;
  ContractAdmin& admin_;
  std::mutex mutex_;
  Monitors monitors_;
  std::map<std::string, std::vector<MonitorSpec>, std::less<>> specs_;  // by contract
  std::map<std::string, std::vector<MonitorSpec>, std::less<>> node_specs_;  // by contract: not on fleet counts
  FleetMonitorCounts* fleet_counts_ = nullptr;
  std::map<std::string, std::string, std::less<>> zones_;               // by contract
  std::string default_zone_ = "UTC";
  MonitorEventFile file_;
  MonitorWebhook webhook_;
  std::vector<std::string> acks_;  // JSON lines on_ack queued for the loop (mutex_)
  uv_timer_t timer_{};
  const Clock* clock_ = nullptr;
  bool started_ = false;
  bool scanned_ = false;  // contracts with actions (restored at start) were looked for
  std::set<std::string, std::less<>> with_actions_;
  // Counts a baseline failure: logged by the caller, shown in INFO.
  void baseline_failed(std::string error);

  std::unique_ptr<BaselineStore> baselines_;  // null: the learned state lives in memory only
  mutable std::mutex status_mutex_;  // guards baseline_status_ (INFO reads it from other threads)
  BaselineCounts baseline_status_;
  Nanos baseline_every_ = kBaselineSaveInterval;
  Nanos baselines_due_ = 0;         // tick time of the next save
  bool baseline_save_running_ = false;  // a Redis save not yet answered (loop thread)
  bool baselines_final_ = false;        // close() saved the last time
  // The store holds entries (loaded or saved): an empty set is written only
  // then, so a daemon without monitors leaves no file behind.
  bool baselines_stored_ = false;
};

}  // namespace tollgate
