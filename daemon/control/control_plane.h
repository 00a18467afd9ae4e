// The control plane's thread: one libuv loop that owns the daemon's periodic
// and administrative work, so that none of it runs on a data worker:
//   * the eviction sweep (engine and CL.THROTTLE tables), ledger debit flushes
//     (memory and embedded modes) and reclaimer.collect(), every sweep_interval;
//   * the embedded store's checkpoint timer, and with durability strict the
//     back-to-back checkpoints that waiting replies ask for (CommitGate);
//   * SIGHUP and the admin RELOAD (control/reloader.h: every reload runs here);
//   * shutdown: SIGTERM/SIGINT stop accepting, the workers are drained and
//     joined off the loop (their strict replies still need checkpoints from
//     it), then the final checkpoint or Redis flush, then every handle closes.
// See docs/architecture.md, "Control plane".
//
// Thread-safety: every method runs on the thread that runs the loop (the main
// thread), except that the CommitGate may wake the loop from any thread once
// serve_commits() ran. The handlers run on the loop thread only; the drainer
// thread touches nothing but the Server and the drained handle (uv_async_send
// is thread-safe). Borrows everything in ControlPlaneParts, which must
// outlive run().
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <thread>

#include "control/commit_gate.h"
#include "control/contract_admin.h"
#include "control/reloader.h"
#include "engine/cell_throttle.h"
#include "engine/reclaimer.h"
#include "net/server.h"
#include "persist/embedded/embedded_store.h"
#include "persist/redis/redis_store.h"
#include "tollgate/time.h"

namespace tollgate {

// What the control plane drives. At most one of store and redis is set
// (storage.mode embedded or redis; neither in memory mode).
struct ControlPlaneParts {
  Server* server = nullptr;
  CommitGate* gate = nullptr;
  persist::EmbeddedStore* store = nullptr;
  persist::RedisStore* redis = nullptr;
  Reloader* reloader = nullptr;
  CellThrottle* cell = nullptr;
  Reclaimer* reclaimer = nullptr;
  ContractAdmin* admin = nullptr;
  const Clock* clock = nullptr;
  Nanos sweep_interval = kNanosPerSecond;  // table.sweep_interval
  int64_t checkpoint_ms = 1000;            // storage.checkpoint_ms (embedded store only)
  // The service manager's hooks (app/systemd_notify.h): on_stopping runs
  // when a stop signal arrives; on_watchdog every watchdog_ms from this loop
  // (so a stuck control loop stops the pings). Empty / 0: none.
  std::function<void()> on_stopping;
  std::function<void()> on_watchdog;
  uint64_t watchdog_ms = 0;
};

class ControlPlane {
 public:
  ControlPlane();  // initialises the loop
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // The loop the server's listeners, the reloader and the Redis store attach to.
  uv_loop_t* loop() { return &loop_; }

  // Before any worker starts: `gate`'s requests (strict replies waiting for
  // their charge) wake this loop, which runs checkpoints back to back while
  // they wait; `on_durable` (the server waking the workers) runs when one is
  // durable.
  void serve_commits(CommitGate& gate, std::function<void()> on_durable);
  // Once the server has started: the signals and the timers.
  void start(const ControlPlaneParts& parts);
  // Runs the loop until a stop signal has drained the workers and every
  // handle is closed.
  void run();
  // Closes the loop (after run(), or when start-up fails before it).
  void close();

 private:
  static void on_drained(uv_async_t* handle);
  static void on_stop_signal(uv_signal_t* handle, int signum);
  static void on_commit_request(uv_async_t* handle);
  static void on_hup(uv_signal_t* handle, int signum);
  static void on_sweep(uv_timer_t* timer);
  static void on_checkpoint(uv_timer_t* timer);
  static void on_watchdog(uv_timer_t* timer);
  void close_all();

  uv_loop_t loop_;
  uv_signal_t sigterm_, sigint_, sighup_;
  uv_timer_t sweep_timer_;
  uv_timer_t checkpoint_timer_;  // runs only with the embedded store
  uv_timer_t watchdog_timer_;    // runs only under a systemd watchdog
  uv_async_t commit_async_;      // durability strict: replies wait for a checkpoint
  uv_async_t drained_async_;     // shutdown: the workers have written what they owe
  std::thread drainer_;          // shutdown: joins the workers off the loop
  ControlPlaneParts parts_;
  bool stopping_ = false;
};

}  // namespace tollgate
