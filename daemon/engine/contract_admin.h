// Admin operations on contracts: recharge, status changes, counter resets,
// and the read views behind CONTRACT and LEDGER. Control plane only.
// Thread-safety: thread-safe (the state it touches is atomic or locked);
// meant for the admin thread and the control-plane timers.
#pragma once

#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/contract.h"
#include "engine/engine.h"

namespace tollgate {

using Fields = std::vector<std::pair<std::string, std::string>>;

class ContractAdmin {
 public:
  // `engine` returns the engine in force (it changes on reload).
  ContractAdmin(std::function<Engine&()> engine, StateStore& state);

  // RECHARGE: adds a prepaid lot, idempotent on `payment_id`.
  std::expected<RechargeReply, std::string> recharge(std::string_view key, std::string_view amount,
                                                     std::string_view payment_id, int64_t actor, Nanos now);
  std::expected<void, std::string> suspend(std::string_view key, std::string_view reason, int64_t actor, Nanos now);
  std::expected<void, std::string> resume(std::string_view key, int64_t actor, Nanos now);
  std::expected<void, std::string> terminate(std::string_view key, int64_t actor, Nanos now);
  // RESET: clears the counters of one limit or all limits of any key. Returns how many were reset.
  std::expected<int64_t, std::string> reset(std::string_view key, std::string_view limit, int64_t actor, Nanos now);

  // CONTRACT: every fact about a contract, as field/value pairs.
  std::expected<Fields, std::string> describe(std::string_view key, Nanos now);
  // LEDGER: money entries after `since_seq`, oldest first (debits flushed first).
  std::expected<std::vector<LedgerEntry>, std::string> ledger(std::string_view key, uint64_t since_seq, Nanos now);

  // Turns the debit counters of every priced contract into ledger entries.
  void flush_debits(Nanos now);

 private:
  std::expected<const Policy*, std::string> find_contract(std::string_view key);
  std::expected<void, std::string> set_status(std::string_view key, ContractStatus status, std::string_view verb,
                                              std::string reason, int64_t actor, Nanos now);
  void record_admin(std::string_view key, std::string_view what, int64_t actor, Nanos now);

  std::function<Engine&()> engine_;
  StateStore& state_;
};

// ISO-8601 with offset in `zone` (e.g. 2027-06-30T00:00:00+08:00).
std::string format_instant(Nanos t, std::string_view zone);

}  // namespace tollgate
