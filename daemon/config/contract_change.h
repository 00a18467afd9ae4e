// One scheduled change of a contract's terms (`changes:` under a contract):
// the instant it takes effect and the terms it replaces; what it does not
// name stays as it was. A value type of the configuration (config.h holds a
// list of them per contract); reading, validating and folding them in is
// config/contract_changes.h. Thread-safety: a value.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/contract_terms.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

struct ContractChange {
  Nanos at = 0;         // the instant it takes effect (a CHECK with now >= at sees it)
  std::string at_text;  // as written (for CONTRACT and messages)
  bool local = false;   // written without an offset: wall time in the contract's zone
  std::optional<ContractStatus> status;
  std::optional<Nanos> starts;
  std::optional<Nanos> expires;
  std::optional<std::vector<std::string>> channels;  // replaces the list ([] = any channel)
  std::optional<std::vector<std::string>> purposes;  // replaces the list ([] = any purpose)
  std::optional<std::string> pricing;                // a ladder under pricing:
  std::optional<HoldTimeoutPolicy> hold_timeout;
  std::optional<FailPolicy> fail;
  std::optional<std::vector<LimitSpec>> limits;  // replaces the whole `limits:` list
  int line = 0;
};

}  // namespace tollgate
