// Admin operations on contracts: recharge, status changes, counter resets,
// and the read views behind CONTRACT and LEDGER. Control plane only.
// Thread-safety: thread-safe (the state it touches is atomic or locked);
// meant for the admin thread and the control-plane timers.
#pragma once

#include <expected>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/contract.h"
#include "engine/engine.h"

namespace tollgate {

using Fields = std::vector<std::pair<std::string, std::string>>;

// One admin mutation, complete enough to apply it again after a restart
// exactly as it was applied the first time (no re-pricing, same ledger seq).
// Plain value type.
struct AdminRecord {
  enum class Kind : uint8_t { kStatus = 1, kRecharge = 2, kReset = 3 };
  Kind kind = Kind::kStatus;
  std::string contract;  // contract key (kReset: any key)
  Nanos time = 0;
  int64_t actor = kDaemonActor;
  ContractStatus status = ContractStatus::kActive;  // kStatus: the override
  std::string reason;                               // kStatus
  std::string limit;                                // kReset: empty = every limit
  std::string payment_id;                           // kRecharge
  LotState lot;                                     // kRecharge: the lot added
  int64_t wallet = 0;                               // kRecharge: wallet after
  RechargeReply reply;                              // kRecharge: what RECHARGE answered
  LedgerEntry ledger_entry;                         // the entry the mutation appends, seq included
  std::string event_kind;                           // the EVENTS entry it adds
  std::string event_detail;
};

// Where ContractAdmin makes mutations durable (the embedded store). Every
// change of persisted state happens while exclusive() is held, so the store
// sees mutations, ledger flushes, checkpoints and snapshots in one order.
// Thread-safety: implementations are thread-safe.
class DurabilityHook {
 public:
  virtual ~DurabilityHook() = default;
  // Serializes changes of persisted state; held from durable() to the apply.
  virtual std::unique_lock<std::mutex> exclusive() = 0;
  // Journals `record` and syncs it; caller holds exclusive(). On error (the
  // text explains why) the caller must not apply the mutation.
  [[nodiscard]] virtual std::expected<void, std::string> durable(const AdminRecord& record) = 0;
  // SNAPSHOT: checkpoint + snapshot + journal compaction now. Returns a summary.
  [[nodiscard]] virtual std::expected<std::string, std::string> snapshot_now() = 0;
};

class ContractAdmin {
 public:
  // `engine` returns the engine in force (it changes on reload).
  ContractAdmin(std::function<Engine&()> engine, RuntimeState& state);

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

  // Makes every later mutation durable through `hook` before it is applied
  // (null: memory only). Set before the admin socket serves. Not owned.
  void set_durability(DurabilityHook* hook) { hook_ = hook; }
  DurabilityHook* durability() const { return hook_; }
  // SNAPSHOT: forwards to the hook; an error in memory mode.
  std::expected<std::string, std::string> snapshot();

  // Applies a record exactly as the live mutation did (recovery replays the
  // journal through this). Caller holds the hook's exclusive() or runs before
  // any other thread. Errors name what could not be applied.
  std::expected<void, std::string> apply(const AdminRecord& record);

 private:
  std::unique_lock<std::mutex> exclusive();
  // Journals `record` if a hook is set; the -ERR text when that fails.
  std::expected<void, std::string> make_durable(const AdminRecord& record);
  std::expected<const Policy*, std::string> find_contract(std::string_view key);
  std::expected<void, std::string> set_status(std::string_view key, ContractStatus status, std::string_view verb,
                                              std::string reason, int64_t actor, Nanos now);
  // Fills the admin ledger entry and event of a status change or reset.
  void describe_admin(AdminRecord& record, std::string_view what) const;

  std::function<Engine&()> engine_;
  RuntimeState& state_;
  DurabilityHook* hook_ = nullptr;
  std::mutex memory_mutex_;  // exclusive() without a hook
};

// ISO-8601 with offset in `zone` (e.g. 2027-06-30T00:00:00+08:00).
std::string format_instant(Nanos t, std::string_view zone);

}  // namespace tollgate
