// The data socket's service: runs the data-plane commands of the command
// table (CHECK, PEEK, SETTLE, CL.THROTTLE, server commands) against the
// engine, expires its workers' holds, prefetches a batch's keys and, with
// durability strict, holds replies until their charge is durable. What it
// shares with the admin service is in commands/command_service.h.
// Thread-safety: as CommandService; set_commit_gate before the workers start.
#pragma once

#include <algorithm>
#include <memory>

#include "commands/command_service.h"
#include "control/commit_gate.h"
#include "engine/cell_throttle.h"

namespace tollgate {

namespace calllog {
class CallLog;  // calllog/call_log.h
}  // namespace calllog

class DataService final : public CommandService {
 public:
  DataService(Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers, ServiceInfo info);

  void end_batch(int worker) override;
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
    uint64_t& max_ticket = tickets_[session.worker].max;
    max_ticket = std::max(max_ticket, session.commit_ticket);
    WorkerMetrics::bump(metrics(session.worker).commit_waits);
  }
  // CL.THROTTLE's buckets (owned by the daemon, which outlives the workers);
  // null (the default): the command answers that it is not enabled. Set
  // before the workers start; read by them without synchronization after.
  CellThrottle* cell_throttle() { return cell_throttle_; }
  void set_cell_throttle(CellThrottle* throttle) { cell_throttle_ = throttle; }
  // call_log: every CHECK and applied SETTLE is recorded here (calllog/check_hook.h).
  // Owned by the daemon; null (the default): not recorded. Set before the workers start.
  calllog::CallLog* call_log() const { return call_log_; }
  void set_call_log(calllog::CallLog* log) { call_log_ = log; }

 private:
  struct alignas(64) Tickets {
    uint64_t max = 0;  // highest commit ticket handed out in this batch
  };
  std::unique_ptr<Tickets[]> tickets_;
  CommitGate* commit_gate_ = nullptr;
  CellThrottle* cell_throttle_ = nullptr;
  calllog::CallLog* call_log_ = nullptr;
};

}  // namespace tollgate
