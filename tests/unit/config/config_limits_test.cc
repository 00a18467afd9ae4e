#include <gtest/gtest.h>

#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using testing::ErrorAt;
using testing::parse_errors;
using testing::parse_ok;

// Wraps limit lines (each already indented as list items) in a contract.
std::string contract_with(const std::string& limits) { return "contracts:\n  acme:\n    limits:\n" + limits; }

// Verifies zero or negative rates, limits and bursts are refused at their line.
TEST(ConfigLimits, ZeroAndNegativeValues) {
  const auto errors = parse_errors(contract_with(R"(      - { name: a, type: token_bucket, rate: 0, per: 1s }
      - { name: b, type: token_bucket, rate: -5, per: 1s }
      - { name: c, type: token_bucket, rate: 5, per: 1s, burst: 0 }
      - { name: d, type: quota, limit: 0, period: day }
      - { name: e, type: concurrency, limit: -1 }
      - { name: f, type: sliding_window, limit: 10, window: 0s }
)"));
  EXPECT_THAT(errors, ElementsAre(ErrorAt(4, "limits[0].rate: must be at least 1, got 0"),
                                  ErrorAt(5, "limits[1].rate: must be at least 1, got -5"),
                                  ErrorAt(6, "limits[2].burst: must be at least 1, got 0"),
                                  ErrorAt(7, "limits[3].limit: must be at least 1, got 0"),
                                  ErrorAt(8, "limits[4].limit: must be at least 1, got -1"),
                                  ErrorAt(9, "limits[5].window: must be longer than zero")))
      << testing::joined(errors);
}

// Verifies a window must divide evenly into its sub_buckets.
TEST(ConfigLimits, WindowNotDivisibleIntoSubBuckets) {
  EXPECT_ONE_ERROR(contract_with("      - name: w\n        type: sliding_window\n        limit: 10\n"
                                 "        window: 100ns\n        sub_buckets: 7\n"),
                   8, "window 100ns is not divisible into 7 sub_buckets");
  parse_ok(contract_with("      - { name: w, type: sliding_window, limit: 10, window: 60s, sub_buckets: 8 }\n"));
}

// Verifies sub_buckets bounds.
TEST(ConfigLimits, SubBucketBounds) {
  EXPECT_ONE_ERROR(contract_with("      - { name: w, type: sliding_window, limit: 1, window: 1s, sub_buckets: 0 }\n"),
                   4, "sub_buckets: must be at least 1");
  EXPECT_ONE_ERROR(
      contract_with("      - { name: w, type: sliding_window, limit: 1, window: 1h, sub_buckets: 5000 }\n"), 4,
      "sub_buckets: must be at most 3600");
}

// Verifies overflowing numbers and rates beyond 1/ns are refused.
TEST(ConfigLimits, Overflow) {
  const auto errors = parse_errors(contract_with(R"(      - { name: a, type: quota, limit: 99999999999999999999, period: day }
      - { name: b, type: quota, limit: 9223372036854775807, period: day }
      - { name: c, type: token_bucket, rate: 2000000000, per: 1s }
      - { name: d, type: token_bucket, rate: 1, per: 100000d, burst: 1000000 }
      - { name: e, type: token_bucket, rate: 1, per: 300000d }
)"));
  EXPECT_THAT(errors, ElementsAre(ErrorAt(4, "does not fit in a 64-bit integer"),
                                  ErrorAt(5, "limits[1].limit: must be at most 4611686018427387904"),
                                  ErrorAt(6, "rate 2000000000 per 1s is more than one per nanosecond"),
                                  ErrorAt(7, "limits[3].burst: burst 1000000 at 1 per 100000d overflows"),
                                  ErrorAt(8, "duration '300000d' is too long")))
      << testing::joined(errors);
}

// Verifies fields that belong to another type are refused, naming what the type takes.
TEST(ConfigLimits, FieldsOfAnotherType) {
  const auto errors = parse_errors(contract_with(R"(      - { name: a, type: quota, limit: 1, period: day, burst: 5 }
      - { name: b, type: token_bucket, rate: 1, per: 1s, window: 1s }
      - { name: c, type: concurrency, limit: 1, period: day }
)"));
  EXPECT_THAT(errors,
              ElementsAre(ErrorAt(4, "limits[0].burst: does not apply to a quota limit (quota takes: limit, period, "
                                     "timezone)"),
                          ErrorAt(5, "limits[1].window: does not apply to a token_bucket limit"),
                          ErrorAt(6, "limits[2].period: does not apply to a concurrency limit (concurrency takes: "
                                     "limit)")))
      << testing::joined(errors);
}

// Verifies missing required fields, names and types are reported at the limit's line.
TEST(ConfigLimits, MissingFields) {
  const auto errors = parse_errors(contract_with(R"(      - { name: a, type: token_bucket, rate: 1 }
      - { name: b, type: sliding_window, window: 1s }
      - { type: quota, limit: 1, period: day }
      - { name: d }
      - { name: e, type: leaky_bucket }
)"));
  EXPECT_THAT(errors, ElementsAre(ErrorAt(4, "limits[0]: a token_bucket limit needs 'per'"),
                                  ErrorAt(5, "limits[1]: a sliding_window limit needs 'limit'"),
                                  ErrorAt(6, "limits[2]: a limit needs a 'name'"),
                                  ErrorAt(7, "limits[3]: a limit needs a 'type'"),
                                  ErrorAt(8, "limits[4].type: expected one of token_bucket | sliding_window")))
      << testing::joined(errors);
}

// Verifies limit names are checked and unique across limits and per_subject.
TEST(ConfigLimits, NamesAndDuplicates) {
  const auto errors = parse_errors(R"(contracts:
  acme:
    limits:
      - { name: daily, type: quota, limit: 1, period: day }
      - { name: "bad name", type: quota, limit: 1, period: day }
      - { name: daily, type: quota, limit: 2, period: day }
    per_subject:
      - { name: daily, type: quota, limit: 3, period: day }
  beta:
    limits:
      - { name: daily, type: quota, limit: 1, period: day }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: concurrency, limit: 1 }
      - { name: ip, type: concurrency, limit: 2 }
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(5, "'bad name' is not a valid name"),
                                  ErrorAt(6, "duplicate limit name 'daily' (first at line 4)"),
                                  ErrorAt(8, "per_subject[0].name: duplicate limit name 'daily' (first at line 4)"),
                                  ErrorAt(16, "duplicate limit name 'ip' (first at line 15)")))
      << testing::joined(errors);
}

// Verifies per_subject accepts only counter types.
TEST(ConfigLimits, PerSubjectCountersOnly) {
  const auto errors = parse_errors(R"(contracts:
  acme:
    per_subject:
      - { name: a, type: token_bucket, rate: 1, per: 1s }
      - { name: b, type: sliding_window, limit: 1, window: 1s }
      - { name: c, type: quota, limit: 1, period: day }
      - { name: d, type: concurrency, limit: 1 }
      - { name: e, type: distinct_subjects, limit: 1, period: day }
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(7, "per_subject limits must be token_bucket, sliding_window or quota, "
                                             "not concurrency"),
                                  ErrorAt(8, "not distinct_subjects")))
      << testing::joined(errors);
}

// Verifies block-style limits report the line of the offending field, not of the list item.
TEST(ConfigLimits, BlockStyleLines) {
  EXPECT_ONE_ERROR(R"(key_classes:
  - match: "user:*"
    limits:
      - name: u
        type: token_bucket
        rate: 5
        per: 5
)",
                   7, "key_classes[0].limits[0].per: duration '5' needs a unit");
}

// Verifies shadow must be a boolean.
TEST(ConfigLimits, ShadowIsBoolean) {
  EXPECT_ONE_ERROR(contract_with("      - { name: a, type: concurrency, limit: 1, shadow: 1 }\n"), 4,
                   "shadow: expected true or false, got '1'");
}

}  // namespace
}  // namespace tollgate
