// One entry of the call log (README, "Call log and tollgate-replay"): a CHECK
// as it was decided, a SETTLE of a hold, or an admin RECHARGE. Strings are
// views (into a worker buffer, a decoded block or the caller's input): a
// CallRecord owns nothing and is only valid as long as what it points into.
// Plain value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string_view>

#include "tollgate/decision.h"
#include "tollgate/time.h"

namespace tollgate::calllog {

// Stored values: never renumber, only append.
enum class RecordKind : uint8_t {
  kCheck = 1,     // a CHECK (PEEK is not logged)
  kSettle = 2,    // SETTLE <key> <id> COMMIT|CANCEL that found an open hold
  kRecharge = 3,  // RECHARGE <key> <amount>: cost = amount in minor units, id_hash = payment id's hash
};

struct CallRecord {
  RecordKind kind = RecordKind::kCheck;
  Nanos time = 0;
  std::string_view key;
  std::string_view channel;  // empty: none given
  std::string_view purpose;  // empty: none given
  int64_t cost = 1;          // kRecharge: the amount (minor units)
  // Privacy: the SUBJECT itself is never stored, only this hash (0: no
  // SUBJECT). Replay stands the hash in for the subject: distinct-subject
  // caps and per-subject limits only need equality.
  uint64_t subject_hash = 0;
  uint64_t id_hash = 0;  // 0: no ID (kRecharge: the payment id)
  int64_t hold_ms = -1;  // -1: no HOLD
  int64_t wait_ms = -1;  // -1: no WAIT
  // The live decision (kCheck); kSettle: `allowed` is COMMIT (true) or CANCEL.
  bool allowed = false;
  Code code = Code::kUnknown;
  std::string_view limit;  // the deciding limit; empty when none
  int64_t balance = -1;    // kCheck: the live decision's balance (minor units); -1 without pricing
};

// The hash a SUBJECT or an ID is logged as (xxh3, never 0: 0 means "none").
uint64_t log_hash(std::string_view text);

}  // namespace tollgate::calllog
