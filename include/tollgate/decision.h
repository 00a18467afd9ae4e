// The answer to one CHECK/PEEK: the 7-field decision (README, "CHECK / PEEK").
// Plain value type; `limit` points into the immutable config that produced it.
#pragma once

#include <cstdint>
#include <string_view>

namespace tollgate {

// Why a call was allowed or denied. Order is not precedence; see engine.
// New codes are appended (stored and exported values keep their numbers).
enum class Code : uint8_t {
  kOk,
  kRate,         // token bucket
  kWindow,       // sliding window
  kQuota,        // calendar quota
  kConcurrency,  // in-flight holds
  kSubjects,     // distinct-subject cap
  kBalance,
  kChannel,
  kPurpose,
  kSuspended,
  kTerminated,
  kExpired,
  kNotStarted,
  kUnknown,
  kUnavailable,  // the state store (Redis) is down and the contract says fail: closed
  // Engine::check_all: this call would have been allowed, but another call of
  // the same all-or-nothing batch was denied, so nothing was charged.
  kAborted,
  kCount_,
};

inline constexpr int kCodeCount = static_cast<int>(Code::kCount_);

// Wire name of a code, e.g. "OK", "RATE", "NOT_STARTED".
constexpr std::string_view code_name(Code c) {
  constexpr std::string_view kNames[] = {
      "OK",      "RATE",    "WINDOW",    "QUOTA",      "CONCURRENCY",
      "SUBJECTS", "BALANCE", "CHANNEL",  "PURPOSE",    "SUSPENDED",
      "TERMINATED", "EXPIRED", "NOT_STARTED", "UNKNOWN", "UNAVAILABLE", "ABORTED"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == kCodeCount);
  return kNames[static_cast<int>(c)];
}

struct Decision {
  bool allowed = false;
  Code code = Code::kUnknown;
  std::string_view limit;       // deciding limit's name; empty when none applies
  int64_t remaining = 0;        // units left in that limit after this call
  int64_t retry_after_ms = 0;   // 0 allowed; -1 when waiting will not help
  int64_t reset_after_ms = 0;   // until that limit is fully replenished / resets
  int64_t balance = -1;         // prepaid minor units; -1 without pricing
  // Not on the wire: with WAIT, how long the reply must be held until the
  // reserved slot comes (0: send now).
  int64_t delay_ns = 0;
};

}  // namespace tollgate
