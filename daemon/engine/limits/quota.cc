#include "engine/limits/quota.h"

#include <algorithm>

namespace tollgate {

namespace {

constexpr Nanos kNanosPerMinute = 60 * kNanosPerSecond;
constexpr uint64_t kQuotaCountMask = (uint64_t{1} << Quota::kCountBits) - 1;
constexpr uint64_t kIdMask = (uint64_t{1} << Quota::kIdBits) - 1;

uint64_t period_id(Nanos start) {
  return static_cast<uint64_t>(limits_detail::floor_div(start, kNanosPerMinute)) & kIdMask;
}

// Signed distance a − b in minutes, wrap-aware over 28 bits.
int64_t id_distance(uint64_t a, uint64_t b) {
  return static_cast<int64_t>(((a - b) & kIdMask) << (64 - Quota::kIdBits)) >>
         (64 - Quota::kIdBits);
}

uint64_t pack(uint64_t id, int64_t count) {
  return (id << Quota::kCountBits) | static_cast<uint64_t>(count);
}

}  // namespace

std::expected<Quota, std::string> Quota::make(const LimitSpec& spec,
                                              std::string_view default_zone) {
  return make(spec.limit, spec.period, spec.timezone.empty() ? default_zone : spec.timezone);
}

std::expected<Quota, std::string> Quota::make(int64_t limit, Period period,
                                              std::string_view zone) {
  if (limit < 1 || limit > kMaxLimit) {
    return std::unexpected("quota: limit must be between 1 and " + std::to_string(kMaxLimit));
  }
  auto calendar = Calendar::make(period, zone);
  if (!calendar) return std::unexpected("quota: " + calendar.error());
  return Quota(limit, std::move(*calendar));
}

Quota::Usage Quota::resolve(uint64_t raw, const PeriodBounds& current, Nanos now) const {
  uint64_t current_id = period_id(current.start);
  uint64_t stored_id = raw >> kCountBits;
  auto count = static_cast<int64_t>(raw & kQuotaCountMask);
  int64_t ahead = id_distance(stored_id, current_id);
  if (ahead < 0) return {current_id, 0, current, false, false};
  if (ahead == 0) return {current_id, count, current, false, false};
  // Another caller's clock is in a later period: keep counting there. Its
  // start lies within the minute `stored_id` names; ask about the minute's
  // last second (cold path, cache untouched).
  Nanos probe;
  if (__builtin_mul_overflow(limits_detail::floor_div(current.start, kNanosPerMinute) + ahead,
                             kNanosPerMinute, &probe)) {
    probe = limits_detail::kNanosMax;
  }
  probe = limits_detail::saturating_add(probe, 59 * kNanosPerSecond);
  const PeriodBounds later = calendar_.bounds(probe, false);
  if (limits_detail::saturating_sub(later.start, now) > kAheadLimit) return {current_id, count, current, false, true};
  return {stored_id, count, later, true, false};
}

LimitResult Quota::evaluate(const Usage& u, int64_t cost, Nanos now) const {
  LimitResult r;
  r.remaining = limit_ - u.count;
  r.reset_after = std::max<Nanos>(0, limits_detail::saturating_sub(u.period.end, now));
  if (cost < 0 || cost > limit_) {
    r.retry_after = -1;
  } else if (u.count + cost > limit_) {
    r.retry_after = std::max<Nanos>(1, r.reset_after);
  } else {
    r.allowed = true;
    r.remaining -= cost;
    r.recorded_at = u.later ? u.period.start : now;
  }
  return r;
}

void Quota::init(std::atomic<uint64_t>* w, Nanos now) const {
  w[0].store(pack(period_id(calendar_.bounds(now).start), 0), std::memory_order_relaxed);
}

LimitResult Quota::try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
  PeriodBounds current = calendar_.bounds(now);
  uint64_t raw = w[0].load(std::memory_order_acquire);
  for (;;) {
    if (raw == kSealed) return LimitResult{.sealed = true};
    Usage u = resolve(raw, current, now);
    LimitResult r = evaluate(u, cost, now);
    if (!r.allowed) {
      // A clock step's period: keep it as the current one (count kept), so
      // that it ends when the current period does. A racing charge wins.
      if (u.stepped) w[0].compare_exchange_strong(raw, pack(u.id, u.count), std::memory_order_acq_rel);
      return r;
    }
    uint64_t desired = pack(u.id, u.count + cost);
    if (desired == raw) return r;
    if (w[0].compare_exchange_weak(raw, desired, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      return r;
    }
  }
}

LimitResult Quota::peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
  uint64_t raw = w[0].load(std::memory_order_acquire);
  if (raw == kSealed) return LimitResult{.sealed = true};
  return evaluate(resolve(raw, calendar_.bounds(now), now), cost, now);
}

void Quota::refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at,
                   Nanos /*now*/) const {
  if (cost <= 0) return;
  uint64_t id = period_id(calendar_.bounds(charged_at, false).start);
  uint64_t raw = w[0].load(std::memory_order_acquire);
  for (;;) {
    if (raw == kSealed || raw >> kCountBits != id) return;  // that period is gone
    auto count = static_cast<int64_t>(raw & kQuotaCountMask);
    if (count == 0) return;
    if (w[0].compare_exchange_weak(raw, pack(id, count - std::min(count, cost)),
                                   std::memory_order_acq_rel, std::memory_order_acquire)) {
      return;
    }
  }
}

bool Quota::try_seal(std::atomic<uint64_t>* w, Nanos now) const {
  uint64_t current_id = period_id(calendar_.bounds(now).start);
  uint64_t raw = w[0].load(std::memory_order_acquire);
  for (;;) {
    if (raw == kSealed) return false;
    bool used = (raw & kQuotaCountMask) != 0 && id_distance(raw >> kCountBits, current_id) >= 0;
    if (used) return false;
    if (w[0].compare_exchange_weak(raw, kSealed, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      return true;
    }
  }
}

void Quota::reset(std::atomic<uint64_t>* w, Nanos now) const {
  uint64_t fresh = pack(period_id(calendar_.bounds(now).start), 0);
  uint64_t raw = w[0].load(std::memory_order_acquire);
  while (raw != kSealed &&
         !w[0].compare_exchange_weak(raw, fresh, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
  }
}

}  // namespace tollgate
