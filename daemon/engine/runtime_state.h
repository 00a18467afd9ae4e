// Everything the daemon keeps that is not configuration — every contract's
// state, the money ledger, the payment ids, the events, the keys changed since
// the last checkpoint and whether the shared state store is reachable — so
// that it survives config reloads (each new Engine borrows the same one).
// Owned by the daemon's wiring (app/), borrowed by the engines, the control
// plane and the persistence layer; it must outlive them all.
// Thread-safety: stated per member below.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <expected>
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
  Event() = default;
  // The six fields an event is made with (the ack fields start empty).
  Event(uint64_t seq_, int64_t time_ms_, std::string kind_, std::string contract_, int64_t actor_, std::string detail_)
      : seq(seq_),
        time_ms(time_ms_),
        kind(std::move(kind_)),
        contract(std::move(contract_)),
        actor(actor_),
        detail(std::move(detail_)) {}

  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;      // suspend, resume, terminate, reset, recharge, ...
  std::string contract;
  int64_t actor = -1;
  std::string detail;
  // MONITOR ACK: when (0: not acknowledged), by whom, and the operator's note.
  int64_t acked_ms = 0;
  int64_t acked_by = -1;
  std::string ack_note;
};

// Whether an event calls for an operator's acknowledgement: a monitor that
// fired, or an action it put in force (MONITOR ACK; README, "Acknowledging").
inline bool ackable_event_kind(std::string_view kind) { return kind == "monitor.fired" || kind == "monitor.action"; }

// What acknowledge_event() did: the event as it now stands, and whether this
// call acknowledged it (false: it already was, and the first ack stays).
struct EventAck {
  Event event;
  bool newly = false;
};
enum class EventAckRefusal : uint8_t { kNoSuchEvent, kNotAckable };

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
  std::atomic<uint64_t> acks{0};            // events acknowledged (MONITOR ACK)
  std::atomic<uint64_t> unacknowledged{0};  // gauge: fired/action events still kept and not acknowledged
};

// Thread-safety: contract(), find(), all(), add_event(), acknowledge_event() and events() take
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
      if (ackable_event_kind(e.kind) && e.acked_ms == 0) ++unacknowledged_;
      events_.push_back(std::move(e));
      if (events_.size() > kMaxEvents) {
        // The oldest quarter goes; its unacknowledged events stop being counted.
        const auto cut = events_.begin() + kMaxEvents / 4;
        for (auto it = events_.begin(); it != cut; ++it)
          if (ackable_event_kind(it->kind) && it->acked_ms == 0) --unacknowledged_;
        events_.erase(events_.begin(), cut);
      }
      seq = events_.back().seq;
      monitor_counters_.unacknowledged.store(unacknowledged_, std::memory_order_relaxed);
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
  // MONITOR ACK: marks event `seq` acknowledged by `actor` at `now_ms` with
  // `note`. Refused for a seq no longer (or never) kept and for an event
  // that calls for no acknowledgement (ackable_event_kind). Acknowledging
  // twice changes nothing (the first ack stays; `newly` is false). Adds no
  // event itself: the caller reports the ack as one. Any thread.
  std::expected<EventAck, EventAckRefusal> acknowledge_event(uint64_t seq, int64_t actor, int64_t now_ms,
                                                             std::string note) {
    std::lock_guard lock(mutex_);
    auto it = std::lower_bound(events_.begin(), events_.end(), seq,
                               [](const Event& e, uint64_t s) { return e.seq < s; });
    if (it == events_.end() || it->seq != seq) return std::unexpected(EventAckRefusal::kNoSuchEvent);
    if (!ackable_event_kind(it->kind)) return std::unexpected(EventAckRefusal::kNotAckable);
    if (it->acked_ms != 0) return EventAck{*it, false};
    it->acked_ms = now_ms > 0 ? now_ms : 1;  // 0 means "not acknowledged"
    it->acked_by = actor;
    it->ack_note = std::move(note);
    --unacknowledged_;
    monitor_counters_.unacknowledged.store(unacknowledged_, std::memory_order_relaxed);
    monitor_counters_.acks.fetch_add(1, std::memory_order_relaxed);
    return EventAck{*it, true};
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
  std::vector<Event> events_;   // by seq, increasing
  uint64_t unacknowledged_ = 0;  // ackable events in events_ not acknowledged (mutex_)
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
