#include "engine/limits/token_bucket.h"

#include <algorithm>

namespace tollgate {

using limits_detail::kNanosMin;
using limits_detail::saturating_add;
using limits_detail::saturating_sub;

using limits_detail::load_tat;
using limits_detail::store_tat;

std::expected<TokenBucket, std::string> TokenBucket::make(const LimitSpec& spec) {
  return make(spec.rate, spec.per, spec.burst);
}

std::expected<TokenBucket, std::string> TokenBucket::make(int64_t rate, Nanos per, int64_t burst) {
  if (rate < 1) return std::unexpected("token_bucket: rate must be at least 1");
  if (per < 1) return std::unexpected("token_bucket: per must be at least 1ns");
  if (burst < 1) return std::unexpected("token_bucket: burst must be at least 1");
  if (rate > per) return std::unexpected("token_bucket: rate above 1 unit per nanosecond");
  Nanos interval = per / rate + (per % rate != 0 ? 1 : 0);
  Nanos tolerance;
  if (__builtin_mul_overflow(burst, interval, &tolerance) || tolerance > kMaxTolerance) {
    return std::unexpected("token_bucket: burst x (per/rate) is more than " +
                           std::to_string(kMaxTolerance / kNanosPerSecond) +
                           " s (about 162 years): now + burst x (per/rate) must stay within the 64-bit "
                           "nanosecond clock, which ends in 2262");
  }
  return TokenBucket(interval, tolerance, burst);
}

LimitResult TokenBucket::evaluate(Nanos tat, int64_t cost, Nanos now, Nanos max_delay,
                                  Nanos* new_tat) const {
  LimitResult r;
  Nanos base = std::max(tat, now);
  // How far the bucket is drained, in ns; saturates when time ran backwards
  // a very long way (then nothing is available either way).
  Nanos backlog = saturating_sub(base, now);
  r.remaining = backlog >= tolerance_ ? 0 : (tolerance_ - backlog) / interval_;
  r.reset_after = backlog;
  if (cost < 0 || cost > burst_) {
    r.retry_after = -1;
    return r;
  }
  Nanos increment = cost * interval_;   // ≤ tolerance_: cannot overflow
  Nanos slack = tolerance_ - increment;  // backlog allowed before this charge
  // How long until the call conforms: backlog − slack (both ≥ 0, no overflow).
  Nanos wait = backlog - slack;
  if (wait > max_delay) {
    r.retry_after = wait - max_delay;  // max_delay ≥ 0, wait > it: no overflow, ≥ 1
    return r;
  }
  Nanos after;
  if (__builtin_add_overflow(base, increment, &after)) {
    // The TAT would pass the end of Nanos; storing a saturated one would
    // understate the debt, so refuse instead.
    r.retry_after = -1;
    return r;
  }
  r.allowed = true;
  r.delay = std::max<Nanos>(0, wait);
  r.remaining = wait > 0 ? 0 : (slack - backlog) / interval_;
  r.reset_after = saturating_add(backlog, increment);
  r.recorded_at = saturating_add(now, r.delay);
  *new_tat = after;
  return r;
}

Nanos TokenBucket::effective_tat(Nanos tat, Nanos now) const {
  if (saturating_sub(tat, now) > saturating_add(tolerance_, kMaxPacing)) return saturating_add(now, tolerance_);
  return tat;
}

Nanos TokenBucket::fresh_tat(Nanos now) const {
  // Full, and still full if the clock later steps back by up to burst × T.
  return saturating_sub(now, tolerance_);
}

void TokenBucket::init(std::atomic<uint64_t>* w, Nanos now) const {
  w[0].store(store_tat(fresh_tat(now)), std::memory_order_relaxed);
}

LimitResult TokenBucket::try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
  return try_reserve(w, cost, now, 0);
}

LimitResult TokenBucket::try_reserve(std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                     Nanos max_delay) const {
  max_delay = std::clamp<Nanos>(max_delay, 0, kMaxPacing);
  uint64_t raw = w[0].load(std::memory_order_acquire);
  for (;;) {
    if (raw == kSealed) return LimitResult{.sealed = true};
    Nanos next = 0;
    const Nanos tat = effective_tat(load_tat(raw), now);
    LimitResult r = evaluate(tat, cost, now, max_delay, &next);
    if (!r.allowed) {
      // A clock step's TAT: keep the empty bucket it now counts as, so that it
      // refills from here (a racing charge wins; it wrote a sane TAT).
      if (tat != load_tat(raw)) w[0].compare_exchange_strong(raw, store_tat(tat), std::memory_order_acq_rel);
      return r;
    }
    uint64_t desired = store_tat(next);
    if (desired == raw) return r;  // cost 0 on a drained bucket: nothing to write
    if (w[0].compare_exchange_weak(raw, desired, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      return r;
    }
  }
}

LimitResult TokenBucket::peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
  return peek_reserve(w, cost, now, 0);
}

LimitResult TokenBucket::peek_reserve(const std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                      Nanos max_delay) const {
  uint64_t raw = w[0].load(std::memory_order_acquire);
  if (raw == kSealed) return LimitResult{.sealed = true};
  Nanos ignored = 0;
  return evaluate(effective_tat(load_tat(raw), now), cost, now, std::clamp<Nanos>(max_delay, 0, kMaxPacing), &ignored);
}

void TokenBucket::refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at,
                         Nanos now) const {
  if (cost <= 0) return;
  Nanos charge_ns = std::min(cost, burst_) * interval_;
  // The charge drains no later than charged_at + cost×T, however much was
  // queued ahead of it; what may still be in the bucket is at most this.
  Nanos undrained = saturating_sub(saturating_add(charged_at, charge_ns), now);
  Nanos give_back = std::clamp<Nanos>(undrained, 0, charge_ns);
  if (give_back == 0) return;
  uint64_t raw = w[0].load(std::memory_order_acquire);
  for (;;) {
    if (raw == kSealed) return;
    Nanos tat = effective_tat(load_tat(raw), now);
    if (tat <= now) return;  // already full
    uint64_t desired = store_tat(std::max(saturating_sub(tat, give_back), fresh_tat(now)));
    if (w[0].compare_exchange_weak(raw, desired, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      return;
    }
  }
}

bool TokenBucket::try_seal(std::atomic<uint64_t>* w, Nanos now) const {
  uint64_t raw = w[0].load(std::memory_order_acquire);
  for (;;) {
    if (raw == kSealed || effective_tat(load_tat(raw), now) > now) return false;
    if (w[0].compare_exchange_weak(raw, kSealed, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      return true;
    }
  }
}

void TokenBucket::reset(std::atomic<uint64_t>* w, Nanos now) const {
  uint64_t raw = w[0].load(std::memory_order_acquire);
  uint64_t fresh = store_tat(fresh_tat(now));
  while (raw != kSealed &&
         !w[0].compare_exchange_weak(raw, fresh, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
  }
}

}  // namespace tollgate
