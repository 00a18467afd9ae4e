// What a decision looks like to an HTTP client, for every front that speaks
// HTTP headers (the HTTP check endpoint, Envoy's rate-limit gRPC service):
// the status code for a Code, and the header fields of one answer.
//
// The RateLimit fields follow draft-ietf-httpapi-ratelimit-headers-11 (May
// 2026; the shape is unchanged since -08): both are Structured Field Lists
// whose one member is the deciding limit's name as an sf-string,
//   RateLimit-Policy: "per_minute";q=100;w=60     quota q units per w seconds
//   RateLimit: "per_minute";r=0;t=17             r units left, t s until reset
// They are sent only when the deciding limit is a configured one whose terms
// are known (Engine::limit_terms); a denial by status, channel, balance, …
// names no quota. Retry-After (delay-seconds, rounded up) is sent only on a
// denial where waiting helps (retry_after_ms > 0). Tollgate-Code and
// Tollgate-Limit are always sent (Tollgate-Limit is empty when no limit
// decided), Tollgate-Balance when the contract is priced.
//
// Pure: no I/O, no allocation (values live in the object). Thread-safety:
// plain values, one per answer.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "engine/engine.h"
#include "tollgate/decision.h"

namespace tollgate::fronts {

// The HTTP status of a decision's code: 200 OK; 429 RATE, WINDOW, QUOTA,
// CONCURRENCY, SUBJECTS; 402 BALANCE; 403 UNKNOWN, CHANNEL, PURPOSE,
// SUSPENDED, TERMINATED, EXPIRED, NOT_STARTED; 503 UNAVAILABLE.
int http_status(Code code);
// The reason phrase of the statuses the fronts send ("Too Many Requests").
std::string_view http_reason(int status);

inline constexpr std::string_view kRateLimitPolicyField = "RateLimit-Policy";
inline constexpr std::string_view kRateLimitField = "RateLimit";
inline constexpr std::string_view kRetryAfterField = "Retry-After";
inline constexpr std::string_view kCodeField = "Tollgate-Code";
inline constexpr std::string_view kLimitField = "Tollgate-Limit";
inline constexpr std::string_view kBalanceField = "Tollgate-Balance";

struct HeaderField {
  std::string_view name;   // canonical case, e.g. "RateLimit-Policy" (gRPC lower-cases)
  std::string_view value;  // into the RateLimitFields, the decision or static text
};

class RateLimitFields {
 public:
  // The fields of `decision`, in the order Tollgate-Code, Tollgate-Limit,
  // Tollgate-Balance, RateLimit-Policy, RateLimit, Retry-After (absent ones
  // skipped). `terms`: the deciding limit's (Engine::limit_terms). Values
  // may point into `decision.limit`: use them while the decision is valid.
  RateLimitFields(const Decision& decision, std::optional<LimitTerms> terms);
  RateLimitFields(const RateLimitFields&) = delete;  // values point into buffer_
  RateLimitFields& operator=(const RateLimitFields&) = delete;

  std::span<const HeaderField> fields() const { return {fields_.data(), count_}; }
  // The value of field `name` (exact case), or nullopt.
  std::optional<std::string_view> find(std::string_view name) const;

  // A limit name longer than this gets no RateLimit fields (it could not be
  // quoted into the buffer); configured names are far shorter.
  static constexpr size_t kMaxQuotedName = 200;

 private:
  // Appends `text` to buffer_ and returns its view (empty if it does not fit).
  std::string_view keep(std::string_view text);
  void add(std::string_view name, std::string_view value) { fields_[count_++] = {name, value}; }

  std::array<HeaderField, 6> fields_;
  size_t count_ = 0;
  // The quoted name (escaped: up to twice as long) three times, and numbers.
  std::array<char, 3 * (2 * kMaxQuotedName + 2) + 192> buffer_;
  size_t used_ = 0;
};

// `name` as an RFC 8941 sf-string ("…", with \" and \\ escaped) into `out`;
// false (nothing usable) when a character is outside printable ASCII or it
// does not fit.
bool quote_sf_string(std::string_view name, std::span<char> out, size_t& length);

}  // namespace tollgate::fronts
