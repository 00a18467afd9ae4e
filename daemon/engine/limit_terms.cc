// Engine::limit_terms: a limit's configured terms in the shape the HTTP
// RateLimit-Policy field advertises them (quota units per window).
#include "engine/engine.h"

namespace tollgate {
namespace {

int64_t ceil_seconds(__int128 nanos) {
  if (nanos <= 0) return 0;
  const __int128 s = (nanos + kNanosPerSecond - 1) / kNanosPerSecond;
  return s > INT64_MAX ? INT64_MAX : static_cast<int64_t>(s);
}

// A calendar period's nominal length; a month varies, so it has none.
int64_t period_seconds(Period p) {
  switch (p) {
    case Period::kHour: return 3600;
    case Period::kDay: return 86400;
    case Period::kWeek: return 7 * 86400;
    case Period::kMonth: return 0;
  }
  return 0;
}

// A token bucket holds `burst` units and refills from empty in
// burst × per / rate: that is its quota and window (so RateLimit's r never
// exceeds q, and its t — the time to full replenishment — never exceeds w).
LimitTerms terms_of(const LimitSpec& s) {
  switch (s.type) {
    case LimitType::kTokenBucket:
      return {s.burst, s.rate > 0 ? ceil_seconds(static_cast<__int128>(s.burst) * s.per / s.rate) : 0};
    case LimitType::kSlidingWindow: return {s.limit, ceil_seconds(s.window)};
    case LimitType::kQuota:
    case LimitType::kDistinctSubjects: return {s.limit, period_seconds(s.period)};
    case LimitType::kConcurrency: return {s.limit, 0};
  }
  return {};
}

const LimitSpec* find_term_limit(const Policy* p, std::string_view name) {
  if (p == nullptr) return nullptr;
  for (const auto& l : p->limits)
    if (l->spec.name == name) return &l->spec;
  return nullptr;
}

}  // namespace

std::optional<LimitTerms> Engine::limit_terms(std::string_view key, std::string_view limit) const {
  if (limit.empty()) return std::nullopt;
  const Policy* p = contract(key);
  if (p == nullptr) p = match_class(key);
  if (p == nullptr) return std::nullopt;
  if (const LimitSpec* s = find_term_limit(p, limit)) return terms_of(*s);
  if (const LimitSpec* s = find_term_limit(p->per_subject.get(), limit)) return terms_of(*s);
  for (const auto& d : p->distinct)
    if (d->name == limit) return LimitTerms{d->set->limit(), period_seconds(d->set->calendar().period())};
  return std::nullopt;
}

}  // namespace tollgate
