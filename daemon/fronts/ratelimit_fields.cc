#include "fronts/ratelimit_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace tollgate::fronts {
namespace {

int64_t ceil_seconds_from_ms(int64_t ms) { return ms <= 0 ? 0 : (ms - 1) / 1000 + 1; }

}  // namespace

// Every code is listed: a new code fails the build (-Wswitch) until it has a status.
int http_status(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kRate:
    case Code::kWindow:
    case Code::kQuota:
    case Code::kConcurrency:
    case Code::kSubjects: return 429;
    case Code::kBalance: return 402;
    case Code::kUnknown:
    case Code::kChannel:
    case Code::kPurpose:
    case Code::kSuspended:
    case Code::kTerminated:
    case Code::kExpired:
    case Code::kNotStarted: return 403;
    case Code::kUnavailable: return 503;
    case Code::kCount_: break;
  }
  return 500;
}

std::string_view http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

bool quote_sf_string(std::string_view name, std::span<char> out, size_t& length) {
  size_t n = 0;
  auto put = [&](char c) {
    if (n == out.size()) return false;
    out[n++] = c;
    return true;
  };
  if (!put('"')) return false;
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) return false;
    if ((c == '"' || c == '\\') && !put('\\')) return false;
    if (!put(c)) return false;
  }
  if (!put('"')) return false;
  length = n;
  return true;
}

std::string_view RateLimitFields::keep(std::string_view text) {
  if (text.size() > buffer_.size() - used_) return {};
  char* at = buffer_.data() + used_;
  std::memcpy(at, text.data(), text.size());
  used_ += text.size();
  return {at, text.size()};
}

RateLimitFields::RateLimitFields(const Decision& d, std::optional<LimitTerms> terms) {
  add(kCodeField, code_name(d.code));
  add(kLimitField, d.limit);
  char scratch[2 * kMaxQuotedName + 64];
  if (d.balance >= 0) {
    auto end = fmt::format_to_n(scratch, sizeof scratch, "{}", d.balance);
    add(kBalanceField, keep({scratch, end.size}));
  }
  size_t quoted_length = 0;
  if (terms && d.limit.size() <= kMaxQuotedName &&
      quote_sf_string(d.limit, std::span<char>(scratch, sizeof scratch), quoted_length)) {
    const std::string_view quoted = keep({scratch, quoted_length});  // "name", once, then reused
    auto policy = terms->window_seconds > 0
                      ? fmt::format_to_n(scratch, sizeof scratch, "{};q={};w={}", quoted, std::max<int64_t>(terms->quota, 0),
                                         terms->window_seconds)
                      : fmt::format_to_n(scratch, sizeof scratch, "{};q={}", quoted, std::max<int64_t>(terms->quota, 0));
    add(kRateLimitPolicyField, keep({scratch, policy.size}));
    auto now = fmt::format_to_n(scratch, sizeof scratch, "{};r={};t={}", quoted, std::max<int64_t>(d.remaining, 0),
                                ceil_seconds_from_ms(d.reset_after_ms));
    add(kRateLimitField, keep({scratch, now.size}));
  }
  if (!d.allowed && d.retry_after_ms > 0) {
    auto end = fmt::format_to_n(scratch, sizeof scratch, "{}", ceil_seconds_from_ms(d.retry_after_ms));
    add(kRetryAfterField, keep({scratch, end.size}));
  }
}

std::optional<std::string_view> RateLimitFields::find(std::string_view name) const {
  for (const HeaderField& f : fields())
    if (f.name == name) return f.value;
  return std::nullopt;
}

}  // namespace tollgate::fronts
