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
//
// Settle ordinals (the checkpoint's cut between holds and money; an admin
// change's durable() takes the same cut before it journals the ledger, see
// persist/embedded/embedded_store.h, "Holds and money in every commit"). A
// checkpoint journals the open holds together with the ledger entries its
// flush turns the accounts' counters into; a hold must be in the set exactly
// when its debit is in those entries and its settlement (a CANCEL's refund)
// is not. Settles run on the workers while the checkpoint reads, so the
// checkpoint needs, per hold it saw open, "was it settled before or after
// its account was read?" — and a settle is two steps (the CAS that takes the
// hold, then Account::refund of each lot), between which an account read
// would see part of the refund or none of it. Hence every settle is
// bracketed by a Settling ticket:
//   * begin (at the settle's first CAS attempt): `settles_begun_`
//     fetch_add (seq_cst) hands out the settle's ordinal, then a release
//     fence, so that a reader that sees any of its later writes (the slot's
//     key, a lot's counters) and then loads `settles_begun_` sees the ordinal
//     taken;
//   * the ticket's end (its destructor, after the caller applied the
//     settlement: the refund is complete) writes the identity of the hold it
//     took — slot index << 32 | the slot's version (low 32 bits), 0 for none
//     — to `settle_log_[ordinal % kSettleLog]`, then `settles_done_`
//     fetch_add (seq_cst, a release: whoever sees the count sees the refund
//     and the log entry).
// at_quiescent_point(read) runs `read` at an instant when no settle is in
// flight: it loads begun (a), then done; only if done == a (every settle
// numbered below a has finished, refund included) does it run `read`, then
// an acquire fence and begun again: unchanged means no settle began before
// `read` ended, so `read` saw every settle numbered below a whole and none
// from a on; otherwise it tries again (yielding after a few spins). Only the
// cut (a checkpoint's or an admin change's, under the store's mutex, so one
// at a time) ever waits; a settle never does. A window is one account read
// (a few lots), so settles at any realistic rate leave it free almost always.
// settled_between(from, to) then names the holds settled with ordinals in
// [from, to), for a reader that took both ends at quiescent points: the
// entries below `to` are written (done reached `to`), and it reports false
// when a later settle may have overwritten one (more than kSettleLog settles
// from `from` on): the checkpoint then cuts again.
// Hot path cost: two RMWs on shared counters and one store per settle.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
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
  static constexpr uint64_t kSettleLog = 16384;  // settle log entries (a power of two)

  // One settle's bracket (see "Settle ordinals"): pass it to take() or
  // pop_expired() and let it end after the settlement was applied (the
  // refund made). Begins at the first CAS attempt; a ticket that never
  // begins costs nothing. One thread; not copyable.
  class Settling {
   public:
    explicit Settling(const HoldTable& table) : table_(table) {}
    ~Settling();
    Settling(const Settling&) = delete;
    Settling& operator=(const Settling&) = delete;

   private:
    friend class HoldTable;
    void begin();
    const HoldTable& table_;
    uint64_t ordinal_ = 0;
    uint64_t settled_ = 0;  // identity of the hold taken, 0 none
    bool begun_ = false;
  };

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
  // once). False when there is none. Any thread. A caller that applies the
  // settlement after (Engine: the refund) passes a ticket that ends after it;
  // without one the settle's bracket ends inside take().
  bool take(uint64_t hash, HoldCharge& out, Settling* settling = nullptr);

  // Calls visit(hash, expires_at, charge) for every hold open at some instant
  // during the call: a hold created or settled meanwhile may or may not be
  // visited, a visited one is a consistent copy. Any thread.
  template <typename Visit>
  void for_each_open(Visit&& visit) const {
    for_each_open_identified([&](uint64_t hash, Nanos expires_at, const HoldCharge& charge, uint64_t) {
      visit(hash, expires_at, charge);
    });
  }
  // The same, with each hold's identity (slot index << 32 | version), the
  // name settled_between() gives it. Any thread.
  template <typename Visit>
  void for_each_open_identified(Visit&& visit) const {
    if (open() == 0) return;  // the common idle case: no scan of the pool
    HoldCharge charge;
    uint64_t hash = 0;
    Nanos expires_at = 0;
    uint64_t identity = 0;
    for (size_t i = 0; i <= mask_; ++i)
      if (read_open(slots_[i], hash, expires_at, charge, &identity)) visit(hash, expires_at, charge, identity);
  }

  // The checkpoint's side of the settle ordinals (see the top comment).
  // Runs read() at an instant no settle is in flight and returns the number
  // of settles begun then: those below it are finished and seen whole by
  // read(), those from it on began after read() ended. May run read() more
  // than once. Waits (spins, then yields) while settles are in flight. Any
  // thread (the checkpoint's).
  template <typename Read>
  uint64_t at_quiescent_point(Read&& read) const {
    for (unsigned spins = 0;; ++spins) {
      const uint64_t begun = settles_begun_.load(std::memory_order_seq_cst);
      if (settles_done_.load(std::memory_order_seq_cst) == begun) {
        read();
        std::atomic_thread_fence(std::memory_order_acquire);
        if (settles_begun_.load(std::memory_order_seq_cst) == begun) return begun;
      }
      if (spins >= 64) std::this_thread::yield();
    }
  }
  // Appends the identities of the holds settled with ordinals in [from, to)
  // (both taken by at_quiescent_point, from <= to), 0 for a settle that took
  // nothing. False when more than kSettleLog settles began from `from` on
  // (an entry may have been overwritten): cut again. Any thread.
  bool settled_between(uint64_t from, uint64_t to, std::vector<uint64_t>& out) const;

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
  // beyond now + kMaxHoldSpan). Owner thread. `settling` as for take().
  bool pop_expired(int worker, Nanos now, HoldCharge& out, Settling* settling = nullptr);

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
  bool settle_slot(Slot& s, uint64_t open_key, HoldCharge& out, Settling& settling);
  // The charge's words; for a spilled hold, `spill` gets the record's pointer
  // (not dereferenced) and the spans are left empty.
  static HoldCharge load_charge(const Slot& s, SpillRecord*& spill);
  // Seqlock read of an open slot; false when it is not open or changed
  // meanwhile. `identity`, when given, gets the hold's settle-log name.
  bool read_open(const Slot& s, uint64_t& hash, Nanos& expires_at, HoldCharge& charge,
                 uint64_t* identity = nullptr) const;
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
  // Settle ordinals (see the top comment): begun and done counts, and the
  // identity each settle took, by ordinal modulo kSettleLog.
  alignas(64) mutable std::atomic<uint64_t> settles_begun_{0};
  mutable std::atomic<uint64_t> settles_done_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> settle_log_;
  // Serializes freeing a spill record with copying it (see the top comment).
  mutable std::mutex spill_mutex_;
};

}  // namespace tollgate
