#include "engine/cell_throttle.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "engine/limits/limit_result.h"

namespace tollgate {

using limits_detail::kLongAgo;
using limits_detail::kNanosMax;
using limits_detail::load_tat;
using limits_detail::saturating_sub;
using limits_detail::store_tat;

namespace {

// Applies one call to an entry's TAT word; nullopt when the word is sealed
// (the sweeper is unlinking the entry). Thread-safe (CAS loop).
std::optional<CellResult> charge(std::atomic<uint64_t>& word, const CellParams& params, int64_t quantity,
                                 Nanos now) {
  uint64_t raw = word.load(std::memory_order_acquire);
  for (;;) {
    if (raw == CellThrottle::kSealed) return std::nullopt;
    Nanos new_tat = 0;
    bool write = false;
    CellResult r = params.evaluate(load_tat(raw), quantity, now, &new_tat, &write);
    if (!write) return r;
    if (word.compare_exchange_weak(raw, store_tat(new_tat), std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      return r;
    }
  }
}

}  // namespace

std::expected<CellParams, CellError> CellParams::make(int64_t max_burst, int64_t count, int64_t period_s) {
  // redis-cell reports a zero rate before anything else; it accepts negative
  // values and computes nonsense from them, which tollgate refuses instead.
  if (count == 0 || period_s == 0) return std::unexpected(CellError::kZeroRate);
  if (count < 0) return std::unexpected(CellError::kNegativeCount);
  if (period_s < 0) return std::unexpected(CellError::kNegativePeriod);
  if (period_s > kNanosMax / kNanosPerSecond) return std::unexpected(CellError::kPeriodTooLarge);
  CellParams p;
  // redis-cell truncates period/count to whole nanoseconds, as here; a rate
  // above one per nanosecond truncates to 0, which it reports as a zero rate.
  p.interval = period_s * kNanosPerSecond / count;
  if (p.interval == 0) return std::unexpected(CellError::kZeroRate);
  if (max_burst < 0) return std::unexpected(CellError::kNegativeMaxBurst);
  if (max_burst == std::numeric_limits<int64_t>::max() ||
      __builtin_mul_overflow(max_burst + 1, p.interval, &p.window) || p.window > kCellMaxWindow) {
    return std::unexpected(CellError::kWindowTooLarge);
  }
  p.limit = max_burst + 1;
  return p;
}

// redis-cell's GCRA step: new_tat = max(tat, now) + quantity × T is admitted
// iff new_tat − window ≤ now. A stored TAT in the past reads as now, as a
// redis-cell key has expired by then. Durations stay in exact nanoseconds.
CellResult CellParams::evaluate(Nanos tat, int64_t quantity, Nanos now, Nanos* new_tat, bool* write) const {
  CellResult r;
  r.limit = limit;
  *write = false;
  Nanos base = std::max(tat, now);
  Nanos candidate = 0;
  // quantity ≤ limit keeps quantity × T ≤ window, so only the add can overflow.
  bool representable = quantity <= limit && !__builtin_add_overflow(base, quantity * interval, &candidate);
  Nanos allow_at = representable ? saturating_sub(candidate, window) : kNanosMax;
  if (allow_at <= now) {
    r.reset_after = saturating_sub(candidate, now);
    *new_tat = candidate;
    *write = quantity > 0;  // quantity 0 only looks (base ≡ tat for every later call)
  } else {
    r.limited = true;
    r.reset_after = saturating_sub(base, now);
    // More than the whole bucket can never pass: waiting does not help.
    if (representable) r.retry_after = allow_at - now;
  }
  Nanos next = saturating_sub(window, r.reset_after);
  r.remaining = next > 0 ? next / interval : 0;
  return r;
}

CellThrottle::CellThrottle(Reclaimer& reclaimer, size_t max_keys, Nanos idle_timeout)
    : table_(reclaimer, CounterTableOptions{.shards = 64, .max_dynamic_keys = max_keys,
                                            .initial_slots_per_shard = 64}),
      idle_timeout_(std::max<Nanos>(0, idle_timeout)) {}

std::expected<CellResult, CellError> CellThrottle::throttle(std::string_view key, int64_t max_burst,
                                                            int64_t count, int64_t period_s,
                                                            int64_t quantity, Nanos now) {
  auto params = CellParams::make(max_burst, count, period_s);
  if (!params) return std::unexpected(params.error());
  if (quantity < 0) return std::unexpected(CellError::kNegativeQuantity);
  uint64_t hash = CounterTable::hash_key(key);
  Entry* entry = table_.find(key, hash);
  for (;;) {
    if (entry == nullptr) {
      // A missing key is a full bucket. Like redis-cell, store nothing for a
      // call that is refused or only looks.
      Nanos new_tat = 0;
      bool write = false;
      CellResult fresh = params->evaluate(kLongAgo, quantity, now, &new_tat, &write);
      if (!write) return fresh;
      auto [inserted, how] = table_.insert(key, hash, nullptr, 1, /*dynamic=*/true, now, [](Entry* e) {
        e->words()[0].store(store_tat(kLongAgo), std::memory_order_relaxed);
      });
      if (inserted == nullptr) return std::unexpected(CellError::kKeySpaceFull);
      entry = inserted;
    }
    if (auto r = charge(entry->words()[0], *params, quantity, now)) return *r;
    // Sealed: the sweeper holds the shard lock until the entry is unlinked,
    // so the insert above waits for that and then finds or makes a live one.
    entry = nullptr;
  }
}

size_t CellThrottle::sweep(Nanos now, size_t budget) {
  Nanos cutoff = saturating_sub(now, idle_timeout_);
  return table_.sweep(budget, [cutoff](Entry* e) {
    std::atomic<uint64_t>& word = e->words()[0];
    uint64_t raw = word.load(std::memory_order_acquire);
    for (;;) {
      if (raw == kSealed) return true;
      if (load_tat(raw) >= cutoff) return false;
      if (word.compare_exchange_weak(raw, kSealed, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    }
  });
}

}  // namespace tollgate
