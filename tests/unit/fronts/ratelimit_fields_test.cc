// The header fields and statuses every front derives from a Decision.
#include "fronts/ratelimit_fields.h"

#include <gtest/gtest.h>

#include <string>

#include "unit/engine/limit_specs.h"

namespace tollgate::fronts {
namespace {

using ::tollgate::testing::bucket;
using ::tollgate::testing::contract;
using ::tollgate::testing::distinct_subjects;
using ::tollgate::testing::EngineFixture;
using ::tollgate::testing::quota;
using ::tollgate::testing::window;

Decision denied(Code code, std::string_view limit, int64_t retry_ms, int64_t reset_ms) {
  Decision d;
  d.allowed = false;
  d.code = code;
  d.limit = limit;
  d.remaining = 0;
  d.retry_after_ms = retry_ms;
  d.reset_after_ms = reset_ms;
  return d;
}

// Verifies the status table of the issue, code by code.
TEST(HttpStatus, EveryCodeHasItsStatus) {
  EXPECT_EQ(http_status(Code::kOk), 200);
  for (Code c : {Code::kRate, Code::kWindow, Code::kQuota, Code::kConcurrency, Code::kSubjects})
    EXPECT_EQ(http_status(c), 429) << code_name(c);
  EXPECT_EQ(http_status(Code::kBalance), 402);
  for (Code c : {Code::kUnknown, Code::kChannel, Code::kPurpose, Code::kSuspended, Code::kTerminated, Code::kExpired,
                 Code::kNotStarted})
    EXPECT_EQ(http_status(c), 403) << code_name(c);
  EXPECT_EQ(http_status(Code::kUnavailable), 503);
  for (int c = 0; c < kCodeCount; ++c) EXPECT_NE(http_status(static_cast<Code>(c)), 500) << c;
  EXPECT_EQ(http_reason(429), "Too Many Requests");
  EXPECT_EQ(http_reason(431), "Request Header Fields Too Large");
}

// Verifies a rate denial's fields: the draft's two fields named after the
// limit, Retry-After rounded up, no balance for an unpriced contract.
TEST(RateLimitFields, RateDenialCarriesPolicyRemainingAndRetryAfter) {
  Decision d = denied(Code::kRate, "per_minute", 1001, 59'001);
  RateLimitFields f(d, LimitTerms{100, 60});
  EXPECT_EQ(f.find(kCodeField), "RATE");
  EXPECT_EQ(f.find(kLimitField), "per_minute");
  EXPECT_EQ(f.find(kRateLimitPolicyField), "\"per_minute\";q=100;w=60");
  EXPECT_EQ(f.find(kRateLimitField), "\"per_minute\";r=0;t=60");
  EXPECT_EQ(f.find(kRetryAfterField), "2");
  EXPECT_FALSE(f.find(kBalanceField));
  ASSERT_EQ(f.fields().size(), 5u);
  EXPECT_EQ(f.fields()[0].name, kCodeField);  // the documented order
  EXPECT_EQ(f.fields()[4].name, kRetryAfterField);
}

// Verifies an allowed call: no Retry-After, remaining and reset as decided,
// the balance when priced, no w for a window-less limit.
TEST(RateLimitFields, AllowedCallHasNoRetryAfter) {
  Decision d;
  d.allowed = true;
  d.code = Code::kOk;
  d.limit = "inflight";
  d.remaining = 7;
  d.reset_after_ms = 0;
  d.balance = 15000;
  RateLimitFields f(d, LimitTerms{8, 0});
  EXPECT_EQ(f.find(kCodeField), "OK");
  EXPECT_EQ(f.find(kBalanceField), "15000");
  EXPECT_EQ(f.find(kRateLimitPolicyField), "\"inflight\";q=8");
  EXPECT_EQ(f.find(kRateLimitField), "\"inflight\";r=7;t=0");
  EXPECT_FALSE(f.find(kRetryAfterField));
}

// Verifies that denials that are not about a quota name none: no RateLimit
// fields without terms, no Retry-After when waiting will not help (-1), and
// a zero balance is still a balance.
TEST(RateLimitFields, NonQuotaDenials) {
  Decision suspended = denied(Code::kSuspended, "", -1, 0);
  RateLimitFields s(suspended, std::nullopt);
  EXPECT_EQ(s.find(kCodeField), "SUSPENDED");
  EXPECT_EQ(s.find(kLimitField), "");
  EXPECT_FALSE(s.find(kRateLimitPolicyField));
  EXPECT_FALSE(s.find(kRateLimitField));
  EXPECT_FALSE(s.find(kRetryAfterField));

  Decision broke = denied(Code::kBalance, "", -1, 0);
  broke.balance = 0;
  RateLimitFields b(broke, std::nullopt);
  EXPECT_EQ(b.find(kBalanceField), "0");
  EXPECT_FALSE(b.find(kRetryAfterField));

  Decision down = denied(Code::kUnavailable, kStorageLimit, kUnavailableRetryMs, 0);
  RateLimitFields u(down, std::nullopt);
  EXPECT_EQ(u.find(kRetryAfterField), "1");
  EXPECT_FALSE(u.find(kRateLimitField));
}

// Verifies the sf-string quoting: escapes, and refusal of what cannot be one.
TEST(RateLimitFields, QuotesNamesAsStructuredFieldStrings) {
  char out[32];
  size_t n = 0;
  ASSERT_TRUE(quote_sf_string("a\"b\\c", out, n));
  EXPECT_EQ(std::string_view(out, n), "\"a\\\"b\\\\c\"");
  EXPECT_FALSE(quote_sf_string("tab\there", out, n));
  EXPECT_FALSE(quote_sf_string(std::string(40, 'x'), out, n));
  // A name too long to quote gets no RateLimit fields, but keeps the others.
  std::string long_name(RateLimitFields::kMaxQuotedName + 1, 'x');
  Decision d = denied(Code::kRate, long_name, 1000, 1000);
  RateLimitFields f(d, LimitTerms{1, 1});
  EXPECT_FALSE(f.find(kRateLimitField));
  EXPECT_EQ(f.find(kRetryAfterField), "1");
  // The longest accepted name fits three times.
  std::string max_name(RateLimitFields::kMaxQuotedName, 'y');
  Decision m = denied(Code::kRate, max_name, 1000, 1000);
  m.balance = INT64_MAX;
  RateLimitFields g(m, LimitTerms{INT64_MAX, INT64_MAX});
  EXPECT_EQ(g.find(kRateLimitPolicyField)->size(), max_name.size() + 2 + 3 + 19 + 3 + 19);
  EXPECT_EQ(g.find(kRateLimitField)->substr(0, max_name.size() + 2), "\"" + max_name + "\"");
}

class LimitTermsTest : public EngineFixture {};

// Verifies Engine::limit_terms for each limit type, per-subject and
// distinct-subject limits, key classes, and names that are not limits.
TEST_F(LimitTermsTest, TermsOfEachLimitType) {
  EngineOptions o;
  PolicySpec c = contract("contract:acme", {bucket("burst", 10, kNanosPerSecond, 30), window("per_minute", 100, 60 * kNanosPerSecond),
                                            quota("daily", 5000), quota("monthly", 90000, Period::kMonth),
                                            distinct_subjects("users", 50, Period::kWeek)});
  c.per_subject = {window("per_user", 5, 10 * kNanosPerSecond + 10)};
  o.contracts.push_back(std::move(c));
  PolicySpec cls;
  cls.name = "ip:*";
  cls.limits = {bucket("ip_rate", 3, 2 * kNanosPerSecond, 4)};
  o.key_classes.push_back(std::move(cls));
  auto e = build(o);
  ASSERT_TRUE(e);
  auto terms = [&](std::string_view key, std::string_view limit) { return e->limit_terms(key, limit); };
  ASSERT_TRUE(terms("contract:acme", "burst"));
  EXPECT_EQ(terms("contract:acme", "burst")->quota, 30);
  EXPECT_EQ(terms("contract:acme", "burst")->window_seconds, 3);  // 30 units at 10/s refill in 3 s
  EXPECT_EQ(terms("contract:acme", "per_minute")->window_seconds, 60);
  EXPECT_EQ(terms("contract:acme", "daily")->quota, 5000);
  EXPECT_EQ(terms("contract:acme", "daily")->window_seconds, 86400);
  EXPECT_EQ(terms("contract:acme", "monthly")->window_seconds, 0);  // months vary: no w
  EXPECT_EQ(terms("contract:acme", "users")->quota, 50);
  EXPECT_EQ(terms("contract:acme", "users")->window_seconds, 7 * 86400);
  EXPECT_EQ(terms("contract:acme", "per_user")->quota, 5);
  EXPECT_EQ(terms("contract:acme", "per_user")->window_seconds, 11);  // rounded up
  EXPECT_EQ(terms("ip:203.0.113.7", "ip_rate")->quota, 4);
  EXPECT_EQ(terms("ip:203.0.113.7", "ip_rate")->window_seconds, 3);  // 4 units at 1.5/s: 2.67 s
  EXPECT_FALSE(terms("contract:acme", kStorageLimit));
  EXPECT_FALSE(terms("contract:acme", ""));
  EXPECT_FALSE(terms("contract:nobody", "burst"));
}

}  // namespace
}  // namespace tollgate::fronts
