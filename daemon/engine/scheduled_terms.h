// One pending scheduled change of a contract, as the engine is given it:
// the complete terms (counter limits and rules) in effect from `at` on.
// The configuration folds `changes:` into these (control/engine_options.cc);
// engine/contract_schedule.h compiles them. Thread-safety: a value.
#pragma once

#include <string>
#include <vector>

#include "engine/contract.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

struct ScheduledTerms {
  Nanos at = 0;
  std::string note;  // what the change changes, for CONTRACT ("status suspended; limits [daily]")
  std::vector<LimitSpec> limits;
  ContractRules rules;
};

}  // namespace tollgate
