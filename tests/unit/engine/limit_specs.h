// Engine test helpers: LimitSpec builders and a fixture that builds engines
// on a simulated clock. Header-only; not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/engine.h"

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

inline LimitSpec distinct_subjects(std::string name, int64_t limit, Period period = Period::kDay) {
  LimitSpec s = quota(std::move(name), limit, period);
  s.type = LimitType::kDistinctSubjects;
  return s;
}

// A contract with `limits` and `rules` (pricing, scope, …).
inline PolicySpec contract(std::string name, std::vector<LimitSpec> limits, ContractRules rules = {}) {
  PolicySpec p;
  p.name = std::move(name);
  p.limits = std::move(limits);
  p.rules = std::move(rules);
  return p;
}

// Contract rules with one flat price per credit.
inline ContractRules priced(int64_t unit_price) {
  ContractRules r;
  r.pricing = PriceLadder::flat(unit_price);
  return r;
}

inline LimitSpec window(std::string name, int64_t limit, Nanos w) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = LimitType::kSlidingWindow;
  s.limit = limit;
  s.window = w;
  return s;
}

inline constexpr Nanos kTestStart = 1'700'000'000 * kNanosPerSecond;

// Builds engines sharing one reclaimer and state store; time is `now_`.
class EngineFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> build(const EngineOptions& o, Engine* previous = nullptr) {
    auto e = Engine::create(o, reclaimer_, now_, state_, previous);
    EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().front());
    return e ? std::move(*e) : nullptr;
  }
  Decision check(Engine& e, std::string_view key, int64_t cost = 1) {
    CheckRequest r;
    r.key = key;
    r.cost = cost;
    return e.check(r, now_);
  }
  Decision peek(Engine& e, std::string_view key, int64_t cost = 1) {
    CheckRequest r;
    r.key = key;
    r.cost = cost;
    return e.peek(r, now_);
  }
  Reclaimer reclaimer_;
  RuntimeState state_;
  Nanos now_ = kTestStart;
};

}  // namespace tollgate::testing
