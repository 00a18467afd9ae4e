// Compiling a contract's or key class's limits (a PolicySpec, as the
// configuration gives them) into the Policy the engine decides with, and
// comparing two policies' state layouts, which tells a reload whether an
// entry's counters can be kept as they are.
// Pure functions of their arguments. Thread-safe.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/contract.h"
#include "engine/policy.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

// The limits of one contract or key class, before compilation.
struct PolicySpec {
  std::string name;  // contract key, or key-class pattern ("ip:*" or an exact key)
  std::vector<LimitSpec> limits;
  std::string timezone;  // empty: EngineOptions::timezone
  Nanos idle_timeout = 0;
  std::optional<ContractRules> rules;  // contracts: scope, status, expiry, pricing
  std::vector<LimitSpec> per_subject;  // contracts: counters per SUBJECT
};

// What a policy takes from the engine's options where its spec is silent.
struct PolicyDefaults {
  std::string_view timezone;  // for calendar limits without a zone of their own
  Nanos idle_timeout = 0;     // key classes without one of their own
  bool shadow_mode = false;   // every limit behaves as shadow
};

// Compiles one policy's counter limits (concurrency and distinct_subjects
// limits are the engine's, see ContractRules and ContractSubjects):
// enforced limits first, shadow limits after, each given its state words.
// Errors name the policy and limit; all are reported, not only the first.
std::expected<std::unique_ptr<Policy>, std::vector<std::string>> compile_policy(
    const PolicySpec& spec, bool dynamic, const PolicyDefaults& defaults);

// Whether two compiled limits keep their state the same way (same name, type
// and number of words): a reload may copy one's words into the other.
bool same_limit_state(const CompiledLimit& a, const CompiledLimit& b);

// Same limits in the same places: an entry's words mean the same under `a`
// and `b`, so a reload may point the entry at `b` in place.
bool same_layout(const Policy& a, const Policy& b);

}  // namespace tollgate
