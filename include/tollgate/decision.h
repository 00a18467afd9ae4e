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

// How an allowed call of a priced contract was charged, by the unit price of
// the lots its credits came from (Decision::lots; not on the wire). A call
// takes its credits oldest lot first, possibly from several lots; those of
// one price count together, whichever lots they came from.
// Stored in the call log (calllog/block_codec.h): append, never renumber.
enum class LotPrices : uint8_t {
  kNone = 0,  // nothing taken from lots: unpriced, denied, COST 0, a repeated ID, fail-open
  kOne = 1,   // every credit at `price` (credits == COST)
  kTwo = 2,   // `credits` at `price`, the other COST - credits at the unit price `rest`
  kMany = 3,  // `credits` at `price`, the others from lots of two or more other prices: `rest`
              // is their money (minor units), which no one price explains (replay: "mixed")
};

// Decision::lots. Its constructor leaves the words unset, even in
// `Decision{}`: the unpriced path stores nothing for a value nobody reads.
// Money is exact: credits × price, plus (kTwo) (COST − credits) × rest or
// (kMany) rest.
struct LotCharge {
  LotCharge() {}  // NOLINT: deliberately not `= default` (that would zero them in Decision{})
  int64_t price;    // minor units per credit of the oldest lot taken from
  int64_t credits;  // credits taken at `price` (from every lot of that price)
  int64_t rest;     // kTwo: the other credits' unit price; kMany: their minor units
};

struct Decision {
  bool allowed = false;
  Code code = Code::kUnknown;
  // In the padding after `code`: initializing it costs no store of its own.
  LotPrices lot_prices = LotPrices::kNone;
  std::string_view limit;       // deciding limit's name; empty when none applies
  int64_t remaining = 0;        // units left in that limit after this call
  int64_t retry_after_ms = 0;   // 0 allowed; -1 when waiting will not help
  int64_t reset_after_ms = 0;   // until that limit is fully replenished / resets
  int64_t balance = -1;         // prepaid minor units; -1 without pricing
  // Not on the wire: with WAIT, how long the reply must be held until the
  // reserved slot comes (0: send now).
  int64_t delay_ns = 0;
  // Not on the wire: what the call was charged by lot price, for the call
  // log. Valid only when lot_prices != kNone (then set by the engine's
  // charge, Engine::finalize); read it only after checking lot_prices.
  LotCharge lots;
};

}  // namespace tollgate
