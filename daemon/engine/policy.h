// A compiled set of limits for one contract key or one key class: the
// immutable rules an Entry's state words are interpreted with.
// Thread-safety: immutable after construction except the relaxed metric
// counters, which any thread may bump.
#pragma once

#include <atomic>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/contract.h"
#include "engine/limits/limiter.h"
#include "engine/subjects/distinct_set.h"
#include "engine/subjects/hyperloglog.h"
#include "tollgate/decision.h"
#include "tollgate/limit_spec.h"

namespace tollgate {

struct CompiledLimit {
  LimitSpec spec;
  Limiter limiter;
  Code code = Code::kRate;  // the denial code this limit produces
  int word_offset = 0;      // first state word in the entry
  mutable std::atomic<uint64_t> shadow_denials{0};

  CompiledLimit(LimitSpec s, Limiter l, Code c, int offset)
      : spec(std::move(s)), limiter(std::move(l)), code(c), word_offset(offset) {}
};

// A contract's distinct-subject state: one exact capped set per
// distinct_subjects limit, and a per-period HyperLogLog estimate. Each engine
// owns its ContractSubjects; the sets and the HLL are shared with the engine
// a reload builds (shared ownership, so building the new engine never has to
// take anything out of the running one: a rejected reload just drops its
// references). The maps are immutable once the engine is built. Thread-safe
// (the sets and the HLL are lock-free).
struct ContractSubjects {
  std::map<std::string, std::shared_ptr<DistinctSubjects>, std::less<>> sets;  // by limit name
  std::shared_ptr<PeriodHll> hll;
  std::atomic<uint64_t> shadow_denials{0};
};

struct DistinctLimit {
  std::string name;
  bool shadow = false;
  DistinctSubjects* set = nullptr;
  mutable std::atomic<uint64_t> shadow_denials{0};
};

struct Policy {
  std::string name;        // contract key, or key-class pattern ("ip:*")
  bool dynamic = false;    // key class: entries created on first use, evicted when idle
  std::string prefix;      // key class: literal prefix matched (pattern without '*')
  bool exact = false;      // key class without '*': matches only `prefix`
  Nanos idle_timeout = 0;  // key class: evict after this long idle and at rest
  // Enforced limits first (in config order), then shadow limits.
  std::vector<std::unique_ptr<CompiledLimit>> limits;
  size_t enforced_count = 0;
  int word_count = 0;
  // Contracts only: scope, status, expiry, pricing rules, and the runtime
  // state they act on (owned by the RuntimeState, outlives this policy).
  std::unique_ptr<ContractRules> rules;
  ContractState* state = nullptr;
  // Contracts only: per-SUBJECT counters (a dynamic policy, entries keyed
  // "<contract>\x1f<subject>") and distinct-subject caps.
  std::unique_ptr<Policy> per_subject;
  std::vector<std::unique_ptr<DistinctLimit>> distinct;
  ContractSubjects* subjects = nullptr;
  // Contracts only, the monitors' view of the decision path. Calls that
  // passed the scope gates, per configured channel (rules->channels[i]):
  // relaxed increments by the workers, read by the control plane's
  // monitors (a reload starts fresh counters; the monitors notice the new
  // policy and take its counters from zero). And the restriction word
  // (engine/monitor_action.h): derived from the ContractState's actions by
  // Engine::sync_restrictions, read with one relaxed load per call.
  std::unique_ptr<std::atomic<uint64_t>[]> channel_calls;
  mutable std::atomic<uint64_t> restricted{0};
  // Contracts only, monitor actions beyond the word (engine/monitor_throttle.h):
  // the throttle slots, read when the word has kThrottledBit (allocated at
  // the first throttle and kept for the policy's life: see MonitorThrottles),
  // and the shadow limits a monitor enforces (bit i: limits[i]), read only
  // when such a limit would deny. Written under monitor_mutex.
  mutable std::atomic<MonitorThrottles*> throttles{nullptr};
  mutable std::unique_ptr<MonitorThrottles> throttles_owned;  // under monitor_mutex
  mutable std::atomic<uint32_t> promoted{0};
  mutable std::mutex monitor_mutex;
  // Contracts only, scheduled changes (engine/contract_schedule.h): the
  // terms from `next_at` on, precompiled over the same entry words; a
  // successor (`scheduled`) carries its change's instant and description.
  // Immutable once the engine is published.
  Nanos next_at = INT64_MAX;
  std::unique_ptr<Policy> next;
  bool scheduled = false;
  Nanos effective_from = INT64_MIN;
  std::string change_note;

  // The terms in force at `now`: this policy, or the last successor whose
  // instant is <= now. One compare when nothing is scheduled. Thread-safe.
  const Policy& terms_at(Nanos now) const {
    const Policy* p = this;
    while (now >= p->next_at) p = p->next.get();
    return *p;
  }

  bool matches(std::string_view key) const {
    return exact ? key == prefix : key.starts_with(prefix);
  }
};

// Denial code for a counter limit type.
constexpr Code code_for(LimitType t) {
  switch (t) {
    case LimitType::kTokenBucket: return Code::kRate;
    case LimitType::kSlidingWindow: return Code::kWindow;
    case LimitType::kQuota: return Code::kQuota;
    case LimitType::kConcurrency: return Code::kConcurrency;
    case LimitType::kDistinctSubjects: return Code::kSubjects;
  }
  return Code::kRate;
}

}  // namespace tollgate
