// Everything the daemon keeps that is not configuration — every contract's
// state, the money ledger, the payment ids, the events, the keys changed since
// the last checkpoint and whether the shared state store is reachable — so
// that it survives config reloads (each new Engine borrows the same one).
// Owned by the daemon's wiring (app/), borrowed by the engines, the control
// plane and the persistence layer; it must outlive them all.
// Thread-safety: stated per member below.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/contract.h"
#include "engine/dirty_log.h"
#include "engine/money/ledger.h"
#include "engine/money/payments.h"

namespace tollgate {

// An admin or anomaly event, for EVENTS.
struct Event {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;      // suspend, resume, terminate, reset, recharge, ...
  std::string contract;
  int64_t actor = -1;
  std::string detail;
};

// What the monitors did (control/monitor_runner.h), for INFO and GET /metrics.
// Written by the control loop, read by any thread: relaxed atomics.
struct MonitorCounters {
  std::atomic<uint64_t> firings{0};         // monitors that fired
  std::atomic<uint64_t> clears{0};          // firings that cleared (hysteresis)
  std::atomic<uint64_t> actions{0};         // actions put in force
  std::atomic<uint64_t> lifts{0};           // actions lifted (expired or cleared)
  std::atomic<uint64_t> action_failures{0}; // actions that could not be made durable
  std::atomic<uint64_t> firing_now{0};      // gauge: monitors firing now
  std::atomic<uint64_t> active_actions{0};  // gauge: actions in force now
  std::atomic<uint64_t> events_written{0};  // lines written to monitor_events.file
  std::atomic<uint64_t> webhook_delivered{0};
  std::atomic<uint64_t> webhook_failed{0};  // attempts that failed (each retry counts)
  std::atomic<uint64_t> webhook_dropped{0}; // events given up after every retry
};

// Thread-safety: contract(), find(), all(), add_event() and events() take
// one mutex (control plane and start-up; the data plane reaches contract
// states through its Policy, never through these). The ledger, payments and
// dirty log lock for themselves (see their headers); storage_available() and
// the fail counters are atomics, safe from any thread. Contract states are
// never removed, so a ContractState& stays valid for the object's life.
class RuntimeState {
 public:
  ContractState& contract(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& slot = contracts_[key];
    if (!slot) slot = std::make_unique<ContractState>(key);
    return *slot;
  }
  ContractState* find(std::string_view key) {
    std::lock_guard lock(mutex_);
    auto it = contracts_.find(key);
    return it == contracts_.end() ? nullptr : it->second.get();
  }
  std::vector<ContractState*> all() {
    std::lock_guard lock(mutex_);
    std::vector<ContractState*> out;
    for (auto& [k, v] : contracts_) out.push_back(v.get());
    return out;
  }
  uint64_t add_event(Event e) {
    uint64_t seq = 0;
    {
      std::lock_guard lock(mutex_);
      e.seq = events_.empty() ? 1 : events_.back().seq + 1;
      events_.push_back(std::move(e));
      if (events_.size() > kMaxEvents) events_.erase(events_.begin(), events_.begin() + kMaxEvents / 4);
      seq = events_.back().seq;
    }
    // After the event is readable: a listener woken now finds it.
    std::lock_guard lock(listener_mutex_);
    if (event_listener_) event_listener_();
    return seq;
  }
  // Called after each add_event, on the adding thread, outside mutex_ (it may
  // call events()); must not block or add events (EVENTS FOLLOW: it wakes the
  // servers' workers). Set once serving, cleared (empty) before what it wakes
  // goes away: when this returns, no call of the old listener runs. Any thread.
  void set_event_listener(std::function<void()> listener) {
    std::lock_guard lock(listener_mutex_);
    event_listener_ = std::move(listener);
  }
  std::vector<Event> events(uint64_t since) const {
    std::lock_guard lock(mutex_);
    std::vector<Event> out;
    for (const auto& e : events_)
      if (e.seq > since) out.push_back(e);
    return out;
  }

  Ledger& ledger() { return ledger_; }
  PaymentRegistry& payments() { return payments_; }
  // Keys changed since the last checkpoint; shared by the engines of successive reloads.
  DirtyLog& dirty_log() { return dirty_log_; }

  // Whether the shared state store (Redis) is reachable; while it is not,
  // each contract's `fail:` policy decides its calls. Always true without
  // Redis. Any thread (one relaxed load on the hot path).
  bool storage_available() const { return storage_available_.load(std::memory_order_relaxed); }
  void set_storage_available(bool available) { storage_available_.store(available, std::memory_order_relaxed); }
  // Calls decided by `fail: open` (allowed, nothing charged) and `fail: closed`
  // (denied UNAVAILABLE) while the store was down. Any thread.
  std::atomic<uint64_t>& fail_open_allowed() { return fail_open_allowed_; }
  std::atomic<uint64_t>& fail_closed_denied() { return fail_closed_denied_; }
  MonitorCounters& monitor_counters() { return monitor_counters_; }

  static constexpr size_t kMaxEvents = 100'000;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<ContractState>, std::less<>> contracts_;
  std::vector<Event> events_;
  std::mutex listener_mutex_;  // guards event_listener_; held while it runs
  std::function<void()> event_listener_;
  Ledger ledger_;
  PaymentRegistry payments_;
  DirtyLog dirty_log_;
  std::atomic<bool> storage_available_{true};
  alignas(64) std::atomic<uint64_t> fail_open_allowed_{0};
  alignas(64) std::atomic<uint64_t> fail_closed_denied_{0};
  MonitorCounters monitor_counters_;
};

}  // namespace tollgate
