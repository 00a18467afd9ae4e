// The terms of a contract the engine enforces and the configuration names:
// its status, what an unsettled hold becomes, and how its calls are decided
// while the shared state store (Redis) is down. Plain enums, so that the
// engine does not depend on the configuration (config/ includes this, not
// the other way round). Thread-safety: values only.
#pragma once

#include <cstdint>

namespace tollgate {

enum class ContractStatus : uint8_t { kActive, kSuspended, kTerminated };
enum class HoldTimeoutPolicy : uint8_t { kCommit, kCancel };  // what an unsettled hold becomes
enum class FailPolicy : uint8_t { kClosed, kOpen, kLocal };   // behaviour while Redis is down

}  // namespace tollgate
