// The Service that gives commands their meaning: dispatches through the
// command table to the engine, and keeps per-worker decision metrics.
// Thread-safety: shared by all workers; per-worker state is indexed by the
// worker and touched only by that worker's thread (metrics are read by INFO
// from any thread with relaxed loads).
#pragma once

#include <algorithm>
#include <atomic>
#include <expected>
#include <functional>
#include <vector>
#include <memory>
#include <string>

#include "commands/command_table.h"
#include "engine/cell_throttle.h"
#include "engine/commit_gate.h"
#include "engine/contract_admin.h"
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
  std::atomic<uint64_t> by_code[kCodeCount] = {};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

struct ServiceInfo {
  std::string config_path;
  int currency_decimals = 2;
  bool serves_holds = true;  // false on the admin service: data workers own hold expiry
  // INFO persistence: name/value/description lines of the store's counters; may be empty.
  std::function<void(const std::function<void(std::string_view, uint64_t, std::string_view)>&)> persistence;
  std::function<std::string()> persistence_error;
  Nanos started_at = 0;
  std::function<ServerStats()> server_stats;  // connections etc.; may be empty
  size_t max_key = 512;  // server.max_key: longer keys are refused by every command taking one
};

class DataService final : public Service {
 public:
  DataService(Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers, ServiceInfo info);

  void begin_batch(int worker) override;
  void end_batch(int worker) override;
  Nanos batch_now(int worker) const override { return workers_[worker].now; }
  void execute(std::span<const std::string_view> args, Session& session, resp::ReplyWriter& out) override;
  Nanos next_deadline(int worker) override;
  void prefetch(std::string_view input) override;
  void on_deadline(int worker) override;
  uint64_t durable_through() const override {
    return commit_gate_ != nullptr ? commit_gate_->durable_through() : UINT64_MAX;
  }

  // durability strict: allowed CHECK replies wait for the checkpoint holding
  // their charge. Set before the workers start; null (the default): no wait.
  void set_commit_gate(CommitGate* gate) { commit_gate_ = gate; }
  // Gives `session`'s reply a commit ticket when replies wait for commits.
  void hold_until_durable(Session& session) {
    if (commit_gate_ == nullptr) return;
    session.commit_ticket = commit_gate_->ticket();
    PerWorker& w = workers_[session.worker];
    w.max_ticket = std::max(w.max_ticket, session.commit_ticket);
    WorkerMetrics::bump(w.metrics.commit_waits);
  }
  Engine& engine() { return *engine_.load(std::memory_order_acquire); }
  // Reload: workers pick the new engine up at their next command.
  void set_engine(Engine* engine) { engine_.store(engine, std::memory_order_release); }
  // The admin service's RELOAD runs this (returns the RELOAD reply's lines).
  void set_reload(std::function<std::expected<std::vector<std::string>, std::string>()> reload) {
    reload_ = std::move(reload);
  }
  const auto& reload_hook() const { return reload_; }
  const CommandTable& commands() const { return table_; }
  WorkerMetrics& metrics(int worker) { return workers_[worker].metrics; }
  int worker_count() const { return static_cast<int>(workers_.size()); }
  const ServiceInfo& info() const { return info_; }
  // Set before the workers start.
  void set_persistence(decltype(ServiceInfo::persistence) counters, std::function<std::string()> last_error) {
    info_.persistence = std::move(counters);
    info_.persistence_error = std::move(last_error);
  }
  const Clock& clock() const { return clock_; }
  // CL.THROTTLE's buckets (owned by the daemon, which outlives the workers);
  // null (the default): the command answers that it is not enabled. Set
  // before the workers start; read by them without synchronization after.
  CellThrottle* cell_throttle() { return cell_throttle_; }
  void set_cell_throttle(CellThrottle* throttle) { cell_throttle_ = throttle; }
  // Admin operations; set on the admin socket's service only.
  ContractAdmin* admin() { return admin_; }
  void set_admin(ContractAdmin* admin) { admin_ = admin; }

  // Sums of the per-worker metrics, for INFO.
  uint64_t total(std::atomic<uint64_t> WorkerMetrics::*field) const;
  uint64_t total_code(Code c) const;

 private:
  struct alignas(64) PerWorker {
    Nanos now = 0;
    int reader_slot = 0;
    uint64_t max_ticket = 0;  // highest commit ticket handed out in this batch
    WorkerMetrics metrics;
  };

  std::atomic<Engine*> engine_;
  const Clock& clock_;
  Reclaimer& reclaimer_;
  std::unique_ptr<PerWorker[]> workers_storage_;
  std::span<PerWorker> workers_;
  ServiceInfo info_;
  CommandTable table_;
  ContractAdmin* admin_ = nullptr;
  CommitGate* commit_gate_ = nullptr;
  CellThrottle* cell_throttle_ = nullptr;
  std::function<std::expected<std::vector<std::string>, std::string>()> reload_;
};

}  // namespace tollgate
