// The configured parameters of one limit (what ops write under `limits:`).
// Immutable value type, validated by the config loader before use.
#pragma once

#include <cstdint>
#include <string>

#include "tollgate/time.h"

namespace tollgate {

enum class LimitType : uint8_t {
  kTokenBucket,
  kSlidingWindow,
  kQuota,
  kConcurrency,
  kDistinctSubjects,
};

// Calendar periods for quota and distinct_subjects. Weeks are ISO (Monday).
enum class Period : uint8_t { kHour, kDay, kWeek, kMonth };

struct LimitSpec {
  std::string name;
  LimitType type = LimitType::kTokenBucket;
  bool shadow = false;  // evaluated and counted, never denies

  // token_bucket: `rate` units per `per`, capacity `burst`.
  int64_t rate = 0;
  Nanos per = 0;
  int64_t burst = 0;

  // sliding_window: `limit` in any `window`, counted in `sub_buckets` slices.
  // quota / concurrency / distinct_subjects: `limit`.
  int64_t limit = 0;
  Nanos window = 0;
  int32_t sub_buckets = 0;  // 0: the default (see sliding_window.h)

  // quota / distinct_subjects: calendar period in `timezone`
  // (empty: the contract's zone, else the global `timezone:`).
  Period period = Period::kDay;
  std::string timezone;

  int line = 0;  // config line, for messages
};

}  // namespace tollgate
