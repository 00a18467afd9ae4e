// A contract's rules (immutable, from config) and its runtime state (status
// overrides, prepaid account, open holds), which outlives config reloads.
// Thread-safety: ContractRules is immutable. ContractState's atomics may be
// read and updated from any thread; status_reason is guarded by its mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/dirty_log.h"
#include "engine/money/account.h"
#include "engine/money/ledger.h"
#include "engine/money/payments.h"
#include "tollgate/time.h"

namespace tollgate {

struct ConcurrencyLimit {
  std::string name;
  int64_t limit = 0;
  bool shadow = false;
};

struct ContractRules {
  ContractStatus status = ContractStatus::kActive;  // as configured
  std::optional<Nanos> starts;
  std::optional<Nanos> expires;
  std::vector<std::string> channels;  // empty: any
  std::vector<std::string> purposes;  // empty: any
  std::optional<PriceLadder> pricing;
  std::string pricing_name;
  HoldTimeoutPolicy hold_timeout = HoldTimeoutPolicy::kCancel;
  FailPolicy fail = FailPolicy::kLocal;  // how calls are decided while the state store (Redis) is down
  std::vector<ConcurrencyLimit> concurrency;
};

class ContractState {
 public:
  explicit ContractState(std::string key) : key_(std::move(key)) {}

  const std::string& key() const { return key_; }

  ContractStatus status() const { return static_cast<ContractStatus>(status_.load(std::memory_order_acquire)); }
  bool overridden() const { return overridden_.load(std::memory_order_acquire); }
  // Config status applies unless an admin override is in force.
  void apply_config_status(ContractStatus s) {
    if (!overridden()) status_.store(static_cast<uint8_t>(s), std::memory_order_release);
  }
  void override_status(ContractStatus s, std::string reason) {
    std::lock_guard lock(mutex_);
    reason_ = std::move(reason);
    overridden_.store(true, std::memory_order_release);
    status_.store(static_cast<uint8_t>(s), std::memory_order_release);
  }
  std::string reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
  }
  // Recovery: the status, override flag and reason as they were persisted.
  void restore_status(ContractStatus s, bool overridden, std::string reason) {
    std::lock_guard lock(mutex_);
    reason_ = std::move(reason);
    overridden_.store(overridden, std::memory_order_release);
    status_.store(static_cast<uint8_t>(s), std::memory_order_release);
  }

  // The prepaid account; created when the contract first has pricing, kept
  // (with its lots) even if pricing is later removed from the config. A
  // reload may create it while workers call account(): published with a
  // release store, read with an acquire load. Thread-safe.
  Account* account() const { return account_ptr_.load(std::memory_order_acquire); }
  Account& ensure_account(const PriceLadder& ladder) {
    std::lock_guard lock(mutex_);
    if (!account_) {
      account_ = std::make_unique<Account>(ladder);
      account_ptr_.store(account_.get(), std::memory_order_release);
    } else {
      account_->set_ladder(ladder);
    }
    return *account_;
  }

  std::atomic<int64_t>& open_holds() { return open_holds_; }
  std::atomic<uint64_t>& concurrency_shadow_denials() { return concurrency_shadow_denials_; }

 private:
  std::string key_;
  std::atomic<uint8_t> status_{static_cast<uint8_t>(ContractStatus::kActive)};
  std::atomic<bool> overridden_{false};
  mutable std::mutex mutex_;
  std::string reason_;
  std::unique_ptr<Account> account_;  // owner; written once, under mutex_
  std::atomic<Account*> account_ptr_{nullptr};
  std::atomic<int64_t> open_holds_{0};
  std::atomic<uint64_t> concurrency_shadow_denials_{0};
};

// An admin or anomaly event, for EVENTS.
struct Event {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;      // suspend, resume, terminate, reset, recharge, ...
  std::string contract;
  int64_t actor = -1;
  std::string detail;
};

// Everything the daemon keeps that is not configuration: contract states,
// the money ledger, payment ids, events. Survives config reloads.
// Thread-safety: contract() lookups after start-up are lock-free reads of an
// immutable-shape map only when created up front; create/get take the mutex.
class StateStore {
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
    std::lock_guard lock(mutex_);
    e.seq = events_.empty() ? 1 : events_.back().seq + 1;
    events_.push_back(std::move(e));
    if (events_.size() > kMaxEvents) events_.erase(events_.begin(), events_.begin() + kMaxEvents / 4);
    return events_.back().seq;
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

  static constexpr size_t kMaxEvents = 100'000;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<ContractState>, std::less<>> contracts_;
  std::vector<Event> events_;
  Ledger ledger_;
  PaymentRegistry payments_;
  DirtyLog dirty_log_;
  std::atomic<bool> storage_available_{true};
  alignas(64) std::atomic<uint64_t> fail_open_allowed_{0};
  alignas(64) std::atomic<uint64_t> fail_closed_denied_{0};
};

}  // namespace tollgate
