// Open holds: provisional charges made by CHECK ... HOLD, waiting for SETTLE
// COMMIT|CANCEL or for their expiry.
//
// A fixed pool of slots (allocated once) keyed by the hash of (contract, id);
// a slot's key word carries the state, so settle and expiry race through one
// CAS and exactly one of them applies. Expiry runs on timers: each worker
// keeps a min-heap of the holds it created (reserved up front, compacted
// instead of grown), and its loop timer fires at the earliest expiry.
// Thread-safety: create/settle from any thread; the heap methods
// (next_expiry, pop_expired) only from the owning worker's thread;
// for_each_open from any thread (the checkpoint reads it while workers run).
// A slot's fields are atomic words published by the key word's release store
// and versioned per create, so a concurrent reader copies a hold seqlock-style
// and never sees a torn one.
//
// Spilled spans. A hold records every lot its credits came from (CANCEL gives
// each lot back exactly what it gave). Up to kInlineDebitSpans lots fit in
// the slot's words: such a hold allocates nothing and takes no lock. A hold
// over more lots (rare: credits spread over many small lots) keeps its spans
// in an out-of-line record, a heap-allocated std::vector<DebitSpan> whose
// pointer sits in the slot's first span word (16 bytes per lot, outside
// memory_for(); bounded by the contract's lots). The record is immutable while
// the hold is open and owned by the slot. Who touches it:
//   - create() (the worker running CHECK … HOLD, or the recovering thread in
//     Engine::restore_hold) allocates it after claiming the slot and before
//     the key's release store publishes the hold; nobody can see it earlier.
//   - the one settler (take() on SETTLE from any worker, pop_expired() on the
//     owning worker) whose CAS open → settling won moves the spans out and
//     frees the record while holding spill_mutex_;
//   - a concurrent reader (for_each_open: the checkpoint thread) copies the
//     spans while holding spill_mutex_, after re-checking that the slot still
//     holds the same hold (key and version): a record freed before the reader
//     took the mutex was freed after its slot left the open state, so the
//     re-check fails and the reader skips the hold as settled meanwhile;
//   - ~HoldTable frees the records of holds still open (no thread runs then).
// So a settle or expiry of a spilled hold may wait for a checkpoint copying
// one record (never for anything else), and a hold over ≤ kInlineDebitSpans
// lots never touches spill_mutex_.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/money/account.h"
#include "tollgate/time.h"

namespace tollgate {

class ContractState;

// What a hold took, so that CANCEL can give it back.
struct HoldCharge {
  ContractState* contract = nullptr;
  int64_t cost = 0;
  Nanos charged_at = 0;
  uint32_t limit_mask = 0;  // bit i: limit i of the policy was charged
  bool takes_slot = false;  // counted in open_holds
  bool commit_on_expiry = false;
  // The lots the credits came from, laid out as in DebitResult: in `spans`
  // when span_count <= kInlineDebitSpans, else every one in `spilled`.
  uint32_t span_count = 0;
  std::array<DebitSpan, kInlineDebitSpans> spans{};
  std::vector<DebitSpan> spilled;

  // The lots taken from, in the order taken.
  [[nodiscard]] std::span<const DebitSpan> taken() const {
    return span_count <= kInlineDebitSpans ? std::span<const DebitSpan>(spans.data(), span_count)
                                           : std::span<const DebitSpan>(spilled);
  }
  // Copies `taken` in (allocates only past kInlineDebitSpans spans).
  void set_spans(std::span<const DebitSpan> taken);
  // Moves a successful debit's spans in (no allocation).
  void take_spans(DebitResult&& debit);
  // Equal fields and equal taken() (the unused layout does not count).
  friend bool operator==(const HoldCharge& a, const HoldCharge& b);
};

// A hold as persisted: the contract and the charged limits by name (pointers
// and limit indexes do not survive a restart or a reload).
struct HoldImage {
  uint64_t hash = 0;  // request_id_hash(contract key, id)
  std::string contract;
  int64_t cost = 0;
  Nanos charged_at = 0;
  Nanos expires_at = 0;
  std::vector<std::string> limits;
  bool takes_slot = false;
  bool commit_on_expiry = false;
  std::vector<DebitSpan> spans;
  friend bool operator==(const HoldImage&, const HoldImage&) = default;
};

class HoldTable {
 public:
  static constexpr size_t kProbe = 32;

  HoldTable(size_t max_holds, int workers);
  ~HoldTable();
  // Bytes the constructor allocates (slots and every worker's reserved heap),
  // saturating: config validation checks it before anything is allocated.
  static uint64_t memory_for(uint64_t max_holds, int workers);
  HoldTable(const HoldTable&) = delete;
  HoldTable& operator=(const HoldTable&) = delete;

  // Registers a hold. False when (contract, id) already has an open hold or
  // the pool has no free slot near its hash. Any thread; heap of `worker`.
  bool create(uint64_t hash, const HoldCharge& charge, Nanos expires_at, int worker);

  // create() in two steps, for a decision that may still be abandoned
  // (Engine::check_all): claim() reserves a slot for `hash` and returns its
  // index, or kNoSlot when (contract, id) already has a hold (open or
  // claimed) or no slot near `hash` is free. A claimed slot is invisible to
  // take(), pop_expired() and for_each_open() (nothing can settle or persist
  // it) but blocks every other claim or create of the same hash. It must be
  // followed by exactly one publish() (the hold becomes open, as create()
  // makes it; cannot fail) or unclaim() (the slot is free again, nothing
  // happened). Any thread; publish() pushes on `worker`'s heap.
  static constexpr size_t kNoSlot = SIZE_MAX;
  [[nodiscard]] size_t claim(uint64_t hash);
  void publish(size_t slot, uint64_t hash, const HoldCharge& charge, Nanos expires_at, int worker);
  void unclaim(size_t slot);

  // What create(hash, …) would answer now, changing nothing (PEEK): false
  // when (contract, id) already has a hold or no slot near `hash` is free.
  // Any thread.
  bool would_create(uint64_t hash) const;

  // Takes the open hold for `hash` out of the table (it can be settled only
  // once). False when there is none. Any thread.
  bool take(uint64_t hash, HoldCharge& out);

  // Calls visit(hash, expires_at, charge) for every hold open at some instant
  // during the call: a hold created or settled meanwhile may or may not be
  // visited, a visited one is a consistent copy. Any thread.
  template <typename Visit>
  void for_each_open(Visit&& visit) const {
    if (open() == 0) return;  // the common idle case: no scan of the pool
    HoldCharge charge;
    uint64_t hash = 0;
    Nanos expires_at = 0;
    for (size_t i = 0; i <= mask_; ++i)
      if (read_open(slots_[i], hash, expires_at, charge)) visit(hash, expires_at, charge);
  }

  int workers() const { return workers_; }

  // The longest a hold can legitimately run: HOLD ≤ 1 day, from a paced slot
  // ≤ 1 hour ahead. A hold whose expiry lies further ahead of `now` was
  // created while the clock stood later (stepped forward, then corrected):
  // it is due at once instead of pinning its concurrency slot and pool slot
  // until the wrong clock's time comes round.
  static constexpr Nanos kMaxHoldSpan = 25 * 3600 * kNanosPerSecond;

  // Earliest expiry among `worker`'s holds (INT64_MAX when none); with `now`,
  // a clock step's hold at the top counts as due now. Owner thread.
  Nanos next_expiry(int worker, Nanos now = INT64_MIN);
  // Takes one expired hold of `worker` (expires_at <= now, or a clock step's:
  // beyond now + kMaxHoldSpan). Owner thread.
  bool pop_expired(int worker, Nanos now, HoldCharge& out);

  size_t open() const { return open_.load(std::memory_order_relaxed); }
  // Bumped by every create and settle: unchanged means the open set is too. Thread-safe.
  uint64_t changes() const { return changes_.load(std::memory_order_acquire); }
  uint64_t rejected_full() const { return rejected_full_.load(std::memory_order_relaxed); }
  size_t capacity() const { return mask_ + 1; }

 private:
  // HoldCharge packed into words: contract, cost, charged_at, mask|flags,
  // spans (or, for a spilled hold, the record's pointer in the first one).
  static constexpr size_t kChargeWords = 4 + 2 * kInlineDebitSpans;
  using SpillRecord = std::vector<DebitSpan>;
  struct Slot {
    std::atomic<uint64_t> key{0};      // 0 free; tag(hash) | state
    std::atomic<uint64_t> version{0};  // bumped by each create before it writes the fields
    std::atomic<uint64_t> hash{0};
    std::atomic<int64_t> expires_at{0};
    std::array<std::atomic<uint64_t>, kChargeWords> charge{};
  };
  struct HeapItem {
    Nanos expires_at;
    uint32_t slot;
    uint64_t key;  // the slot's key when pushed: a mismatch later means stale
  };
  struct alignas(64) Heap {
    std::vector<HeapItem> items;
  };
  static constexpr uint64_t kClaiming = 1, kOpen = 2, kSettling = 3;
  static uint64_t tag(uint64_t hash) { return (hash & ~uint64_t{3}) | 4; }
  // Writes the charge's words; a spilled charge's spans go to a new record.
  static void store_charge(Slot& s, const HoldCharge& charge);
  bool settle_slot(Slot& s, uint64_t open_key, HoldCharge& out);
  // The charge's words; for a spilled hold, `spill` gets the record's pointer
  // (not dereferenced) and the spans are left empty.
  static HoldCharge load_charge(const Slot& s, SpillRecord*& spill);
  // Seqlock read of an open slot; false when it is not open or changed meanwhile.
  bool read_open(const Slot& s, uint64_t& hash, Nanos& expires_at, HoldCharge& charge) const;
  void push(Heap& h, HeapItem item);
  void compact(Heap& h);

  std::unique_ptr<Slot[]> slots_;
  size_t mask_;
  std::unique_ptr<Heap[]> heaps_;
  size_t heap_limit_;
  int workers_;
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> changes_{0};
  std::atomic<uint64_t> rejected_full_{0};
  // Serializes freeing a spill record with copying it (see the top comment).
  mutable std::mutex spill_mutex_;
};

}  // namespace tollgate
