// Builders of LimitSpec values for engine tests. Header-only test helpers.
#pragma once

#include <string>
#include <utility>

#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate::testing {

inline LimitSpec bucket(std::string name, int64_t rate, Nanos per, int64_t burst, bool shadow = false) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = LimitType::kTokenBucket;
  s.rate = rate;
  s.per = per;
  s.burst = burst;
  s.shadow = shadow;
  return s;
}

inline LimitSpec quota(std::string name, int64_t limit, Period period = Period::kDay) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = LimitType::kQuota;
  s.limit = limit;
  s.period = period;
  return s;
}

inline LimitSpec window(std::string name, int64_t limit, Nanos w) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = LimitType::kSlidingWindow;
  s.limit = limit;
  s.window = w;
  return s;
}

}  // namespace tollgate::testing
