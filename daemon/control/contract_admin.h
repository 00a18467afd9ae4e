// Admin operations on contracts: recharge, status changes, counter resets,
// and the read views behind CONTRACT and LEDGER. Control plane only. Each
// mutation becomes an AdminRecord, is made durable through the hook, then
// applied by apply_admin_record (engine/admin_record.h), the function
// recovery replays: docs/architecture.md, "Control plane".
// Thread-safety: thread-safe (the state it touches is atomic or locked);
// meant for the admin thread and the control-plane timers. Borrows the
// engine accessor, the state and the hook, which must outlive it.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/admin_record.h"
#include "engine/contract.h"
#include "engine/engine.h"

namespace tollgate {

using Fields = std::vector<std::pair<std::string, std::string>>;

// A monitor action another daemon of a fleet put in force or lifted, to
// apply here (control/fleet_actions.h says why and when). Plain value.
struct RemoteActionChange {
  std::string contract;
  ActiveAction action;  // put: the instance in Redis; lift: the instance in force here
  bool lift = false;
  bool cleared = false;  // lifted before its `until`: a clear made elsewhere
  std::string why;       // lift: "expired", "cleared on another daemon"
};

inline constexpr size_t kMaxPaymentId = 128;  // bytes of a RECHARGE payment id

// Why an admin operation was refused: a code, and the names and values the
// reply needs. The RESP text is made by commands/ (admin_error_text), so the
// control plane holds no protocol strings. Plain value type.
struct AdminError {
  enum class Code : uint8_t {
    kNoSuchContract,        // subject: the key
    kNoPricing,             // subject: the key (RECHARGE of a contract without pricing)
    kBadAmount,             // RECHARGE amount not a positive integer
    kBadPaymentIdLength,    // empty or longer than kMaxPaymentId
    kPaymentIdNotPrintable, // bytes outside printable ASCII, or spaces
    kTerminated,            // subject: the key (RECHARGE of a terminated contract)
    kPaymentIdOtherContract,  // subject: the payment id; detail: the contract it was used for
    kPaymentIdOtherAmount,    // subject: the payment id; amount: the amount it was used with
    kRechargeRefused,       // detail: why the account refused the lot
    kTerminatedIsFinal,     // subject: the key; detail: the verb (suspend, resume)
    kNoSuchKey,             // subject: the key (RESET)
    kNoSuchLimit,           // subject: the key; detail: the limit
    kNotDurable,            // detail: the store's error; nothing was changed
    kNotApplied,            // detail: what could not be applied
    kNoStorage,             // SNAPSHOT in storage.mode memory
    kSnapshotFailed,        // detail: the store's error
    kNoSuchEvent,           // subject: the seq (MONITOR ACK of an event not kept)
    kNotAckable,            // subject: the seq (MONITOR ACK of an event that is no firing or action)
    kBadNote,               // MONITOR ACK note too long or not printable
  };
  Code code;
  std::string subject;
  std::string detail;
  int64_t amount = 0;
};

class ContractAdmin {
 public:
  // `engine` returns the engine in force (it changes on reload).
  ContractAdmin(std::function<Engine&()> engine, RuntimeState& state);

  // RECHARGE: adds a prepaid lot, idempotent on `payment_id`.
  std::expected<RechargeReply, AdminError> recharge(std::string_view key, std::string_view amount,
                                                     std::string_view payment_id, int64_t actor, Nanos now);
  std::expected<void, AdminError> suspend(std::string_view key, std::string_view reason, int64_t actor, Nanos now);
  std::expected<void, AdminError> resume(std::string_view key, int64_t actor, Nanos now);
  std::expected<void, AdminError> terminate(std::string_view key, int64_t actor, Nanos now);
  // RESET: clears the counters of one limit or all limits of any key. Returns how many were reset.
  std::expected<int64_t, AdminError> reset(std::string_view key, std::string_view limit, int64_t actor, Nanos now);

  // Monitor actions (control/contract_admin_actions.cc), journaled like the
  // other mutations: put one in force (replacing one with the same target),
  // lift one (`why`: "expired", "cleared"), or lift every action of a
  // contract whose monitor is `monitor` (empty: all) — MONITOR CLEAR; returns
  // how many were lifted.
  std::expected<void, AdminError> put_action(std::string_view key, const ActiveAction& action, int64_t actor,
                                             Nanos now);
  std::expected<void, AdminError> lift_action(std::string_view key, const ActiveAction& action, std::string_view why,
                                              int64_t actor, Nanos now);
  std::expected<int64_t, AdminError> clear_actions(std::string_view key, std::string_view monitor, int64_t actor,
                                                   Nanos now);
  // MONITOR ACK: an operator acknowledges monitor event `seq` (a firing or
  // an action put in force) with an optional `note` (at most kMaxAckNote
  // printable bytes). The event shows who and when in EVENTS; a
  // `monitor.ack` event is added and handed to on_ack (the event file and
  // the webhook). Nothing is journaled: events live in memory, the event
  // file and the webhook's receiver. Returns whether this call acknowledged
  // it (false: it already was). An ack changes no decision and no action:
  // MONITOR CLEAR lifts actions. Any thread (RuntimeState's own mutex).
  static constexpr size_t kMaxAckNote = 256;
  std::expected<bool, AdminError> acknowledge_event(uint64_t seq, std::string_view note, int64_t actor, Nanos now);
  // Told of every new acknowledgement (the event as acknowledged, and the
  // seq of the `monitor.ack` event added for it). Set before the admin socket serves.
  void set_on_ack(std::function<void(const Event&, uint64_t)> on_ack) { on_ack_ = std::move(on_ack); }

  // Fleet mode: applies the changes `plan` returns (computed under the lock
  // from the contract states) without making them durable — Redis holds
  // them already, with their ledger entry, written by the daemon that made
  // them. Each one is recorded like a local change (on_applied: the call
  // log) with an EVENTS entry, and gets no local ledger entry. Returns
  // nullopt, applying nothing, when the lock is held elsewhere (an admin
  // mutation may be waiting for the control loop, which calls this) or
  // when an action change was applied here since action_changes() was
  // `changes_seen` (the caller's read of Redis may predate it). Otherwise
  // the changes applied, then those refused (with why) in `refused`.
  std::optional<std::vector<RemoteActionChange>> apply_remote_actions(
      uint64_t changes_seen, const std::function<std::vector<RemoteActionChange>()>& plan, Nanos now,
      std::vector<std::pair<RemoteActionChange, std::string>>* refused);
  // How many action changes (put or lift) were applied here by this daemon's own mutations. Thread-safe.
  uint64_t action_changes() const { return action_changes_.load(std::memory_order_acquire); }

  // Told of every MONITOR CLEAR (contract, monitor, now), so the monitors
  // stay quiet for their cool-down. Set before the admin socket serves.
  void set_on_clear(std::function<void(std::string_view, std::string_view, Nanos)> on_clear) {
    on_clear_ = std::move(on_clear);
  }

  // Told of every mutation once applied (under the same exclusive() as the
  // apply, so in apply order): the call log records those that change
  // decisions (calllog/admin_hook.h). Set before the admin socket serves.
  void set_on_applied(std::function<void(const AdminRecord&)> on_applied) { on_applied_ = std::move(on_applied); }

  // CONTRACT: every fact about a contract, as field/value pairs.
  std::expected<Fields, AdminError> describe(std::string_view key, Nanos now);
  // LEDGER: money entries after `since_seq`, oldest first (debits flushed first).
  std::expected<std::vector<LedgerEntry>, AdminError> ledger(std::string_view key, uint64_t since_seq, Nanos now);

  // Turns the debit counters of every priced contract into ledger entries.
  void flush_debits(Nanos now);

  // Makes every later mutation durable through `hook` before it is applied
  // (null: memory only). Set before the admin socket serves. Not owned.
  void set_durability(DurabilityHook* hook) { hook_ = hook; }
  DurabilityHook* durability() const { return hook_; }
  // SNAPSHOT: forwards to the hook; an error in memory mode.
  std::expected<std::string, AdminError> snapshot();

 private:
  std::unique_lock<std::mutex> exclusive();
  // Journals `record` if a hook is set, then applies it (engine/admin_record.h).
  std::expected<void, AdminError> make_durable_and_apply(const AdminRecord& record);
  std::expected<const Policy*, AdminError> find_contract(std::string_view key);
  std::expected<void, AdminError> set_status(std::string_view key, ContractStatus status, std::string_view verb,
                                              std::string reason, int64_t actor, Nanos now);
  // Fills the admin ledger entry and event of a status change or reset.
  void describe_admin(AdminRecord& record, std::string_view what) const;

  std::function<Engine&()> engine_;
  RuntimeState& state_;
  DurabilityHook* hook_ = nullptr;
  std::mutex memory_mutex_;  // exclusive() without a hook
  std::function<void(std::string_view, std::string_view, Nanos)> on_clear_;
  std::function<void(const AdminRecord&)> on_applied_;
  std::function<void(const Event&, uint64_t)> on_ack_;
  std::atomic<uint64_t> action_changes_{0};  // bumped under exclusive(), after the apply
};

// ISO-8601 with offset in `zone` (e.g. 2027-06-30T00:00:00+08:00).
std::string format_instant(Nanos t, std::string_view zone);

}  // namespace tollgate
