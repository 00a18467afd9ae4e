// A contract's prepaid account: lots of credits bought at ladder prices, spent
// oldest lot first. Thread-safety: reserve/release/take_reserved/try_debit/
// refund/balance/preview_debit/credits/wallet/lot are lock-free,
// allocation-free and callable from any thread (data plane); plan_recharge/
// add_lot/set_ladder/snapshot are control-plane calls serialized by an
// internal mutex. The Account owns its lots; lots are never moved or freed before the
// Account, so lot indices are stable forever.
//
// Lot storage: a directory of kLotChunks chunks whose sizes double (8, 16,
// 32, ...). add_lot() fills the next slot (allocating a chunk when needed),
// then publishes it by a release store of the lot count; readers acquire the
// count and only ever read slots below it, so they never see a half-written
// lot, and nothing is ever reallocated or retired.
//
// Per lot, `debited` and `refunded` are monotonic counters and
// remaining = credits - debited + refunded (refunded <= debited always). The
// ledger derives debit/refund entries from their deltas (ledger.h).
//
// Debits are two steps. reserve(cost) takes `cost` from one account-wide
// counter of spendable credits with a single CAS: that is the all-or-nothing
// decision. take_reserved(cost) then takes the credits from the lots, oldest
// first, from as many lots as it needs; it cannot fail, so it records nothing
// and needs no storage, whatever the number of lots (13 one-credit lots pay
// for a call of 13). A call denied after reserving (by a limit) only
// release()s the reservation: no lot was touched. Invariant: spendable ≤
// Σ remaining − credits reserved and not yet taken, so every reservation finds
// its credits in the lots: recharges and refunds add to a lot before they add
// to `spendable`, reservations subtract from `spendable` before taking.
//
// try_debit(cost) (HOLD: the charge must be refundable lot by lot) reserves
// and takes at once, recording the lots it took from, however many: the first
// kInlineDebitSpans in the result itself (no allocation), all of them in a
// vector only when a debit spans more lots (rare: many small lots).
//
// Expiry (`pricing.lot_validity`): a lot may carry an instant `expires`
// (0: never). From that instant its credits must not be spent; expire_due()
// takes what is left in every lot due by `now`, as if a debit took it (a
// reservation from `spendable`, then a CAS on the lot's `debited`), and counts
// it in the lot's `expired` (a part of `debited`; the ledger writes it as an
// `expire` entry, not a debit). It runs under the control mutex, so a
// snapshot never sees half an expiry, and it never waits for anybody: when
// calls in flight hold every spendable credit it stops and reports the
// expiry incomplete (the next call finishes it).
// Race reasoning, with `next_expiry_` (the earliest instant at which some lot
// still needs expire_due; INT64_MAX when none):
//  - reserve(cost, now) runs expire_due(now) first when now ≥ next_expiry_
//    (the rare path: once per expiry instant per account; it takes the
//    control mutex), and after its CAS on `spendable` loads next_expiry_
//    again: if it moved to ≤ now meanwhile it gives the reservation back and
//    starts over. So a call at or after a lot's instant never reserves
//    credits that only an expired lot holds.
//  - A refund (a cancelled HOLD) with now ≥ the lot's instant gives nothing
//    back to the lot: the credits are forfeited at once (`forfeited`; the
//    ledger shows a refund and an expire of the same amount, the balance
//    does not move). One with now < the instant on a lot whose instant is
//    before next_expiry_ (a lot already expired by a thread whose clock ran
//    ahead) first lowers next_expiry_ to that instant (seq_cst, before it
//    adds to `spendable`), so a reservation that counted on those credits
//    sees it in its second load and the next expire_due takes them.
//  - expire_due raises next_expiry_ only by a CAS from the value it started
//    from, so a refund lowering it meanwhile makes it scan again.
// What is left: take() does not look at instants, so a call that reserved
// *before* a lot's instant may take that lot's credits after it — the call
// was decided before the instant, which is the contract.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <expected>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/money/price_ladder.h"
#include "tollgate/decision.h"
#include "tollgate/time.h"

namespace tollgate {

// Credits taken from (or given back to) one lot.
struct DebitSpan {
  uint32_t lot = 0;
  int64_t credits = 0;
  friend bool operator==(const DebitSpan&, const DebitSpan&) = default;
};

// The lots a recorded debit (try_debit, a HOLD) keeps in place: a debit
// from at most this many lots records them without allocating (in
// DebitResult::spans here, in the hold pool's slot for a HOLD). One from more
// lots is not bounded: its spans spill to a vector (DebitResult::spilled, a
// hold's out-of-line record; see hold_table.h).
inline constexpr uint32_t kInlineDebitSpans = 4;

enum class DebitStatus : uint8_t {
  kOk,
  kInsufficient,  // not enough credits (or lost a race): nothing taken
  kInvalidCost,   // negative cost
};

struct DebitResult {
  DebitStatus status = DebitStatus::kInsufficient;
  uint32_t span_count = 0;
  // The spans when span_count <= kInlineDebitSpans (then `spilled` is null).
  std::array<DebitSpan, kInlineDebitSpans> spans{};
  // Every span, in order, when span_count > kInlineDebitSpans (else null).
  // Behind a pointer so that a DebitResult stays small enough to be zeroed
  // with a few vector stores: a vector in place made try_debit ~50% slower
  // (its zeroing became a `rep stos`).
  std::unique_ptr<std::vector<DebitSpan>> spilled;

  [[nodiscard]] bool ok() const { return status == DebitStatus::kOk; }
  // The lots taken from, in the order taken (oldest first); empty unless ok().
  [[nodiscard]] std::span<const DebitSpan> taken() const {
    return span_count <= kInlineDebitSpans ? std::span<const DebitSpan>(spans.data(), span_count)
                                           : std::span<const DebitSpan>(*spilled);
  }
  // Appends one span (take() calls it once per lot taken from).
  void record(DebitSpan span) {
    if (span_count < kInlineDebitSpans) [[likely]] {
      spans[span_count++] = span;
      return;
    }
    spill(span);
  }

 private:
  // The rare case, out of line: moves the spans to `spilled` and appends.
  [[gnu::cold, gnu::noinline]] void spill(DebitSpan span);
};

// A debit's credits by the unit price of the lots they came from, as
// Decision::lots reports them (tollgate/decision.h, LotPrices): take() adds
// each lot it takes from, oldest first. Exact for any number of lots: lots
// of one price count together, and past two prices the others' money is
// summed in `charge.rest` (kMany). Plain value; one owner.
struct PriceSplit {
  LotPrices prices = LotPrices::kNone;
  int64_t taken = 0;  // credits added so far
  LotCharge charge;   // valid when prices != kNone

  void add(int64_t unit_price, int64_t credits) {
    taken += credits;
    switch (prices) {
      case LotPrices::kNone:
        prices = LotPrices::kOne;
        charge.price = unit_price;
        charge.credits = credits;
        charge.rest = 0;
        return;
      case LotPrices::kOne:
        if (unit_price == charge.price) {
          charge.credits += credits;
        } else {
          prices = LotPrices::kTwo;
          charge.rest = unit_price;
        }
        return;
      case LotPrices::kTwo:
        if (unit_price == charge.price) {
          charge.credits += credits;
        } else if (unit_price != charge.rest) {  // a third price: the rest becomes money
          prices = LotPrices::kMany;
          charge.rest = (taken - credits - charge.credits) * charge.rest + credits * unit_price;
        }
        return;
      case LotPrices::kMany:
        if (unit_price == charge.price) charge.credits += credits;
        else charge.rest += credits * unit_price;
        return;
    }
  }
};

enum class RefundStatus : uint8_t {
  kOk,
  kInvalidSpan,  // unknown lot, negative credits, or more than was debited: span skipped
};

struct RechargeResult {
  uint32_t lot = 0;        // index of the new lot
  int64_t amount = 0;      // minor units paid
  int64_t credits = 0;     // credits in the new lot
  int64_t unit_price = 0;  // minor units per credit, from the ladder step of `amount`
  int64_t wallet = 0;      // leftover minor units carried to the next top-up
  int64_t balance = 0;     // balance() right after the recharge
};

// One lot as observed at one instant.
struct LotState {
  uint32_t index = 0;
  int64_t amount = 0;
  int64_t unit_price = 0;
  int64_t credits = 0;
  int64_t debited = 0;
  int64_t refunded = 0;
  Nanos created = 0;
  Nanos expires = 0;       // the instant its credits expire; 0: never
  int64_t expired = 0;     // credits expire_due took (a part of `debited`)
  int64_t forfeited = 0;   // credits of holds cancelled after `expires` (never given back)
  [[nodiscard]] int64_t remaining() const { return credits - debited + refunded; }
};

// Every lot plus the wallet, each lot's counters read as one consistent pair;
// `balance` and `credits` are computed from exactly these values.
struct AccountSnapshot {
  std::vector<LotState> lots;
  int64_t wallet = 0;
  int64_t credits = 0;
  int64_t balance = 0;
};

class Account {
 public:
  static constexpr int kLotChunks = 28;
  static constexpr uint32_t kMaxLots = uint32_t{1} << 31;
  static constexpr Nanos kNoExpiry = std::numeric_limits<Nanos>::max();

  explicit Account(PriceLadder ladder);
  ~Account();
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  // Replaces the ladder used by later recharges (config reload). Existing lots
  // keep their price. Control plane; thread-safe (mutex).
  void set_ladder(PriceLadder ladder);
  [[nodiscard]] PriceLadder ladder() const;

  // Reserves `cost` (≥ 0) credits for a debit: true iff that many are
  // spendable now (all or nothing, one CAS). Under races it may deny a cost
  // that would just fit (a racing reservation not yet taken or released),
  // never admit one that does not. Follow with take_reserved(cost) or
  // release(cost). Lock-free; thread-safe.
  // `now`: the call's instant; lots due by then are expired first (header).
  // Tests of accounts whose lots never expire may leave it out.
  [[nodiscard]] bool reserve(int64_t cost, Nanos now = 0);
  // Gives back a reservation that will not be taken. Lock-free; thread-safe.
  void release(int64_t cost);
  // Takes `cost` reserved credits from the lots, oldest first, from any
  // number of lots. Cannot fail. Lock-free; no allocation; thread-safe.
  // With `split`, adds each lot taken from to it (by unit price).
  void take_reserved(int64_t cost, PriceSplit* split = nullptr);

  // take_reserved, recording the lots taken from (so that refund() can give
  // them back): what try_debit does after its reservation, for a caller that
  // reserved earlier and decided later (a HOLD inside Engine::check_all).
  // Cannot fail. Lock-free; allocates only past kInlineDebitSpans lots.
  [[nodiscard]] DebitResult take_reserved_recorded(int64_t cost, PriceSplit* split = nullptr);

  // reserve + take, recording the lots taken from (so that refund() can give
  // them back): all or nothing, from any number of lots. Cost 0 succeeds with
  // no spans. Lock-free; thread-safe; allocates only when the debit spans more
  // than kInlineDebitSpans lots (DebitResult::spilled).
  [[nodiscard]] DebitResult try_debit(int64_t cost, Nanos now = 0);

  // What a debit of `cost` credits, oldest lot first, would do now, changing
  // nothing (PEEK). Same consistency as balance(). Lock-free.
  struct DebitPreview {
    bool covered = false;  // the lots hold `cost` credits
    int64_t balance = 0;   // balance() right after the debit (when covered)
    uint32_t lots = 0;     // lots it would take from (try_debit's span count)
  };
  // Lots due by `now` count as empty (whether or not expire_due ran yet).
  [[nodiscard]] DebitPreview preview_debit(int64_t cost, Nanos now = 0) const;

  // Gives credits back to the lots they were taken from (a cancelled hold).
  // Each span must come from a successful try_debit and be refunded once;
  // invalid spans are skipped and reported. A span of a lot whose instant
  // `expires` is ≤ `now` is forfeited instead (header). Lock-free; thread-safe.
  [[nodiscard]] RefundStatus refund(std::span<const DebitSpan> spans, Nanos now = 0);

  // Expires every lot whose instant is ≤ `now`: takes what it has left
  // (counted in its `expired`), oldest lot first. Returns false when calls in
  // flight held credits it needed (it took what it could; call again).
  // Idempotent: a lot already expired has nothing left to take. Thread-safe
  // (control mutex; lock-free callers may run meanwhile); also called by
  // reserve() on a worker, once per expiry instant.
  bool expire_due(Nanos now);
  // The earliest instant at which some lot still has to be expired
  // (INT64_MAX: none). Lock-free.
  [[nodiscard]] Nanos next_expiry() const { return next_expiry_.load(std::memory_order_acquire); }

  // Σ remaining × unit_price + wallet, in minor units. Each lot is read
  // atomically but not all lots at one instant: exact when no debit, refund or
  // recharge runs concurrently, otherwise some value in between. Lock-free.
  [[nodiscard]] int64_t balance() const;
  // Σ remaining credits; same consistency as balance(). Lock-free.
  [[nodiscard]] int64_t credits() const;
  // Leftover minor units below one credit. Lock-free.
  [[nodiscard]] int64_t wallet() const { return wallet_.load(std::memory_order_acquire); }
  // Lots published so far. Lock-free.
  [[nodiscard]] uint32_t lot_count() const { return count_.load(std::memory_order_acquire); }
  // One lot's state (counters read as a consistent pair); nullopt past the end.
  [[nodiscard]] std::optional<LotState> lot(uint32_t index) const;

  // All lots and the wallet; balance/credits computed from the same reads.
  // Control plane (allocates; takes the mutex, so it never sees half a
  // recharge); debits may run concurrently.
  [[nodiscard]] AccountSnapshot snapshot() const;

  // --- Recharge and recovery (control plane; thread-safe via the control mutex) ---
  // A recharge is two steps, so that the caller can make it durable in
  // between (ContractAdmin: plan, journal, then apply): plan_recharge()
  // decides the lot, add_lot() adds it. Recovery replays add_lot() alone.

  // The lot a top-up of `amount` (> 0) minor units would add right now,
  // changing nothing: the unit price is the ladder step reached by `amount`
  // alone; the credits are floor((amount + wallet) / unit_price) and the
  // remainder becomes the new wallet; `balance` is the balance once it is
  // added. Errors: amount <= 0, or lifetime top-ups would pass INT64_MAX
  // (which bounds every balance below), or kMaxLots reached.
  [[nodiscard]] std::expected<RechargeResult, std::string> plan_recharge(int64_t amount, Nanos now) const;

  // Publishes `lot` (index == lot_count(), counters taken as given: 0 for a
  // planned recharge, the persisted ones in recovery) and sets the wallet.
  // Errors: wrong index, invalid fields, lifetime top-ups past INT64_MAX, or
  // more credits and wallet than the top-ups ever paid for. May allocate.
  [[nodiscard]] std::expected<void, std::string> add_lot(const LotState& lot, int64_t wallet);

  // Recovery only (no concurrent debits): sets one lot's monotonic counters.
  // Errors: unknown lot, refunded > debited, or more remaining than credits.
  // `expired` (≤ debited) is the part of `debited` that expiry took.
  [[nodiscard]] std::expected<void, std::string> restore_counters(uint32_t index, int64_t debited,
                                                                  int64_t refunded, int64_t expired = 0);

 private:
  std::expected<RechargeResult, std::string> plan_locked(int64_t amount) const;
  bool expire_locked(Nanos now);
  // Takes what lot `index` has left (reserving it first); false when calls
  // in flight hold the spendable credits it needs.
  bool drain_lot(uint32_t index);
  // Lowers next_expiry_ to `instant` if it is later (CAS loop, seq_cst).
  void lower_next_expiry(Nanos instant);

  struct alignas(64) Lot {
    int64_t amount = 0;  // immutable once published
    int64_t unit_price = 0;
    int64_t credits = 0;
    Nanos created = 0;
    Nanos expires = 0;                // 0: never
    std::atomic<int64_t> debited{0};  // monotonic
    std::atomic<int64_t> refunded{0};  // monotonic, <= debited
    std::atomic<int64_t> expired{0};   // monotonic, <= debited; written under control_mutex_
    std::atomic<int64_t> forfeited{0};  // monotonic; refunds that arrived after `expires`
  };

  Lot& at(uint32_t index) const;
  // Takes `cost` reserved credits oldest lot first; with `record`, notes each
  // lot taken from there; with `split`, adds it there by price. Cannot fail.
  void take(int64_t cost, DebitResult* record, PriceSplit* split = nullptr);
  // Recovery: spendable = Σ remaining (no reservations can be in flight).
  void recount_spendable();
  LotState read_lot(uint32_t index) const;
  // Moves the scan hint down to `index` (and invalidates in-flight advances).
  void lower_hint(uint32_t index);

  std::array<std::atomic<Lot*>, kLotChunks> chunks_{};
  std::atomic<uint32_t> count_{0};
  std::atomic<int64_t> wallet_{0};
  // See the header comment; read twice by every reserve(), written rarely.
  std::atomic<Nanos> next_expiry_{kNoExpiry};
  // Scan start for debits: low 32 bits a lot index such that every lot before
  // it was seen empty; high 32 bits a version bumped by every refund so a
  // debit that saw a lot empty cannot advance past a lot refunded meanwhile.
  alignas(64) std::atomic<uint64_t> hint_{0};
  // Credits neither taken nor reserved (see the header comment).
  alignas(64) std::atomic<int64_t> spendable_{0};

  mutable std::mutex control_mutex_;  // plan_recharge, add_lot, set_ladder, snapshot
  PriceLadder ladder_;
  int64_t recharged_total_ = 0;  // Σ amounts: an upper bound of balance()
  int64_t bought_total_ = 0;     // Σ credits × unit_price; + wallet never exceeds recharged_total_
};

}  // namespace tollgate
