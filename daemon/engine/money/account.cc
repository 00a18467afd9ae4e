#include "engine/money/account.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace tollgate {
namespace {

constexpr uint64_t kFirstChunkLots = 8;
constexpr uint64_t kHintIndexMask = 0xffff'ffffu;

// Chunk k holds kFirstChunkLots << k lots, starting at lot kFirstChunkLots * (2^k - 1).
int chunk_of(uint32_t index) {
  return std::bit_width(uint64_t{index} + kFirstChunkLots) - std::bit_width(kFirstChunkLots);
}
uint64_t chunk_offset(uint32_t index, int chunk) {
  return uint64_t{index} + kFirstChunkLots - (kFirstChunkLots << chunk);
}

uint64_t make_hint(uint64_t version, uint32_t index) { return (version << 32) | index; }

// What a lot adds to `spendable_`: its remaining credits, except those its
// monotonic `debited` counter could not take any more (INT64_MAX − debited;
// only a lot refunded and re-debited ~2^63 credits gets there).
int64_t spendable_of(const LotState& lot) {
  return std::min(lot.remaining(), std::numeric_limits<int64_t>::max() - lot.debited);
}

// How much a refund of `credits` adds to a lot's spendable_of(), given its
// `refunded` before. Debits do not change it: they lower remaining and the
// room left in `debited` alike, so cap − remaining = INT64_MAX − credits −
// refunded depends on `refunded` only.
int64_t spendable_gain(int64_t lot_credits, int64_t refunded_before, int64_t credits) {
  const __int128 gap = __int128{std::numeric_limits<int64_t>::max()} - lot_credits - refunded_before;
  const __int128 gain = __int128{credits} + std::min<__int128>(0, gap - credits) - std::min<__int128>(0, gap);
  return static_cast<int64_t>(gain);
}

}  // namespace

void DebitResult::spill(DebitSpan span) {
  if (span_count == kInlineDebitSpans)
    spilled = std::make_unique<std::vector<DebitSpan>>(spans.begin(), spans.end());
  spilled->push_back(span);
  ++span_count;
}

Account::Account(PriceLadder ladder) : ladder_(std::move(ladder)) {}

Account::~Account() {
  for (auto& chunk : chunks_) delete[] chunk.load(std::memory_order_relaxed);
}

Account::Lot& Account::at(uint32_t index) const {
  const int chunk = chunk_of(index);
  return chunks_[chunk].load(std::memory_order_acquire)[chunk_offset(index, chunk)];
}

// The lot a recharge of `amount` would add now, and the wallet and balance
// after it (caller holds control_mutex_).
std::expected<RechargeResult, std::string> Account::plan_locked(int64_t amount) const {
  if (amount <= 0) return std::unexpected("recharge amount must be positive");
  int64_t recharged_total = 0;
  if (__builtin_add_overflow(recharged_total_, amount, &recharged_total))
    return std::unexpected("recharge would overflow the balance");
  const uint32_t index = count_.load(std::memory_order_relaxed);
  if (index >= kMaxLots) return std::unexpected("too many lots");
  const int64_t wallet = wallet_.load(std::memory_order_relaxed);
  // Cannot overflow: wallet <= recharged_total_, so amount + wallet <= recharged_total.
  const int64_t money = amount + wallet;
  const int64_t unit_price = ladder_.unit_price_for(amount);
  const int64_t credits = money / unit_price;
  // Balance after = balance now - old wallet + the new lot's worth + new wallet.
  return RechargeResult{.lot = index,
                        .amount = amount,
                        .credits = credits,
                        .unit_price = unit_price,
                        .wallet = money % unit_price,
                        .balance = balance() - wallet + credits * unit_price + money % unit_price};
}

std::expected<RechargeResult, std::string> Account::plan_recharge(int64_t amount, Nanos) const {
  std::lock_guard lock(control_mutex_);
  return plan_locked(amount);
}

std::expected<void, std::string> Account::add_lot(const LotState& state, int64_t wallet) {
  std::lock_guard lock(control_mutex_);
  const uint32_t index = count_.load(std::memory_order_relaxed);
  if (state.index != index)
    return std::unexpected("lot " + std::to_string(state.index) + " restored where lot " + std::to_string(index) +
                           " comes next");
  if (state.amount < 0 || state.unit_price <= 0 || state.credits < 0 || wallet < 0 || state.debited < 0 ||
      state.refunded < 0 || state.refunded > state.debited || state.debited - state.refunded > state.credits ||
      state.expires < 0 || state.expired < 0 || state.expired > state.debited || state.forfeited < 0)
    return std::unexpected("lot " + std::to_string(index) + " has invalid fields");
  int64_t recharged_total = 0;
  if (__builtin_add_overflow(recharged_total_, state.amount, &recharged_total))
    return std::unexpected("restored lots would overflow the balance");
  if (index >= kMaxLots) return std::unexpected("too many lots");
  // Conservation: a recharge buys credits = (amount + wallet) / unit_price,
  // so Σ credits × unit_price + wallet never exceeds Σ amounts. A restored
  // lot that breaks it was never produced by a recharge (and could overflow
  // balance()).
  int64_t worth = 0, bought_total = 0, held = 0;
  if (__builtin_mul_overflow(state.credits, state.unit_price, &worth) ||
      __builtin_add_overflow(bought_total_, worth, &bought_total) ||
      __builtin_add_overflow(bought_total, wallet, &held) || held > recharged_total)
    return std::unexpected("lot " + std::to_string(index) + " holds more credits and wallet than was ever recharged");
  const int chunk = chunk_of(index);
  Lot* lots = chunks_[chunk].load(std::memory_order_relaxed);
  if (lots == nullptr) {
    lots = new Lot[kFirstChunkLots << chunk];
    chunks_[chunk].store(lots, std::memory_order_release);
  }
  Lot& lot = lots[chunk_offset(index, chunk)];
  lot.amount = state.amount;
  lot.unit_price = state.unit_price;
  lot.credits = state.credits;
  lot.created = state.created;
  lot.expires = state.expires;
  lot.debited.store(state.debited, std::memory_order_relaxed);
  lot.refunded.store(state.refunded, std::memory_order_relaxed);
  lot.expired.store(state.expired, std::memory_order_relaxed);
  lot.forfeited.store(state.forfeited, std::memory_order_relaxed);
  // Before the lot is published: a call that can see its credits sees its instant.
  if (state.expires != 0) lower_next_expiry(state.expires);
  wallet_.store(wallet, std::memory_order_release);
  count_.store(index + 1, std::memory_order_release);
  spendable_.fetch_add(spendable_of(state), std::memory_order_acq_rel);
  recharged_total_ = recharged_total;
  bought_total_ = bought_total;
  return {};
}

std::expected<void, std::string> Account::restore_counters(uint32_t index, int64_t debited, int64_t refunded,
                                                           int64_t expired) {
  std::lock_guard lock(control_mutex_);
  if (index >= count_.load(std::memory_order_relaxed))
    return std::unexpected("no lot " + std::to_string(index));
  Lot& lot = at(index);
  if (debited < 0 || refunded < 0 || refunded > debited || debited - refunded > lot.credits || expired < 0 ||
      expired > debited)
    return std::unexpected("lot " + std::to_string(index) + ": debited " + std::to_string(debited) + ", refunded " +
                           std::to_string(refunded) + ", expired " + std::to_string(expired) + " do not fit " +
                           std::to_string(lot.credits) + " credits");
  lot.debited.store(debited, std::memory_order_release);
  lot.refunded.store(refunded, std::memory_order_release);
  lot.expired.store(expired, std::memory_order_release);
  lot.forfeited.store(0, std::memory_order_release);  // recovery folds forfeits into refunded and expired
  // Lots before the hint were seen empty; a restored lot may not be.
  lower_hint(0);
  recount_spendable();
  return {};
}

void Account::set_ladder(PriceLadder ladder) {
  std::lock_guard lock(control_mutex_);
  ladder_ = std::move(ladder);
}

PriceLadder Account::ladder() const {
  std::lock_guard lock(control_mutex_);
  return ladder_;
}

void Account::recount_spendable() {
  int64_t total = 0;
  const uint32_t count = count_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < count; ++i) total += spendable_of(read_lot(i));
  spendable_.store(total, std::memory_order_release);
}

// The second load of next_expiry_ pairs with refund()'s seq_cst lowering:
// see the header's race reasoning.
bool Account::reserve(int64_t cost, Nanos now) {
  if (cost <= 0) return cost == 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (now >= next_expiry_.load(std::memory_order_acquire)) [[unlikely]] {
      if (!expire_due(now)) return false;  // calls in flight hold what is left
    }
    int64_t spendable = spendable_.load(std::memory_order_acquire);
    do {
      if (spendable < cost) return false;
    } while (!spendable_.compare_exchange_weak(spendable, spendable - cost, std::memory_order_seq_cst,
                                               std::memory_order_acquire));
    if (now < next_expiry_.load(std::memory_order_seq_cst)) [[likely]] return true;
    release(cost);
  }
  return false;  // a lot kept coming due under us: deny rather than spin
}

void Account::lower_next_expiry(Nanos instant) {
  Nanos current = next_expiry_.load(std::memory_order_seq_cst);
  while (instant < current &&
         !next_expiry_.compare_exchange_weak(current, instant, std::memory_order_seq_cst, std::memory_order_seq_cst)) {
  }
}

bool Account::expire_due(Nanos now) {
  std::lock_guard lock(control_mutex_);
  return expire_locked(now);
}

// Lots before the scan hint are empty, but a refund may lower the hint and
// next_expiry_ together; the CAS at the end then fails and the scan runs again.
bool Account::expire_locked(Nanos now) {
  for (;;) {
    Nanos due = next_expiry_.load(std::memory_order_seq_cst);
    if (now < due) return true;
    const uint32_t start = static_cast<uint32_t>(hint_.load(std::memory_order_acquire) & kHintIndexMask);
    const uint32_t count = count_.load(std::memory_order_acquire);
    Nanos next = kNoExpiry;
    bool complete = true;
    for (uint32_t i = start; i < count; ++i) {
      const Nanos expires = at(i).expires;
      if (expires == 0) continue;
      if (expires > now) next = std::min(next, expires);
      else if (!drain_lot(i)) complete = false;
    }
    if (!complete) return false;  // next_expiry_ stays ≤ now: the next caller goes on
    if (next_expiry_.compare_exchange_strong(due, next, std::memory_order_seq_cst, std::memory_order_seq_cst))
      return true;
  }
}

// Like a debit of everything the lot has left, but only from this lot: the
// credits are reserved from `spendable` first (so the header invariant holds
// for calls in flight), then taken by the same CAS on `debited` that take()
// uses; what a racing take() got first is given back to `spendable`.
bool Account::drain_lot(uint32_t index) {
  Lot& lot = at(index);
  for (;;) {
    int64_t debited = lot.debited.load(std::memory_order_acquire);
    const int64_t left = std::min(lot.credits - debited + lot.refunded.load(std::memory_order_acquire),
                                  std::numeric_limits<int64_t>::max() - debited);
    if (left <= 0) return true;
    int64_t spendable = spendable_.load(std::memory_order_acquire);
    int64_t reserved = 0;
    do {
      reserved = std::min(spendable, left);
      if (reserved <= 0) return false;
    } while (!spendable_.compare_exchange_weak(spendable, spendable - reserved, std::memory_order_seq_cst,
                                               std::memory_order_acquire));
    int64_t taken = 0;
    for (;;) {
      const int64_t available = lot.credits - debited + lot.refunded.load(std::memory_order_acquire);
      taken = std::min({available, reserved, std::numeric_limits<int64_t>::max() - debited});
      if (taken <= 0) {
        taken = 0;
        break;
      }
      if (lot.debited.compare_exchange_weak(debited, debited + taken, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
        break;
    }
    // Only expire_locked writes `expired` (under the control mutex), and
    // snapshot() reads it under the same mutex: never half an expiry.
    if (taken > 0) lot.expired.fetch_add(taken, std::memory_order_acq_rel);
    if (reserved > taken) release(reserved - taken);
  }
}

void Account::release(int64_t cost) {
  if (cost > 0) spendable_.fetch_add(cost, std::memory_order_acq_rel);
}

void Account::take_reserved(int64_t cost, PriceSplit* split) { take(cost, nullptr, split); }

// Scans from the hint, taking what each lot has until `cost` is covered; a
// CAS on `debited` that re-checks availability makes each take safe. The
// credits are reserved, so they are in the lots (header invariant): a pass
// that ends short only means a refund put credits back behind the scan (it
// lowered the hint) or a recharge added a lot; the next pass finds them.
void Account::take(int64_t cost, DebitResult* record, PriceSplit* split) {
  int64_t need = cost;
  while (need > 0) {
    uint64_t hint = hint_.load(std::memory_order_acquire);
    const uint32_t count = count_.load(std::memory_order_acquire);
    const uint32_t start = static_cast<uint32_t>(hint & kHintIndexMask);
    uint32_t first_live = count;  // first lot seen with credits
    for (uint32_t i = start; i < count && need > 0; ++i) {
      Lot& lot = at(i);
      int64_t debited = lot.debited.load(std::memory_order_acquire);
      for (;;) {
        // refunded only grows, so a stale read can only under-state what is left.
        const int64_t available = lot.credits - debited + lot.refunded.load(std::memory_order_acquire);
        if (available <= 0) break;
        first_live = std::min(first_live, i);
        // The lifetime counter of a lot refunded and re-debited ~2^63
        // credits must not wrap: what it cannot take is not spendable either.
        const int64_t take = std::min({available, need, std::numeric_limits<int64_t>::max() - debited});
        if (take <= 0) break;
        const int64_t next = debited + take;
        if (lot.debited.compare_exchange_weak(debited, next, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
          if (record != nullptr) record->record(DebitSpan{i, take});
          if (split != nullptr) split->add(lot.unit_price, take);
          need -= take;
          break;
        }
      }
    }
    if (first_live > start) {
      // Every lot in [start, first_live) was seen empty. Fails harmlessly if a
      // refund (version bump) or another debit moved the hint meanwhile.
      hint_.compare_exchange_strong(hint, make_hint(hint >> 32, first_live), std::memory_order_acq_rel,
                                    std::memory_order_relaxed);
    }
  }
}

DebitResult Account::take_reserved_recorded(int64_t cost, PriceSplit* split) {
  DebitResult result;
  if (cost < 0) {
    result.status = DebitStatus::kInvalidCost;
    return result;
  }
  take(cost, &result, split);
  result.status = DebitStatus::kOk;
  return result;
}

DebitResult Account::try_debit(int64_t cost, Nanos now) {
  DebitResult result;
  if (cost < 0) {
    result.status = DebitStatus::kInvalidCost;
    return result;
  }
  if (cost == 0) {
    result.status = DebitStatus::kOk;
    return result;
  }
  if (!reserve(cost, now)) {
    result.status = DebitStatus::kInsufficient;
    return result;
  }
  take(cost, &result);
  result.status = DebitStatus::kOk;
  return result;
}

Account::DebitPreview Account::preview_debit(int64_t cost, Nanos now) const {
  DebitPreview preview;
  if (cost < 0) return preview;
  const uint64_t hint = hint_.load(std::memory_order_acquire);
  const uint32_t count = count_.load(std::memory_order_acquire);
  int64_t total = wallet();
  int64_t need = cost;
  for (uint32_t i = static_cast<uint32_t>(hint & kHintIndexMask); i < count; ++i) {
    const LotState lot = read_lot(i);
    // A lot due by now is spent by nobody (reserve() expires it first).
    if (lot.expires != 0 && lot.expires <= now) continue;
    const int64_t remaining = std::max<int64_t>(0, lot.remaining());
    const int64_t take = std::min(remaining, need);
    if (take > 0) ++preview.lots;
    need -= take;
    total += (remaining - take) * lot.unit_price;  // within balance(): cannot overflow
  }
  preview.covered = need == 0;
  preview.balance = total;
  return preview;
}

RefundStatus Account::refund(std::span<const DebitSpan> spans, Nanos now) {
  const uint32_t count = count_.load(std::memory_order_acquire);
  RefundStatus status = RefundStatus::kOk;
  uint32_t lowest = count;
  int64_t returned = 0;
  for (const DebitSpan& span : spans) {
    if (span.lot >= count || span.credits < 0) {
      status = RefundStatus::kInvalidSpan;
      continue;
    }
    if (span.credits == 0) continue;
    Lot& lot = at(span.lot);
    if (lot.expires != 0 && lot.expires <= now) {
      // The lot expired while the hold was open: its credits would expire
      // the moment they came back, so they never do (header).
      int64_t forfeited = lot.forfeited.load(std::memory_order_acquire);
      for (;;) {
        int64_t next = 0;
        const int64_t debited = lot.debited.load(std::memory_order_acquire);
        if (__builtin_add_overflow(forfeited, span.credits, &next) ||
            next > debited - lot.refunded.load(std::memory_order_acquire) - lot.expired.load(std::memory_order_acquire)) {
          status = RefundStatus::kInvalidSpan;
          break;
        }
        if (lot.forfeited.compare_exchange_weak(forfeited, next, std::memory_order_acq_rel,
                                                std::memory_order_acquire))
          break;
      }
      continue;
    }
    // A lot already expired by a caller whose clock was ahead of ours: make
    // the credits coming back due again before they become spendable.
    if (lot.expires != 0 && lot.expires < next_expiry_.load(std::memory_order_seq_cst)) lower_next_expiry(lot.expires);
    int64_t refunded = lot.refunded.load(std::memory_order_acquire);
    for (;;) {
      // debited only grows and already includes the debit being refunded.
      const int64_t debited = lot.debited.load(std::memory_order_acquire);
      int64_t next = 0;
      if (__builtin_add_overflow(refunded, span.credits, &next) || next > debited) {
        status = RefundStatus::kInvalidSpan;
        break;
      }
      if (lot.refunded.compare_exchange_weak(refunded, next, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
        returned += spendable_gain(lot.credits, refunded, span.credits);
        lowest = std::min(lowest, span.lot);
        break;
      }
    }
  }
  if (lowest < count) lower_hint(lowest);
  // Spendable only once the lots hold the credits and the hint lets a scan
  // find them (take()'s invariant).
  if (returned > 0) spendable_.fetch_add(returned, std::memory_order_seq_cst);
  return status;
}

void Account::lower_hint(uint32_t index) {
  uint64_t hint = hint_.load(std::memory_order_acquire);
  for (;;) {
    const uint32_t current = static_cast<uint32_t>(hint & kHintIndexMask);
    // The version wraps after 2^32 refunds; an advance would have to stay
    // in flight across all of them to be fooled.
    const uint64_t next = make_hint((hint >> 32) + 1, std::min(current, index));
    if (hint_.compare_exchange_weak(hint, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire))
      return;
  }
}

// Lots before the hint are empty (refunds lower the hint), so sums start there.
int64_t Account::balance() const {
  const uint64_t hint = hint_.load(std::memory_order_acquire);
  const uint32_t count = count_.load(std::memory_order_acquire);
  int64_t total = wallet();
  for (uint32_t i = static_cast<uint32_t>(hint & kHintIndexMask); i < count; ++i) {
    const LotState lot = read_lot(i);
    // Cannot overflow: remaining <= credits, and Σ credits × price + wallet
    // <= lifetime top-ups <= INT64_MAX.
    total += lot.remaining() * lot.unit_price;
  }
  return total;
}

int64_t Account::credits() const {
  const uint64_t hint = hint_.load(std::memory_order_acquire);
  const uint32_t count = count_.load(std::memory_order_acquire);
  int64_t total = 0;
  for (uint32_t i = static_cast<uint32_t>(hint & kHintIndexMask); i < count; ++i)
    total += read_lot(i).remaining();
  return total;
}

// Reads refunded, debited, refunded until the two refunded reads agree: as
// refunded only grows, the pair was then the lot's state at one instant.
LotState Account::read_lot(uint32_t index) const {
  const Lot& lot = at(index);
  LotState state{.index = index,
                 .amount = lot.amount,
                 .unit_price = lot.unit_price,
                 .credits = lot.credits,
                 .created = lot.created,
                 .expires = lot.expires};
  int64_t refunded = lot.refunded.load(std::memory_order_seq_cst);
  for (int attempt = 0;; ++attempt) {
    state.debited = lot.debited.load(std::memory_order_seq_cst);
    const int64_t again = lot.refunded.load(std::memory_order_seq_cst);
    if (again == refunded || attempt == 64) {
      // After 64 disagreements use the later refunded; remaining may then be
      // over-stated by a concurrent refund but is never negative.
      state.refunded = again;
      state.expired = lot.expired.load(std::memory_order_acquire);
      state.forfeited = lot.forfeited.load(std::memory_order_acquire);
      return state;
    }
    refunded = again;
  }
}

std::optional<LotState> Account::lot(uint32_t index) const {
  if (index >= lot_count()) return std::nullopt;
  return read_lot(index);
}

AccountSnapshot Account::snapshot() const {
  std::lock_guard lock(control_mutex_);
  AccountSnapshot snapshot;
  const uint32_t count = count_.load(std::memory_order_acquire);
  snapshot.lots.reserve(count);
  snapshot.wallet = wallet();
  snapshot.balance = snapshot.wallet;
  for (uint32_t i = 0; i < count; ++i) {
    const LotState& lot = snapshot.lots.emplace_back(read_lot(i));
    snapshot.credits += lot.remaining();
    snapshot.balance += lot.remaining() * lot.unit_price;
  }
  return snapshot;
}

}  // namespace tollgate
