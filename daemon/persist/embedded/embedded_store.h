// The embedded store (storage.mode: embedded): makes the daemon's runtime
// state survive restarts and kill -9 with the file layer in persist/files/ (journal +
// snapshots). It gives the journal's opaque records their meaning:
//   - admin mutations are journaled and fdatasynced before they are applied
//     and acknowledged (DurabilityHook, called by ContractAdmin), after the
//     same cut of holds and money a checkpoint takes (below);
//   - every checkpoint_ms the control plane group-commits a checkpoint: new
//     ledger entries (per-call debits flushed from the accounts), the limit
//     words of every key used since the previous checkpoint, the open-hold
//     set when it changed, ID replies remembered and distinct-subject members
//     admitted since the previous checkpoint;
//   - every snapshot_interval (and on SNAPSHOT) a snapshot of everything,
//     after which journal segments older than the previous snapshot are
//     dropped (so a corrupt newest snapshot falls back to the previous one);
//   - recover() at start-up: lock the directory, check its identity file,
//     newest valid snapshot + journal replay; refuse to start with less than
//     the store made durable unless the operator said --recover (below).
// Start-up safety (docs/durability.md, "Recovery"):
//   - `<dir>/lock` is flock'ed for the store's lifetime: a second daemon on
//     the same directory is refused before it reads anything;
//   - `<dir>/identity` (persist/files/store_identity.h) marks an initialized store:
//     written at the first start, its watermark raised at the first durable
//     record of every run, at every snapshot and at a clean stop. A store
//     that reaches less than the watermark, a removed journal, a journal
//     that no valid snapshot connects to, or a corrupt journal (torn tail
//     excepted, persist/files/journal.h) refuses to start: the error names file and
//     offset. RecoverMode kTruncate / kEmpty (tollgated --recover=...) start
//     anyway, setting aside (never deleting) what they drop in
//     `<dir>/discarded/` and logging every payment id lost;
//   - a directory without identity file is a first start when it holds no
//     journal or snapshot, and a store written by an earlier version (the
//     identity file is written then) when it does.
// Money is restored from the ledger: each lot's debited/refunded counters are
// exactly what its debit/refund entries add up to, so Σ ledger == balance.
//
// Holds and money in every commit. Recovery puts back the last hold set
// journaled, beside the money of the whole recovered ledger, so every
// commit that carries ledger entries must leave a set in force that is
// consistent with them: a hold is in it exactly when its debit is in the
// ledger and its settlement (a CANCEL's refund; a COMMIT, which must not be
// undone either) is not. With more, a retried CANCEL — or the start-up
// expiry of a hold that expired — refunds twice; with less, a debit stays
// charged for a hold nobody can cancel. A checkpoint cuts holds and money
// consistently (flush_ledger_and_holds_locked, with the settle ordinals of
// engine/hold_table.h). Between checkpoints, though, the ledger grows in
// memory: the control plane's sweep (ContractAdmin::flush_debits every
// sweep_interval; CONTRACT and LEDGER for one account) turns each
// account's counters into entries, the refunds of holds settled since
// included, at instants that are no cut (a CANCEL's refund may be half in
// a sweep's read). An admin change journals that ledger before its own
// record (its entry is numbered after it), so durable() first takes the
// checkpoint's cut: flush_ledger_and_holds_locked (every account flushed,
// each one with open holds at a quiescent point of its own; the hold set
// journaled when it changed), the counters of keys changed since they were
// last saved (so a CANCEL's limit units, given back with its refund, stay
// given back), then the ledger tail, then the record — renumbered
// last_seq() + 1 after the entries the cut flushed — and one commit.
// Until 2026-12-03 durable() journaled the swept ledger without a hold set
// (docs/durability.md). The races, each reasoned out:
//   - Workers settling while durable() cuts: placed by their settle
//     ordinals exactly as in a checkpoint (the .cc's comment above
//     flush_ledger_and_holds_locked): a settle numbered before its
//     account's read is wholly in the flush and its hold left out, one
//     numbered after is in neither and its hold kept.
//   - What earlier sweeps flushed: irrelevant to the cut. A hold settled
//     before the cut's first quiescent point (`from`) finished its refund
//     before it, so whatever part a sweep did not flush is in the cut's
//     read of its account, and the hold is not among the holds read; a
//     hold read open has had no settle begin before `from`, so no sweep
//     (all of which ran before the cut, under exclusive()) saw any of its
//     refund.
//   - Workers creating holds while durable() cuts: a hold published after
//     `from` is left to the next cut, though its account's read may hold
//     its debit — the same window a checkpoint has (docs/durability.md).
//   - A checkpoint, snapshot, sweep, CONTRACT/LEDGER or another admin
//     change at the same time: impossible. All of them hold exclusive()
//     (mutex_), so the ledger and the journal change only between them; the
//     cut, the tail and the record see one ledger, and the record's number
//     cannot be taken by another flush before it is applied (the caller
//     applies it under the same lock).
//   - The record was built (its entry numbered) before the cut flushed:
//     durable() renumbers it. Nothing else in a record depends on the
//     ledger's length: a recharge's lot, wallet and reply come from the
//     account's lots and counters, which a flush does not change.
//   - A commit that fails: the set, counters, tail and record stay buffered,
//     with a cancel after the record, and the next successful commit (of a
//     checkpoint or an admin change: each retries what is pending first)
//     makes them durable together; holds_set_ already names that set, as
//     after a failed checkpoint.
//   - Strict durability: counters durable() saves are taken from the dirty
//     log, so the next checkpoint does not write them again; they are durable
//     no later than it (its commit retries a failed one first and fails with
//     it), so a commit ticket never sees its checkpoint durable without its
//     charge.
// Thread-safety: thread-safe. Every method takes the store mutex (the one
// exclusive() hands out), except status(), which takes only a small one.
// Owns the Journal; borrows the RuntimeState, engine, clock and
// FileSystem, which must outlive it.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/admin_record.h"
#include "engine/engine.h"
#include "persist/embedded/recover_mode.h"
#include "persist/state_codec.h"
#include "persist/files/directory_lock.h"
#include "persist/files/journal.h"
#include "persist/files/store_identity.h"
#include "persist/files/store_status.h"
#include "tollgate/time.h"

namespace tollgate::persist {

// name, description: the table INFO's `persistence` section is printed from.
#define TOLLGATE_PERSIST_COUNTERS(X)                                                               \
  X(degraded, "1 while the latest journal write failed (admin mutations refused, retrying)")     \
  X(checkpoints, "checkpoints committed")                                                         \
  X(checkpoints_begun, "checkpoints begun, idle ones (nothing to write) included")                \
  X(checkpoint_durable, "number of the newest checkpoint known durable (and all before it)")     \
  X(checkpoint_failures, "checkpoints that could not be made durable (retried next tick)")        \
  X(checkpoint_keys_last, "keys written by the latest checkpoint")                                \
  X(checkpoint_ledger_entries, "ledger entries journaled by checkpoints")                         \
  X(checkpoint_last_us, "duration of the latest checkpoint, fsync included")                      \
  X(checkpoint_max_us, "longest checkpoint")                                                      \
  X(last_checkpoint_ms, "wall time (ms) of the latest durable checkpoint")                        \
  X(snapshots, "snapshots written")                                                               \
  X(snapshot_failures, "snapshots that failed (the journal keeps everything)")                    \
  X(snapshot_last_ms, "duration of the latest snapshot")                                          \
  X(snapshot_keys_last, "keys in the latest snapshot")                                            \
  X(admin_durable, "admin mutations made durable before their reply")                            \
  X(admin_refused, "admin mutations refused because they could not be made durable")             \
  X(recovery_ms, "start-up recovery time")                                                        \
  X(recovery_snapshot_seq, "journal sequence of the snapshot recovery started from (0: none)")    \
  X(recovery_records_replayed, "journal records replayed at start-up")                            \
  X(recovery_keys_restored, "keys whose counter words were restored")                             \
  X(recovery_keys_skipped, "saved keys no contract or key class matches any more")                \
  X(recovery_limits_skipped, "saved limits whose name/type no longer exists in the config")       \
  X(recovery_ledger_entries, "ledger entries restored")                                           \
  X(recovery_ledger_gaps, "ledger entries restored out of sequence (after data loss)")            \
  X(recovery_admin_applied, "admin mutations replayed")                                           \
  X(recovery_admin_cancelled, "refused admin mutations skipped at replay")                        \
  X(recovery_errors, "records that could not be decoded or applied (logged)")                     \
  X(recovery_torn_tail_bytes, "bytes of torn journal tail truncated at start-up")                \
  X(recovery_corrupt_snapshots, "corrupt snapshots skipped at start-up (older one used)")         \
  X(recovery_journal_data_loss, "1 if recovery discarded journal data (--recover=truncate)")      \
  X(recovery_untrusted_records, "intact journal records discarded after a corruption (--recover)") \
  X(recovery_payments_lost, "RECHARGE payment ids discarded by --recover (each one logged)")      \
  X(checkpoint_holds_last, "open holds in the latest hold set journaled")                         \
  X(checkpoint_id_records, "remembered ID replies journaled by checkpoints")                      \
  X(checkpoint_subjects, "distinct-subject members journaled by checkpoints")                     \
  X(recovery_holds_restored, "open holds put back at start-up")                                   \
  X(recovery_holds_skipped, "saved holds whose contract is gone or that the pool refused")        \
  X(recovery_holds_sets_untrusted, "hold sets ignored because their commit was torn before its ledger entries") \
  X(recovery_holds_expired, "restored holds that expired while the daemon was down, settled at start-up") \
  X(recovery_id_records, "remembered ID replies restored (still inside the dedup window)")        \
  X(recovery_subjects, "distinct-subject members restored (their period still current)")          \
  X(recovery_estimate_words, "distinct-subject estimate (HLL) register words restored")

struct PersistStatus {
#define TOLLGATE_PERSIST_FIELD(name, description) uint64_t name = 0;
  TOLLGATE_PERSIST_COUNTERS(TOLLGATE_PERSIST_FIELD)
#undef TOLLGATE_PERSIST_FIELD
  files::StoreStatus store;  // the file layer's counters (bytes, fsyncs, errors by kind)
  std::string last_error;    // latest write-side error; empty if none

  // Calls visit(name, value, description) for every counter, ours then the file layer's.
  template <typename Visit>
  void for_each_counter(Visit&& visit) const {
#define TOLLGATE_PERSIST_VISIT(name, description) visit(#name, name, description);
    TOLLGATE_PERSIST_COUNTERS(TOLLGATE_PERSIST_VISIT)
#undef TOLLGATE_PERSIST_VISIT
    store.for_each_counter(visit);
  }
};

struct EmbeddedStoreOptions {
  std::string dir = "var/";
  Nanos snapshot_interval = 5 * 60 * kNanosPerSecond;
  uint64_t segment_bytes = 64ull << 20;
  files::FileSystem* fs = nullptr;  // null: the real one
  const Clock* clock = nullptr;     // times fsyncs; null: SystemClock
  // Durability strict: the control plane's CommitGate (control/commit_gate.h)
  // numbers each checkpoint before it reads any state and hears when it is
  // durable, through these two calls, so that persist/ does not include
  // control/ (control → persist, never the reverse). Unset: the store numbers
  // its checkpoints itself and nobody waits for them. Called on the thread
  // that checkpoints, under the store mutex.
  std::function<uint64_t()> number_checkpoint;
  std::function<void(uint64_t)> checkpoint_durable;
  RecoverMode recover = RecoverMode::kRefuse;  // tollgated --recover=...
  // Tests only (null otherwise): called on the checkpointing thread (or the
  // admin change's, whose durable() takes the same cut), under the store
  // mutex, at named points of a checkpoint's hold cut —
  // "holds_read" (the open holds read, no account flushed yet),
  // "account_read" (an account with open holds just read, inside the
  // instant no settle may run in; may be called again for the same account)
  // and "flushed" (every account flushed, the hold set not yet chosen) — so
  // that a test can settle a hold exactly there.
  std::function<void(std::string_view point)> checkpoint_probe;
};

class EmbeddedStore final : public DurabilityHook {
 public:
  EmbeddedStore(EmbeddedStoreOptions options, RuntimeState& state, std::function<Engine&()> engine);
  ~EmbeddedStore() override;

  // Locks the directory, checks its identity, loads the newest valid
  // snapshot, replays the journal after it (torn tail truncated) and opens
  // the journal for writing. Call once, after the engine exists and before
  // any worker runs. An error means: do not start — I/O failure, the
  // directory is locked by another process, or the state cannot be read
  // whole and options.recover does not allow less (the message says what is
  // damaged, where, and which --recover would start anyway).
  [[nodiscard]] std::expected<void, std::string> recover(Nanos now);

  // The control plane's periodic call: a checkpoint, and a snapshot when
  // snapshot_interval has passed since the last one.
  void tick(Nanos now);
  // Group-commits ledger entries and used keys' counter words.
  [[nodiscard]] std::expected<void, std::string> checkpoint(Nanos now);
  // The last checkpoint, once no worker runs any more (clean stop): also
  // raises the identity file's watermark to everything durable, so a start
  // after a journal was emptied or removed while the daemon was down refuses.
  [[nodiscard]] std::expected<void, std::string> final_checkpoint(Nanos now);
  // Checkpoint, snapshot, drop covered journal segments.
  [[nodiscard]] std::expected<std::string, std::string> snapshot(Nanos now);

  // DurabilityHook
  std::unique_lock<std::mutex> exclusive() override { return std::unique_lock<std::mutex>(mutex_); }
  // Takes the checkpoint's cut of holds and money first and renumbers
  // record.ledger_entry after it (see "Holds and money in every commit").
  [[nodiscard]] std::expected<void, std::string> durable(AdminRecord& record) override;
  [[nodiscard]] std::expected<std::string, std::string> snapshot_now() override;

  // A copy of the counters, for INFO. Thread-safe.
  PersistStatus status() const;

 private:
  // recover(), before anything is loaded: the lock, the identity file, a
  // first start, --recover=empty. Sets `required_seq` to the watermark.
  std::expected<void, std::string> open_directory_locked(Nanos now, uint64_t& required_seq);
  // --recover=empty: whether the state can be read whole (a dry run that
  // changes nothing); if not, sets all of it aside and logs what is lost.
  std::expected<void, std::string> empty_if_unreadable_locked(const files::IdentityRead& identity);
  // Rewrites the identity file with watermark `seq` (only when that raises
  // it, unless `lower`).
  std::expected<void, std::string> write_watermark_locked(uint64_t seq, bool lower = false);
  // Raises the watermark to the journal's last durable record; a failure is
  // logged (the journal itself is unaffected) and retried at the next mark.
  void raise_watermark_locked(std::string_view when);
  std::expected<void, std::string> checkpoint_locked(Nanos now);
  std::expected<std::string, std::string> snapshot_locked(Nanos now);
  // Retries a failed commit; error while the disk still refuses.
  std::expected<void, std::string> commit_pending_locked();
  // Journals ledger entries not yet journaled; returns how many.
  size_t append_ledger_tail_locked();
  // Journals the counter words of keys changed since they were last saved; returns how many keys.
  size_t append_dirty_counters_locked(Nanos now);
  // Flushes every account's debits into the ledger and journals the open
  // holds cut consistently with that flush (the holds whose debit the
  // flushed ledger holds and whose settlement it does not), when that set
  // changed. See the comment in the .cc.
  void flush_ledger_and_holds_locked(Nanos now);
  // Journals ID replies, distinct-subject members and estimate registers new
  // since the previous checkpoint.
  void append_id_and_subject_records_locked(Nanos now);
  void note_failure(const std::string& what, const std::string& error, Nanos now);
  void note_success(Nanos now);
  void publish_status();

  EmbeddedStoreOptions options_;
  files::DirectoryLock lock_;          // held from recover() to destruction
  files::StoreIdentity identity_;      // as last written (or read)
  bool identity_written_ = false;      // identity_ matches the file on disk
  bool raised_this_run_ = false;       // the watermark rose after this run's first durable record
  RuntimeState& state_;
  std::function<Engine&()> engine_;
  std::mutex mutex_;  // everything below
  files::StoreStatus store_status_;
  std::optional<files::Journal> journal_;
  PersistStatus counters_;
  uint64_t journaled_ledger_seq_ = 0;  // ledger entries up to here are in the journal
  std::vector<uint64_t> dirty_hashes_;  // a checkpoint's keys to save (reused buffer)
  uint64_t checkpoints_numbered_ = 0;  // when options_.number_checkpoint is unset
  Nanos last_snapshot_ = 0;
  HoldSet holds_set_;                    // the open-hold set last journaled, sorted (snapshots carry it)
  std::vector<uint64_t> holds_ids_;      // their settle-log identities (HoldTable), in the same order
  uint64_t holds_changes_ = UINT64_MAX;  // HoldTable::changes() when the open set was holds_set_
  uint64_t previous_snapshot_seq_ = 0;  // the journal is kept from here on
  Nanos last_failure_log_ = 0;
  bool failing_ = false;
  mutable std::mutex status_mutex_;  // published_
  PersistStatus published_;
};

}  // namespace tollgate::persist
