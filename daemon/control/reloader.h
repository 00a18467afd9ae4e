// Live config reload (SIGHUP and admin RELOAD): validates the file as a
// whole, builds a new engine that takes over the counters, holds and IDs of
// the running one, and publishes it: current() switches with one atomic
// store, then every subscriber (the services, through add_subscriber) is
// handed the new engine. Workers never pause; the old engine is freed once no
// worker can still be using it. The Reloader knows nothing of the services:
// the control plane does not depend on commands/.
//
// Threads — why a reload is one serialized step
// ---------------------------------------------
// Who touches engine state, and how:
//   * Data workers and the admin worker: CHECK/PEEK/SETTLE/admin commands.
//     They load the engine pointer (acquire) inside a Reclaimer critical
//     section and use that engine until they leave it. Everything they share
//     with a reload is lock-free or atomic (counter entries, subject sets,
//     contract states), and a reload never changes an engine after it is
//     built: Engine::create only reads the running engine and writes the new
//     one until the new one is whole (engine.h), so a rejected reload leaves
//     them nothing to notice.
//   * The control thread (the libuv loop of control/control_plane.h): checkpoints
//     (the embedded store reads the current engine's subject sets, HLLs,
//     dirty log, holds and dedup table, and drains them — "one caller at a
//     time"), the Redis store's write-behind tick, the eviction sweep,
//     reclaimer.collect() (which runs a retired engine's deleter, itself an
//     adopt_entries() over the shared table), and SIGHUP.
// A reload reads and writes what the control thread reads without a lock:
// the hand-over changes shared contract statuses, price ladders and entry
// policies, and the new engine's subject sets are what the next checkpoint
// drains. So every reload runs ON THE CONTROL THREAD, in between its other
// events: a reload is serialized with checkpoints, sweeps and deleters by
// construction, with no lock for a future reader to forget.
//   * SIGHUP is delivered on the control loop: its handler calls reload().
//   * RELOAD arrives on the admin socket's dedicated worker thread: it calls
//     request_reload(), which queues the request, wakes the control loop
//     (uv_async) and blocks that thread until the loop has run the reload and
//     handed back its result. Other admin connections wait meanwhile (a
//     reload takes milliseconds; the data plane never waits).
// reload() checks that it runs on the thread that called start() (an
// abort otherwise: a broken invariant, not an error to recover from).
//
// Deadlock freedom: the control thread never waits for the admin thread
// (nor for a data worker), and a waiting admin thread holds no lock: it may be
// inside a Reclaimer critical section, which only delays freeing, never
// blocks. Shutdown: requests are served until close() (called on the control
// thread once the workers are joined); a request queued or made after that
// is refused, so no caller waits forever.
//
// Thread-safety: reload(), start() and close() on the control thread only;
// request_reload(), current(), reloads() and rejected() from any thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "tollgate/time.h"

namespace tollgate {

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;   // file:line: reason, when rejected
  std::vector<std::string> changes;  // what differs from the running config
  std::vector<std::string> warnings; // changes that need a restart to apply
};

class Reloader {
 public:
  Reloader(std::string config_path, Config running, std::unique_ptr<Engine> engine, Reclaimer& reclaimer,
           RuntimeState& state, int workers);
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Called with the new engine after every reload that succeeds (on the
  // control thread, after current() has switched; never for a rejected
  // one). Before start(). The engine stays owned by the Reloader.
  using Subscriber = std::function<void(Engine*)>;
  void add_subscriber(Subscriber subscriber) { subscribers_.push_back(std::move(subscriber)); }
  // The same, also handed the configuration the new engine was built from
  // (a front's own mapping, e.g. `envoy:`). Valid during the call only.
  using ConfigSubscriber = std::function<void(const Config&, Engine*)>;
  void add_config_subscriber(ConfigSubscriber subscriber) { config_subscribers_.push_back(std::move(subscriber)); }
  // The same, also handed the reload's `now` (the instant the new engine was
  // built at), after the new engine is published: the call log retires the
  // old generation's drain with it.
  using GenerationSubscriber = std::function<void(const Config&, Engine*, Nanos)>;
  void add_generation_subscriber(GenerationSubscriber subscriber) {
    generation_subscribers_.push_back(std::move(subscriber));
  }
  // Called with the new engine *before* it is published (so before any
  // worker can decide with it): the call log queues the generation's mark
  // here, so that no record of the new generation can reach the writer
  // ahead of its mark (calllog/call_log.h, "Generations").
  void add_before_publish(GenerationSubscriber subscriber) { before_publish_.push_back(std::move(subscriber)); }
  // Called with every new engine before it is published: a reload's, and a
  // scheduled change's rebuild (apply_due_changes) too, which keeps the
  // config generation and so calls no before_publish subscriber. The fleet
  // leases its new terms here (control/fleet_leases.h).
  void add_engine_prepare(Subscriber subscriber) { engine_prepare_.push_back(std::move(subscriber)); }

  // Makes the calling thread (the one that runs `loop`) the only one that
  // reloads, and serves request_reload() from other threads on `loop`, with
  // `clock` read when a request runs. Control thread.
  void start(uv_loop_t* loop, const Clock& clock);
  // Stops serving requests: those queued and any made later are refused.
  // Closes the loop handle (its close callback runs on the next loop turn).
  // Control thread.
  void close();

  // Reloads the config file now. Control thread only (see above). The new
  // engine has the file's terms in force at `now` (config_at: changes whose
  // instant has passed are in effect) and the later changes pending.
  ReloadResult reload(Nanos now);
  // Scheduled contract changes (config/contract_changes.h): once `now` has
  // reached the running engine's next_change_at(), rebuilds the engine from
  // the running file's terms at `now`, exactly as a reload of an unchanged
  // file would at that instant (hand-over, entries adopted, old engine
  // retired), and adds a `change` EVENTS entry per change now in effect.
  // Decisions do not wait for this: the engine already switched terms at the
  // instant (engine/contract_schedule.h); this makes the new terms the base
  // (statuses, ladders, monitors' counters) and drops the spent chain.
  // Returns true when it rebuilt. Control thread only; called every sweep tick.
  bool apply_due_changes(Nanos now);
  // Has the control thread reload the config file, and waits for the result.
  // From any thread but the control thread (there it reloads directly).
  ReloadResult request_reload();

  Engine& current() const { return *current_.load(std::memory_order_acquire); }
  uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  // One RELOAD waiting for the control thread.
  struct Request {
    std::optional<ReloadResult> result;  // set by the control thread, under mutex_
  };
  static void on_requests(uv_async_t* handle);
  void serve_requests();
  ReloadResult reject(std::vector<std::string> errors);
  // Makes `fresh` (built from `config`, the file as loaded) current and retires the old engine.
  void publish(Engine* fresh, const Config& config, Nanos now);

  std::string config_path_;
  Config running_;
  Reclaimer& reclaimer_;
  RuntimeState& state_;
  int workers_;
  std::vector<Subscriber> subscribers_;
  std::vector<ConfigSubscriber> config_subscribers_;
  std::vector<GenerationSubscriber> generation_subscribers_;
  std::vector<GenerationSubscriber> before_publish_;
  std::vector<Subscriber> engine_prepare_;
  std::atomic<Engine*> current_;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> rejected_{0};
  bool schedule_failed_ = false;  // the last due rebuild failed (logged once until one succeeds)

  // The control thread, once start() ran (default id: not started).
  std::thread::id owner_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<uv_async_t> wake_;  // owned by the loop until its close callback
  std::mutex mutex_;                  // guards the fields below
  std::condition_variable served_;
  std::deque<std::shared_ptr<Request>> queue_;
  bool accepting_ = false;  // start() ran and close() did not
  bool closed_ = false;
};

// Settings that a running daemon cannot change (listeners, storage, table
// sizes): one line each for those that differ.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

}  // namespace tollgate
