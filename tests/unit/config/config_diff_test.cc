#include <gtest/gtest.h>

#include "config/config_diff.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using testing::parse_ok;

constexpr const char* kBase = R"(pricing:
  standard: [{ prepay_from: 0, unit_price: 100 }]
contracts:
  acme-loans:
    pricing: standard
    limits:
      - { name: daily, type: quota, limit: 100000, period: day }
      - { name: burst, type: token_bucket, rate: 10, per: 1s }
    per_subject:
      - { name: per-user, type: token_bucket, rate: 5, per: 1m }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 100, per: 1s }
)";

// Verifies identical configs, even laid out differently, have no differences.
TEST(ConfigDiff, IdenticalConfigsHaveNoDiff) {
  const Config a = parse_ok(kBase);
  const Config b = parse_ok(std::string("# a comment moves every line\n\n") + kBase);
  EXPECT_TRUE(diff_configs(a, b).empty());
}

// Verifies a changed limit parameter is named with old and new values.
TEST(ConfigDiff, ChangedLimit) {
  std::string changed = kBase;
  changed.replace(changed.find("limit: 100000"), 13, "limit: 200000");
  EXPECT_THAT(diff_configs(parse_ok(kBase), parse_ok(changed)),
              ElementsAre("contract acme-loans: limit daily changed (limit 100000 -> 200000)"));
}

// Verifies added and removed contracts, key classes, limits and ladders.
TEST(ConfigDiff, AddedAndRemoved) {
  const Config old_cfg = parse_ok(kBase);
  const Config new_cfg = parse_ok(R"(pricing:
  standard: [{ prepay_from: 0, unit_price: 100 }]
  premium: [{ prepay_from: 0, unit_price: 50 }]
contracts:
  acme-loans:
    pricing: standard
    limits:
      - { name: daily, type: quota, limit: 100000, period: day }
      - { name: inflight, type: concurrency, limit: 5 }
    per_subject:
      - { name: per-user, type: token_bucket, rate: 5, per: 1m, burst: 10 }
  beta: {}
key_classes:
  - match: "user:*"
)");
  EXPECT_THAT(diff_configs(old_cfg, new_cfg),
              ElementsAre("+ pricing premium", "contract acme-loans: - limit burst",
                          "contract acme-loans: + limit inflight",
                          "contract acme-loans: per_subject limit per-user changed (burst 5 -> 10)", "+ contract beta",
                          "- key_class ip:*", "+ key_class user:*"));
}

// Verifies changes of settings, contract fields, ladders and key-class idle timeouts.
TEST(ConfigDiff, SettingsAndFields) {
  const Config old_cfg = parse_ok(kBase);
  const Config new_cfg = parse_ok(R"(server: { threads: 4 }
timezone: Asia/Shanghai
storage: { redis: { password: hunter2 } }
pricing:
  standard: [{ prepay_from: 0, unit_price: 90 }]
contracts:
  acme-loans:
    status: suspended
    expires: 2027-06-30T00:00:00+08:00
    pricing: standard
    limits:
      - { name: daily, type: quota, limit: 100000, period: month, shadow: true }
      - { name: burst, type: sliding_window, limit: 10, window: 1s }
    per_subject:
      - { name: per-user, type: token_bucket, rate: 5, per: 1m }
key_classes:
  - match: "ip:*"
    idle_timeout: 1h
    limits:
      - { name: ip, type: token_bucket, rate: 100, per: 1s }
)");
  EXPECT_THAT(
      diff_configs(old_cfg, new_cfg),
      ElementsAre("server.threads: 0 -> 4", "timezone: UTC -> Asia/Shanghai",
                  "storage.redis.password: (none) -> (set, 7 chars)", "pricing standard changed (0:100 -> 0:90)",
                  "contract acme-loans: status active -> suspended, expires (none) -> 2027-06-29T16:00:00Z",
                  "contract acme-loans: limit daily changed (shadow false -> true, period day -> month)",
                  "contract acme-loans: limit burst changed (type token_bucket -> sliding_window, rate 10 -> (none), "
                  "per 1s -> (none), burst 10 -> (none), limit (none) -> 10, window (none) -> 1s, sub_buckets "
                  "(none) -> 0)",
                  "key_class ip:*: idle_timeout (default) -> 1h"));
}

// Verifies the operations settings (timeouts, socket groups, log) show in a diff.
TEST(ConfigDiff, OperationsSettings) {
  const Config old_cfg = parse_ok(kBase);
  const Config new_cfg =
      parse_ok(std::string("server: { timeout: 300, frame_timeout: 0 }\nlog: { format: json }\n") + kBase);
  EXPECT_THAT(diff_configs(old_cfg, new_cfg),
              ElementsAre("server.timeout: 0 -> 5m", "server.frame_timeout: 5s -> 0", "log.format: text -> json"));
}

// Verifies describe_limit_change is empty for equal limits and ignores lines.
TEST(ConfigDiff, DescribeLimitChange) {
  LimitSpec a;
  a.name = "x";
  a.type = LimitType::kConcurrency;
  a.limit = 3;
  a.line = 4;
  LimitSpec b = a;
  b.line = 40;
  EXPECT_EQ(describe_limit_change(a, b), "");
  b.limit = 4;
  EXPECT_EQ(describe_limit_change(a, b), "limit 3 -> 4");
}

}  // namespace
}  // namespace tollgate
