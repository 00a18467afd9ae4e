// An admin mutation as a record (recharge, status change, counter reset),
// where it is made durable (DurabilityHook), and the one function that
// applies it — live (control/contract_admin.h) and at recovery (persist/).
// Persistence needs only this header from the admin flow, so it depends on
// the engine and not on the control plane.
// Thread-safety: AdminRecord is a plain value; apply_admin_record must run
// under the hook's exclusive() or before any other thread touches the state.
#pragma once

#include <cstdint>
#include <expected>
#include <mutex>
#include <string>

#include "engine/contract.h"
#include "engine/engine.h"

namespace tollgate {

// One admin mutation, complete enough to apply it again after a restart
// exactly as it was applied the first time (no re-pricing, same ledger seq).
// Plain value type.
struct AdminRecord {
  // kAction: a monitor's action put in force, or lifted (`lift`).
  enum class Kind : uint8_t { kStatus = 1, kRecharge = 2, kReset = 3, kAction = 4 };
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
  ActiveAction action;  // kAction
  bool lift = false;    // kAction: lifted (expired or cleared) rather than put in force
};

// Where ContractAdmin makes mutations durable (the embedded or Redis store).
// Every change of persisted state happens while exclusive() is held, so the
// store sees mutations, ledger flushes, checkpoints and snapshots in one order.
// Thread-safety: implementations are thread-safe.
class DurabilityHook {
 public:
  virtual ~DurabilityHook() = default;
  // Serializes changes of persisted state; held from durable() to the apply.
  virtual std::unique_lock<std::mutex> exclusive() = 0;
  // exclusive() for the control loop, which a holder may be waiting for (the
  // Redis store's durable() does): an unlocked lock instead of waiting when
  // another thread holds it. The default waits (stores whose holders never wait for the loop).
  virtual std::unique_lock<std::mutex> try_exclusive() { return exclusive(); }
  // Journals `record` and syncs it; caller holds exclusive(). On error (the
  // text explains why) the caller must not apply the mutation. A store may
  // first turn per-call debits into ledger entries (the embedded store takes
  // a checkpoint's hold cut, so that the ledger it journals comes with the
  // open holds that match it: persist/embedded/embedded_store.h); it then
  // numbers the record's ledger entry after them (ledger_entry.seq =
  // last_seq() + 1), so the caller applies the record as durable() left it.
  [[nodiscard]] virtual std::expected<void, std::string> durable(AdminRecord& record) = 0;
  // SNAPSHOT: checkpoint + snapshot + journal compaction now. Returns a summary.
  [[nodiscard]] virtual std::expected<std::string, std::string> snapshot_now() = 0;
};

// The lot and the ledger entry a planned recharge adds (a lot created at
// `now` with fresh counters, expiring at `expires`; the entry +amount on that lot under
// `payment_id`, numbered `seq`): one definition for ContractAdmin::recharge
// and for the tests and benches that add money the way the daemon does
// (tests/support/recharge.h). Pure functions.
// `expires`: the lot's instant (lot_validity.h), 0: never.
LotState recharge_lot(const RechargeResult& plan, Nanos now, Nanos expires = 0);
LedgerEntry recharge_entry(const RechargeResult& plan, uint64_t seq, Nanos now, std::string_view contract,
                           int64_t actor, std::string_view payment_id);

// Applies `record` to `state` (and, for a reset, to the counters of `engine`)
// exactly as the live mutation did: the one place a mutation changes state,
// live or replayed, so a restart rebuilds exactly what the admin was told.
// Errors name what could not be applied (plain text, no RESP prefix).
[[nodiscard]] std::expected<void, std::string> apply_admin_record(const AdminRecord& record, Engine& engine,
                                                                  RuntimeState& state);

}  // namespace tollgate
