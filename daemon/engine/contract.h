// A contract's rules (immutable, from config) and its runtime state (status
// overrides, prepaid account, open holds), which outlives config reloads.
// Every contract's state is kept by RuntimeState (engine/runtime_state.h).
// Thread-safety: ContractRules is immutable. ContractState's atomics may be
// read and updated from any thread; status_reason is guarded by its mutex.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/contract_terms.h"
#include "engine/fleet_lease.h"
#include "engine/monitor_action.h"
#include "engine/money/account.h"
#include "engine/money/lot_validity.h"
#include "tollgate/decision.h"
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
  // Fleet mode, fail: local: units per period and per limit a node may admit
  // beyond its lease while Redis is away (-1: unbounded, the default outside a fleet).
  int64_t fail_local_budget = -1;
  std::vector<ConcurrencyLimit> concurrency;
  // pricing.lot_validity as in force now: a recharge stamps its lot with the
  // instant it gives (in `lot_zone`, the contract's time zone); a lot keeps it.
  LotValidity lot_validity;
  std::string lot_zone;
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

  // Decisions on this contract by code (GET /metrics), counted by
  // Engine::check. Striped by worker, so workers seldom share a cache line;
  // relaxed adds, read by the scrape as a sum. Thread-safe.
  void count_decision(Code code, int worker) {
    decisions_[static_cast<unsigned>(worker) % kDecisionStripes].by_code[static_cast<int>(code)].fetch_add(
        1, std::memory_order_relaxed);
  }
  uint64_t decisions(Code code) const {
    uint64_t sum = 0;
    for (const auto& s : decisions_) sum += s.by_code[static_cast<int>(code)].load(std::memory_order_relaxed);
    return sum;
  }

  // Monitor actions in force (engine/monitor_action.h), kept across reloads
  // and restarts (journaled as AdminRecord kind kAction, in snapshots). The
  // decision path never reads this list: it reads its policy's restriction
  // word, which the engine and the control plane derive from it
  // (Engine::sync_restrictions). Thread-safe (the mutex); control plane.
  std::vector<ActiveAction> actions() const {
    std::lock_guard lock(mutex_);
    return actions_;
  }
  // Puts `a` in force, replacing one with the same target (kind, monitor, channel).
  void put_action(ActiveAction a) {
    std::lock_guard lock(mutex_);
    for (auto& existing : actions_)
      if (existing.same_target(a)) {
        existing = std::move(a);
        return;
      }
    actions_.push_back(std::move(a));
  }
  // Lifts the action with `a`'s target; false when none was in force.
  bool lift_action(const ActiveAction& a) {
    std::lock_guard lock(mutex_);
    for (auto it = actions_.begin(); it != actions_.end(); ++it)
      if (it->same_target(a)) {
        actions_.erase(it);
        return true;
      }
    return false;
  }

  std::atomic<int64_t>& open_holds() { return open_holds_; }

  // Fleet mode: this node's lease of the contract's global pools (null:
  // decided locally, as outside a fleet). Set once by FleetLeases before
  // workers run; the lease outlives every engine. Thread-safe.
  FleetLease* fleet() const { return fleet_.load(std::memory_order_acquire); }
  void set_fleet(FleetLease* lease) { fleet_.store(lease, std::memory_order_release); }
  std::atomic<uint64_t>& concurrency_shadow_denials() { return concurrency_shadow_denials_; }

 private:
  std::string key_;
  std::atomic<uint8_t> status_{static_cast<uint8_t>(ContractStatus::kActive)};
  std::atomic<bool> overridden_{false};
  mutable std::mutex mutex_;
  std::string reason_;
  std::vector<ActiveAction> actions_;  // under mutex_
  std::unique_ptr<Account> account_;  // owner; written once, under mutex_
  std::atomic<Account*> account_ptr_{nullptr};
  std::atomic<int64_t> open_holds_{0};
  std::atomic<FleetLease*> fleet_{nullptr};
  std::atomic<uint64_t> concurrency_shadow_denials_{0};
  static constexpr unsigned kDecisionStripes = 8;
  struct alignas(64) DecisionStripe {
    std::array<std::atomic<uint64_t>, kCodeCount> by_code{};
  };
  std::array<DecisionStripe, kDecisionStripes> decisions_{};
};

}  // namespace tollgate
