// The decision engine: given a key, a cost and `now`, decides allow/deny over
// every limit that applies and charges all of them or none.
//
// Pure logic: no sockets, files, threads or clock reads of its own.
// Thread-safety: check()/peek() are thread-safe and lock-free for existing
// keys (creating a dynamic key takes one shard mutex) and must run inside a
// Reclaimer critical section; sweep() is for the control plane.
#pragma once

#include <cstdint>
#include <expected>
#include <array>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/counter_table.h"
#include "engine/dedup_table.h"
#include "engine/fleet_lease.h"
#include "engine/hold_table.h"
#include "engine/policy.h"
#include "engine/policy_compiler.h"
#include "engine/reclaimer.h"
#include "engine/runtime_state.h"
#include "engine/scheduled_terms.h"
#include "tollgate/decision.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

// One CHECK/PEEK as parsed from the wire. Views point into the caller's buffer.
struct CheckRequest {
  std::string_view key;
  int64_t cost = 1;
  std::string_view channel;
  std::string_view purpose;
  std::string_view subject;
  std::string_view id;
  int64_t hold_ms = -1;  // -1: not given
  int64_t wait_ms = -1;  // -1: not given
};

struct EngineOptions {
  std::vector<PolicySpec> contracts;
  std::vector<PolicySpec> key_classes;  // first match in this order wins
  // Contract name → its scheduled changes in order of instant (engine/contract_schedule.h).
  std::map<std::string, std::vector<ScheduledTerms>, std::less<>> schedules;
  bool allow_unknown = false;
  bool shadow_mode = false;  // every limit behaves as shadow
  std::string timezone = "UTC";
  Nanos idle_timeout = 600 * kNanosPerSecond;
  Nanos sweep_interval = kNanosPerSecond;  // retry hint when the key table is full
  CounterTableOptions table;
  Nanos dedup_window = 600 * kNanosPerSecond;  // CHECK ... ID replays within this
  size_t dedup_max_entries = 1'000'000;
  size_t max_holds = 100'000;  // open holds at most (the pool is allocated once)
  int workers = 1;             // threads that create holds (each keeps an expiry heap)
  // A store saves changed keys: log each entry a call changes (RuntimeState::dirty_log).
  bool track_changes = false;
  // The config generation this engine decides under: 0 at start, n after the
  // n-th successful reload. The call log tags each record with it
  // (calllog/call_log.h, "Generations"); the engine itself ignores it.
  uint32_t generation = 0;

  // What compile_policy takes from these options (views into them).
  PolicyDefaults policy_defaults() const { return {timezone, idle_timeout, shadow_mode}; }
};

// What a limit promises, as the HTTP RateLimit-Policy field states it:
// `quota` units per `window_seconds` (0: no fixed window — concurrency, or a
// calendar month, whose length varies).
struct LimitTerms {
  int64_t quota = 0;
  int64_t window_seconds = 0;
};

// Limit names reported for conditions that are not configured limits.
inline constexpr std::string_view kIdInProgressLimit = "id_in_progress";
inline constexpr std::string_view kHoldPoolFullLimit = "max_holds";
// retry_after_ms hint for CONCURRENCY denials: holds end when settled or expired.
inline constexpr int64_t kConcurrencyRetryMs = 100;
// A contract with per_subject or distinct_subjects limits needs SUBJECT.
inline constexpr std::string_view kSubjectRequiredLimit = "subject_required";
inline constexpr size_t kMaxSubjectLength = 256;
inline constexpr char kSubjectSeparator = '\x1f';

// UNAVAILABLE denials (fail: closed while Redis is down): the limit named and
// the retry hint (about one reconnect attempt).
inline constexpr std::string_view kStorageLimit = "storage";
inline constexpr int64_t kUnavailableRetryMs = 1000;

// The limit name reported when a new dynamic key cannot be stored.
inline constexpr std::string_view kTableFullLimit = "max_keys";

class Engine {
 public:
  // Compiles the policies and creates the static (contract) entries.
  // Returns every problem found, one message each (an allocation failure is
  // one of them, never an exception).
  // `state` holds what outlives the engine (contract states, ledger).
  // `previous` (a reload) shares its counter table, remembered IDs and holds,
  // and its distinct-subject state where the contract and limit still exist
  // with the same cap, period and zone.
  //
  // A reload is all or nothing: everything that can fail happens before
  // anything outside the new engine is touched. On an error `previous`, the
  // shared tables and `state` are exactly as they were (nothing is taken out
  // of `previous`: the subject sets are shared, not moved). Only once the new
  // engine is whole does the hand-over run: contract statuses and price
  // ladders from the new config go into `state`, new contracts get their
  // entries, and every existing entry is pointed at its new policy
  // (adopt_entries). `previous` itself is only read, so it may keep serving
  // workers meanwhile; but the hand-over writes state that the control
  // plane's checkpoints and sweeps read, so a create() with a `previous` must
  // run on the control plane's thread (see control/reloader.h).
  static std::expected<std::unique_ptr<Engine>, std::vector<std::string>> create(
      const EngineOptions& options, Reclaimer& reclaimer, Nanos now, RuntimeState& state,
      const Engine* previous = nullptr);

  // Decides the call and, when allowed, charges every enforced limit (and the
  // shadow limits that allow it). A denied call charges nothing. Thread-safe.
  // `worker` is the calling worker's index (it owns the expiry of holds it creates).
  Decision check(const CheckRequest& request, Nanos now, int worker = 0);
  // check() for a caller that already has the key's hash: `key_hash` must be
  // CounterTable::hash_key(request.key) (check() is exactly this with the
  // hash computed). For tollgate-replay, which hashes each distinct key once
  // and then decides millions of calls on it. Thread-safe as check().
  Decision check_with_hash(const CheckRequest& request, uint64_t key_hash, Nanos now, int worker = 0);

  // Decides several calls all-or-nothing (MULTI/EXEC of CHECKs; the gRPC
  // front's descriptors). out.size() must equal requests.size(); out[i]
  // answers requests[i]. Returns true when every call is allowed: each is
  // then charged exactly as check() in this order would have charged it (a
  // later call sees the earlier ones' charges, so the same key twice costs
  // twice) and out[i] is what that check() would have answered. Otherwise
  // returns false and NOTHING is charged — no tokens, window or quota units,
  // per-subject counters, concurrency slots, holds, credits (no lot is
  // touched, so the ledger never sees the attempt), distinct subjects or
  // remembered IDs — every denied call carries its own code, and every call
  // that would have passed gets allowed = false, code ABORTED, no limit,
  // remaining 0, retry_after_ms = the longest of the denied calls' (-1 when
  // one of them can never pass), reset_after_ms 0. Every `balance` is the
  // account's after the whole call. A call whose ID is already remembered
  // replays (charges nothing) and, in an aborted batch, reads ABORTED too; a
  // later call with the same key and ID as an earlier one in the batch
  // answers as that one (as a retry would). Thread-safe; allocates only the
  // first time a thread passes more calls than ever before (scratch space).
  //
  // How: two phases. Phase 1 runs each call's decision in order and takes
  // everything provisionally, as check() does before it answers: limit units
  // charged (their exact recorded instants kept for the refund), credits
  // *reserved* on the account (not taken from lots), the concurrency slot,
  // the subject admitted into distinct caps and per-subject counters, the
  // hold's pool slot claimed (HoldTable::claim), the ID claimed in progress.
  // Phase 2 either finalizes every call (takes the reserved credits from the
  // lots, publishes the holds, adds the subjects to the estimate, remembers
  // the IDs; none of it can fail) or abandons every call in reverse order,
  // giving each thing back exactly: limit refunds to the slice/period/TAT
  // they were charged at, released reservations, released slots, unclaimed
  // hold slots, forgotten subjects, forgotten IDs.
  //
  // What another thread may observe between the phases (microseconds: one
  // batch of decisions, no I/O) and why it is acceptable:
  //  - Units, credits, slots and per-subject counters provisionally taken
  //    look taken: a concurrent check() may be denied for them (RATE, QUOTA,
  //    BALANCE, CONCURRENCY, …) although the batch later gives them back.
  //    That is under-admission only, and the same window check() itself has
  //    between charging one limit and finding that the next denies. Nothing
  //    can over-admit: every provisional charge is a real charge while it
  //    lasts, and a refund never frees units consumed by others (the
  //    limiters' refund() contracts).
  //  - The ID is in progress: a concurrent CHECK with the same key and ID
  //    is denied CONCURRENCY/id_in_progress (retry 1 ms), as for two
  //    concurrent check()s. A claimed hold slot is invisible to SETTLE (it
  //    answers "no such open hold", true until the hold is published) and to
  //    checkpoints (nothing provisional is ever persisted as a hold).
  //  - Money: a reservation is only a lower spendable count; no lot, ledger
  //    entry or persisted counter changes unless the batch is finalized, so
  //    Σ ledger = balance holds at every instant and an aborted batch leaves
  //    no trace in the ledger.
  //  - Limit words provisionally charged may be marked dirty and written by
  //    a checkpoint taken in between; the refund marks them again, so the
  //    next checkpoint writes the refunded state. A crash in between keeps
  //    the charge (conservative: never units given away), as a crash during
  //    check() does.
  //  - A distinct subject provisionally admitted is "seen" by others: a
  //    concurrent call of the same contract with the same *new* subject is
  //    allowed without taking a unit of the cap, and the abandon then
  //    forgets it. That subject is not counted until its next call (which
  //    admits it again, or is denied at the cap): the cap can be passed by
  //    that one call. check() has the same window when a per-subject limit
  //    denies after a cap admitted; it needs an exact-subject collision
  //    within microseconds, and the next call corrects it.
  //  - Shadow limits: their would-be denials are counted in phase 1
  //    (statistics of what enforcement would do); their units are refunded
  //    like every other limit's.
  //  - A reload between the phases: refunds go through the policy that
  //    charged (kept alive by the caller's Reclaimer section); an entry
  //    migrated to a new layout meanwhile keeps the old entry's refund
  //    (lost: conservative), as for a hold cancelled across such a reload.
  [[nodiscard]] bool check_all(std::span<const CheckRequest> requests, Nanos now, int worker,
                               std::span<Decision> out);

  // SETTLE: makes a hold final (commit) or gives back everything it took
  // (cancel). False when there is no open hold for (key, id). Thread-safe.
  bool settle(std::string_view key, std::string_view id, bool commit, Nanos now);
  // Settles `worker`'s expired holds by their contract's hold_timeout, at
  // most `max` of them (earliest deadline first; tollgate-replay repeats a
  // recorded expiry this way); returns how many. Owner thread.
  // next_hold_expiry: INT64_MAX when none.
  size_t expire_holds(int worker, Nanos now, size_t max = SIZE_MAX);
  // With `now`, a clock step's hold counts as due now (HoldTable::kMaxHoldSpan).
  Nanos next_hold_expiry(int worker, Nanos now = INT64_MIN) { return holds_.next_expiry(worker, now); }
  const HoldTable& holds() const { return holds_; }
  const DedupTable& dedup() const { return dedup_; }

  // Persistence hooks (embedded store). The open holds as persisted images
  // (see HoldTable::for_each_open for what a concurrent call sees); with
  // `identities`, each hold's settle-log identity in the same order
  // (HoldTable::for_each_open_identified). Thread-safe.
  std::vector<HoldImage> export_holds(std::vector<uint64_t>* identities = nullptr) const;
  // Puts a persisted hold back, with its expiry, on worker hash % workers'
  // heap, and takes its concurrency slot. False (nothing changed) when its
  // contract is no longer configured or the pool refuses it. Before workers run.
  bool restore_hold(const HoldImage& image);
  DedupTable& dedup() { return dedup_; }
  // Calls visit(contract, limit name, set) for every distinct_subjects set. Control plane.
  void for_each_distinct_set(
      const std::function<void(const std::string&, const std::string&, DistinctSubjects&)>& visit);
  // Calls visit(contract, estimate) for every contract's distinct-subject HLL. Control plane.
  void for_each_subject_estimate(const std::function<void(const std::string&, PeriodHll&)>& visit);

  // What check() would answer now; changes nothing (creates no key). Thread-safe.
  Decision peek(const CheckRequest& request, Nanos now) const;

  // Evicts dynamic keys idle for their class's idle_timeout whose limits are
  // at rest, visiting at most `budget` slots. Control plane. Returns evictions.
  size_t sweep(Nanos now, size_t budget);

  const CounterTable& table() const { return table_; }
  const std::vector<std::unique_ptr<Policy>>& contracts() const { return contracts_; }
  const std::vector<std::unique_ptr<Policy>>& key_classes() const { return key_classes_; }
  // Reload: points every existing entry at its policy in this engine (same
  // state layout: in place; else a migrated copy), drops keys whose contract
  // or class is gone. Control plane.
  void adopt_entries(Nanos now);
  // Recomputes the restriction word of a contract's policy from its state's
  // monitor actions (engine/monitor_action.h). Any thread: the word is one
  // atomic store; whoever changes the actions calls it on the engine in
  // force, and the control plane's monitor tick calls it for every contract,
  // so a reload racing an action change is corrected within one tick.
  void sync_restrictions(const Policy& p);
  void sync_restrictions(std::string_view key);
  // The earliest instant after the engine was built (create()'s `now`) at
  // which a contract's scheduled change takes effect (engine/contract_schedule.h),
  // INT64_MAX when none is pending. Immutable.
  Nanos next_change_at() const { return next_change_at_; }
  // Distinct-subject estimate of a contract for the current period (-1 without state).
  double distinct_subjects_estimate(std::string_view key, Nanos now) const;
  const EngineOptions& options() const { return options_; }
  RuntimeState& state() { return state_; }
  // The contract's policy, or nullptr. `key_hash`: as check_with_hash's.
  const Policy* contract(std::string_view key) const;
  const Policy* contract(std::string_view key, uint64_t key_hash) const;
  // The advertised terms (RateLimit-Policy's q and w) of the limit named
  // `limit` that governs `key` (its contract's or key class's limits, the
  // contract's per-subject and distinct-subject ones included); nullopt when
  // no configured limit has that name (e.g. kStorageLimit, kTableFullLimit).
  // Thread-safe (reads immutable policies). Defined in engine/limit_terms.cc.
  std::optional<LimitTerms> limit_terms(std::string_view key, std::string_view limit) const;
  // For recovery (before workers start) and admin views: the entry of `key`,
  // creating a dynamic key when a key class matches, or a contract's
  // per-subject key (`<contract>\x1f<subject>`) when that contract has
  // per_subject limits. nullptr when nothing matches, or the table is full.
  // Thread-safe.
  Entry* entry_for(std::string_view key, Nanos now);

 private:
  Engine(const EngineOptions& options, Reclaimer& reclaimer, RuntimeState& state, const Engine* previous);
  // create()'s first phase: compiles every policy and prepares the subject
  // state; writes only this engine. Returns the problems found.
  std::vector<std::string> build(const Engine* previous);
  // create()'s second phase, once build() succeeded: the changes to shared
  // state (see create()). Cannot fail.
  void hand_over(Nanos now, const Engine* previous);
  const Policy* policy_for(const Entry& e) const;
  // Status, expiry, start, channel and purpose, in the order the README's code table states ("When several things deny a call").
  // What one call took before it answered (check_all's phase 1; check()
  // finalizes at once), so that it can be finalized or given back exactly.
  struct Provisional {
    struct Admitted {
      DistinctSubjects* set;
      Nanos in;  // SubjectCharge::admitted_in
    };
    int64_t cost = 0;
    Entry* entry = nullptr;  // the key's limits charged (mask) through `policy`
    const Policy* policy = nullptr;
    uint32_t mask = 0;
    const Policy* contract = nullptr;  // a contract call that charged (finalize's steps apply)
    bool reserved = false;             // `cost` credits reserved on the contract's account
    bool slot = false;                 // a concurrency slot (open_holds) taken
    int64_t open_before = 0;           // open holds seen (shadow concurrency counting)
    bool subject = false;              // SUBJECT admitted (estimate added at finalize)
    uint64_t subject_hash = 0;
    uint8_t admitted_count = 0;
    Entry* subject_entry = nullptr;  // per-subject counters charged (subject_mask)
    const Policy* subject_policy = nullptr;
    uint32_t subject_mask = 0;
    size_t hold_slot = HoldTable::kNoSlot;  // claimed, published at finalize
    uint64_t hold_hash = 0;
    Nanos hold_expires_at = 0;
    std::array<Admitted, 8> admitted;
    std::array<Nanos, kMaxLimitsPerPolicy> recorded_at;          // per charged limit of `entry`
    std::array<Nanos, kMaxLimitsPerPolicy> subject_recorded_at;  // per charged limit of `subject_entry`
    // Fleet mode: the pools of `fleet` this call took `cost` units from
    // (bit i: pool i), each from period fleet_tags[i]; fleet_local_mask: the
    // pools it took from the fail: local budget instead (Redis away).
    FleetLease* fleet = nullptr;
    uint64_t fleet_mask = 0;
    uint64_t fleet_local_mask = 0;
    std::array<uint32_t, FleetLease::kMaxPools> fleet_tags;
    // The contract the call was decided on (allowed or not): its decision
    // is counted by code (GET /metrics) once final, by check / check_all.
    // Not reset by clear() (a denial gives back what it took through it).
    ContractState* decided_on = nullptr;
    // Holds nothing any more (the arrays are left as they are: only the
    // fields above say what they hold).
    void clear() {
      entry = nullptr;
      contract = nullptr;
      reserved = slot = subject = false;
      admitted_count = 0;
      subject_entry = nullptr;
      hold_slot = HoldTable::kNoSlot;
      fleet = nullptr;
      fleet_mask = 0;
      fleet_local_mask = 0;
    }
  };
  // Makes an allowed call's provisional charge final: takes the reserved
  // credits (recording the lots for a hold), publishes the hold, adds the
  // subject to the estimate; sets out.balance. Cannot fail.
  void finalize(Provisional& taken, Nanos now, int worker, Decision& out);
  // Gives back everything `taken` holds, in reverse order; leaves it empty.
  void abandon(Provisional& taken, Nanos now);
  // Refunds the limits of `mask` charged on `e` through `p` at `recorded_at[i]`.
  void refund_charged(Entry* e, const Policy& p, uint32_t mask, int64_t cost, const Nanos* recorded_at, Nanos now);
  // Fleet mode (engine/fleet_gate.cc): takes the call's `cost` from this
  // node's lease of every leased pool (the enforced quota limits charged, the
  // credits), all or nothing, into `taken`. False with `out` set to the
  // denial: QUOTA / BALANCE when the lease is short (retry after the refill
  // interval while the global pool has units, else at period end / never),
  // or the contract's `fail:` outcome while Redis is away and the lease is spent.
  bool take_fleet(const Policy& p, FleetLease& lease, const CheckRequest& request, Nanos now, Decision& out,
                  Provisional& taken);
  // Gives back what take_fleet took.
  void give_back_fleet(Provisional& taken);
  // The reply an ID remembers for an allowed decision.
  DedupTable::Stored stored_reply(std::string_view key, const Decision& d) const;

  // With `channel`, an admitted call's channel position (rules->channels; <0: any channel).
  bool gate(const Policy& p, const CheckRequest& request, Nanos now, Decision& out, int* channel = nullptr) const;
  Decision check_contract(Entry* e, const CheckRequest& request, Nanos now, uint64_t id_hash, Provisional& taken);
  void deny_balance(const Policy& p, Decision& out) const;
  Decision decide_unavailable(const Policy& p, Decision& out, bool count) const;
  // SUBJECT under a contract: distinct caps, then per-subject counters.
  // On denial everything this call took from them is given back.
  bool charge_subject(const Policy& p, const CheckRequest& request, Nanos now, Decision& out, Provisional& taken);
  void peek_subject(const Policy& p, const CheckRequest& request, Nanos now, Decision& out) const;
  std::string_view subject_key(const Policy& p, std::string_view subject) const;
  std::string attach_subjects(Policy& p, const PolicySpec& spec, const Engine* previous);
  void refund_limits(Entry* e, uint32_t mask, int64_t cost, Nanos charged_at, Nanos now);
  const Policy* match_class(std::string_view key) const;
  // Charges `e` all-or-nothing. Returns false if the entry was sealed by the
  // evictor (nothing charged; the caller looks the key up again).
  // With `recorded_at`, each charged limit's LimitResult::recorded_at goes to
  // recorded_at[i] (what its refund needs).
  bool charge(Entry* e, int64_t cost, Nanos now, Decision& out, uint32_t* charged_mask = nullptr,
              Nanos max_delay = 0, Nanos* recorded_at = nullptr);
  // Phase 1 of one call: an allowed answer leaves its charge in `taken`
  // (finalize or abandon it); a denied one has taken nothing.
  // `key_hash`: CounterTable::hash_key(request.key).
  // check_with_hash of a request without ID (see engine.cc).
  Decision check_without_id(const CheckRequest& request, uint64_t key_hash, Nanos now, int worker);
  Decision decide(const CheckRequest& request, uint64_t key_hash, Nanos now, uint64_t id_hash, Provisional& taken);
  Decision replay(std::string_view key, const DedupTable::Stored& stored) const;
  void apply_settlement(const HoldCharge& charge, bool commit, Nanos now);
  void evaluate(const Policy& policy, const std::atomic<uint64_t>* words, int64_t cost, Nanos now,
                Nanos max_delay, Decision& out) const;
  // peek() of a contract key: check_contract's steps in its order, charging nothing.
  Decision peek_contract(const Entry& e, const CheckRequest& request, Nanos now) const;
  // The CONCURRENCY denial check_contract gives (retry hint, balance).
  Decision deny_concurrency(const Policy& p, std::string_view limit) const;
  // The contract's tightest enforced concurrency limit, or nullptr.
  const ConcurrencyLimit* tightest_concurrency(const Policy& p) const;
  Decision id_in_progress() const;
  Decision unknown_key() const;
  Decision table_full() const;

  EngineOptions options_;
  [[maybe_unused]] Reclaimer& reclaimer_;  // not read yet (clang warns: -Wunused-private-field)
  RuntimeState& state_;
  // Shared with the engine this one replaces on reload: counters, remembered
  // IDs and open holds are state, not configuration. (Their sizes are fixed
  // at start-up; table.* / dedup.* changes need a restart.)
  std::shared_ptr<CounterTable> table_owner_;
  std::shared_ptr<DedupTable> dedup_owner_;
  std::shared_ptr<HoldTable> holds_owner_;
  CounterTable& table_;
  DedupTable& dedup_;
  HoldTable& holds_;
  std::vector<std::unique_ptr<Policy>> contracts_;
  std::vector<std::unique_ptr<Policy>> key_classes_;
  std::map<std::string, std::unique_ptr<ContractSubjects>, std::less<>> subjects_;
  // Contract name → policy (views into the policies' names): policy_for() in
  // O(1), so adopting a table of N entries under M contracts is O(N + M).
  std::unordered_map<std::string_view, Policy*> contract_index_;
  Nanos next_change_at_ = INT64_MAX;  // set by hand_over()
};

// The hash an ID is remembered and held under: per key, so IDs of different keys never collide.
uint64_t request_id_hash(std::string_view key, std::string_view id);

}  // namespace tollgate
