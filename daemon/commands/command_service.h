// What the data and the admin service share: dispatch through the command
// table (where a command may run, arity, key length), the engine in force,
// the batch clock, per-worker decision metrics and the facts INFO shows.
// DataService (commands/data_service.h) adds the data plane (holds, commit
// waits, prefetch); AdminService (commands/admin_service.h) the control
// plane's admin operations and RELOAD. Each service runs only the commands
// of its own plane: an admin command never reaches the data service.
// Thread-safety: shared by all workers of its listener; per-worker state is
// indexed by the worker and touched only by that worker's thread (metrics
// are read by INFO from any thread with relaxed loads). set_engine() may run
// on any thread at any time (reload: one release store, workers pick the new
// engine up at their next command); the setters marked "before the workers
// start" must not race with them. Borrows the engine, clock and reclaimer.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "commands/command_table.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "net/server.h"
#include "net/service.h"
#include "tollgate/time.h"

namespace tollgate {

// Relaxed counters owned by one worker; only that worker writes them.
struct alignas(64) WorkerMetrics {
  std::atomic<uint64_t> checks{0};
  std::atomic<uint64_t> peeks{0};
  std::atomic<uint64_t> client_errors{0};
  std::atomic<uint64_t> unknown_commands{0};
  std::atomic<uint64_t> holds_expired{0};
  std::atomic<uint64_t> settles{0};
  std::atomic<uint64_t> paced{0};  // CHECK ... WAIT replies held for their slot
  std::atomic<uint64_t> commit_waits{0};  // durability strict: replies held until their charge is durable
  std::atomic<uint64_t> transactions{0};          // EXECs run
  std::atomic<uint64_t> transactions_aborted{0};  // EXECs whose CHECKs were not all allowed (ABORTED)
  std::atomic<uint64_t> transactions_discarded{0};  // EXECABORT (a command refused while queueing)
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> by_code[kCodeCount] = {};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

struct ServiceInfo {
  std::string config_path;
  int currency_decimals = 2;
  // INFO persistence: name/value/description lines of the store's counters; may be empty.
  std::function<void(const std::function<void(std::string_view, uint64_t, std::string_view)>&)> persistence;
  std::function<std::string()> persistence_error;
  // INFO envoy: name/value lines of the gRPC front (fronts/envoy/grpc/); empty without server.grpc.
  std::function<void(const std::function<void(std::string_view, std::string_view)>&)> envoy;
  // Fleet mode (control/fleet_leases.h); all empty without a fleet: section.
  // INFO fleet lines; CONTRACT's fleet.* lines of one contract; FLEET RESOLVE.
  std::function<void(const std::function<void(std::string_view, std::string_view)>&)> fleet;
  std::function<void(std::string_view, const std::function<void(std::string_view, std::string_view)>&)>
      fleet_contract;
  std::function<std::expected<int64_t, std::string>(std::string_view, bool)> fleet_resolve;
  // INFO calllog: name/value lines of the call log (calllog/call_log.h); empty without call_log.
  std::function<void(const std::function<void(std::string_view, std::string_view)>&)> call_log;
  // INFO monitors: name/value lines of the monitors' kept baselines (control/monitor_runner.h); may be empty.
  std::function<void(const std::function<void(std::string_view, std::string_view)>&)> monitor_baselines;
  Nanos started_at = 0;
  std::function<ServerStats()> server_stats;  // connections etc.; may be empty
  size_t max_key = 512;  // server.max_key: longer keys are refused by every command taking one
};

class CommandService : public Service {
 public:
  ~CommandService() override = default;
  CommandService(const CommandService&) = delete;
  CommandService& operator=(const CommandService&) = delete;

  void begin_batch(int worker) override;
  void end_batch(int worker) override;
  Nanos batch_now(int worker) const override { return workers_[worker].now; }
  // Looks the command up, checks that it runs on this service's plane, its
  // arity and key length, and calls it. Every path writes exactly one reply.
  void execute(std::span<const std::string_view> args, Session& session, resp::ReplyWriter& out) final;
  // execute() without the AUTH and MULTI gates: what EXEC runs for each
  // queued command that is not a CHECK.
  void dispatch(const CommandSpec* spec, std::span<const std::string_view> args, Session& session,
                resp::ReplyWriter& out);
  // The checks dispatch() makes before the handler (known command, plane,
  // arity, key length); on failure writes the error, counts it and returns false.
  bool admissible(const CommandSpec* spec, std::span<const std::string_view> args, Session& session,
                  resp::ReplyWriter& out);

  // server.requirepass (or the contents of server.requirepass_file); empty:
  // no password. The data service only (the admin socket admits peers by
  // uid/gid). Any thread (start-up, reload); AUTH reads it under a mutex.
  void set_password(std::string password);
  bool password_required() const { return password_required_.load(std::memory_order_acquire); }
  // AUTH's comparison, in time that depends on the lengths only.
  bool password_matches(std::string_view candidate) const;
  // server.max_connections, for CONFIG GET maxclients. Before the workers start.
  void set_max_clients(int64_t n) { max_clients_ = n; }
  int64_t max_clients() const { return max_clients_; }

  // kOnData or kOnAdmin: the commands this service runs.
  uint32_t plane() const { return plane_; }
  Engine& engine() { return *engine_.load(std::memory_order_acquire); }
  // Reload: workers pick the new engine up at their next command.
  void set_engine(Engine* engine) { engine_.store(engine, std::memory_order_release); }
  const CommandTable& commands() const { return table_; }
  WorkerMetrics& metrics(int worker) { return workers_[worker].metrics; }
  int worker_count() const { return static_cast<int>(workers_.size()); }
  const ServiceInfo& info() const { return info_; }
  // Before the workers start.
  void set_persistence(decltype(ServiceInfo::persistence) counters, std::function<std::string()> last_error) {
    info_.persistence = std::move(counters);
    info_.persistence_error = std::move(last_error);
  }
  const Clock& clock() const { return clock_; }

  // Sums of the per-worker metrics, for INFO.
  uint64_t total(std::atomic<uint64_t> WorkerMetrics::*field) const;
  uint64_t total_code(Code c) const;

 protected:
  // `plane`: kOnData or kOnAdmin. `workers`: the threads that call it.
  CommandService(uint32_t plane, Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers,
                 ServiceInfo info);
  // The plane's own half a command's context gets (CommandContext); set by
  // the derived service's constructor, so dispatch needs no virtual call.
  DataService* as_data_ = nullptr;
  AdminService* as_admin_ = nullptr;
  Nanos worker_now(int worker) const { return workers_[worker].now; }

 private:
  struct alignas(64) PerWorker {
    Nanos now = 0;
    int reader_slot = 0;
    WorkerMetrics metrics;
  };

  // Between MULTI and EXEC: queues the command (+QUEUED) or refuses it and
  // marks the transaction failed (Redis's rules, see transaction_commands.cc).
  void queue(const CommandSpec* spec, std::span<const std::string_view> args, Session& session,
             resp::ReplyWriter& out);

  const uint32_t plane_;
  std::atomic<bool> password_required_{false};
  mutable std::mutex password_mutex_;
  std::string password_;
  int64_t max_clients_ = 0;
  std::atomic<Engine*> engine_;
  const Clock& clock_;
  Reclaimer& reclaimer_;
  std::unique_ptr<PerWorker[]> workers_storage_;
  std::span<PerWorker> workers_;
  ServiceInfo info_;
  CommandTable table_;
};

}  // namespace tollgate
