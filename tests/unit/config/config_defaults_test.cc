#include <gtest/gtest.h>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using testing::parse_ok;

// Verifies a file that only allows being empty yields every documented default.
TEST(ConfigDefaults, EmptyFileHasAllDefaults) {
  EXPECT_FALSE(Config{}.allow_empty);
  const Config c = parse_ok("allow_empty: true\n");
  EXPECT_TRUE(c.allow_empty);
  EXPECT_EQ(c.file, "test.yaml");
  EXPECT_EQ(c.server.socket, "run/tollgate.sock");
  EXPECT_EQ(c.server.socket_mode, 0660);
  EXPECT_EQ(c.server.admin_socket, "run/tollgate.admin.sock");  // next to the data socket
  EXPECT_EQ(c.server.socket_group, "");
  EXPECT_EQ(c.server.timeout, 0);
  EXPECT_EQ(c.server.frame_timeout, 5 * kNanosPerSecond);
  EXPECT_EQ(c.log.format, LogFormat::kText);
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.server.admin_socket_mode, 0600);
  EXPECT_EQ(c.server.threads, 0);
  EXPECT_EQ(c.server.max_connections, 10000);
  EXPECT_EQ(c.server.max_args, 1024);
  EXPECT_EQ(c.server.max_bulk, 1 << 20);
  EXPECT_EQ(c.server.max_inline, 64 << 10);
  EXPECT_EQ(c.server.max_output, int64_t{64} << 20);
  EXPECT_EQ(c.timezone, "UTC");
  EXPECT_EQ(c.unknown_keys, UnknownKeys::kDeny);
  EXPECT_FALSE(c.shadow_mode);
  EXPECT_EQ(c.table.max_keys, 10'000'000);
  EXPECT_EQ(c.table.idle_timeout, 600 * kNanosPerSecond);
  EXPECT_EQ(c.table.sweep_interval, kNanosPerSecond);
  EXPECT_EQ(c.table.shards, 64);
  EXPECT_EQ(c.storage.mode, StorageMode::kEmbedded);
  EXPECT_EQ(c.storage.dir, "var/");
  EXPECT_EQ(c.storage.durability, Durability::kRelaxed);
  EXPECT_EQ(c.storage.checkpoint_ms, 100);
  EXPECT_EQ(c.storage.snapshot_interval, 300 * kNanosPerSecond);
  EXPECT_EQ(c.storage.redis.socket, "");
  EXPECT_EQ(c.storage.redis.host, "");
  EXPECT_EQ(c.storage.redis.port, 6379);
  EXPECT_EQ(c.storage.redis.password, "");
  EXPECT_EQ(c.storage.redis.prefix, "tollgate:");
  EXPECT_EQ(c.storage.redis.connect_timeout, kNanosPerSecond);
  EXPECT_EQ(c.storage.redis.command_timeout, kNanosPerSecond);
  EXPECT_EQ(c.storage.redis.buffer_max, 1'000'000);
  EXPECT_TRUE(c.admin.allow_uids.empty());
  EXPECT_TRUE(c.admin.allow_gids.empty());
  EXPECT_TRUE(c.admin.admit_owner);  // root and the daemon's uid
  EXPECT_EQ(c.dedup.window, 600 * kNanosPerSecond);
  EXPECT_EQ(c.dedup.max_entries, 1'000'000);
  EXPECT_EQ(c.currency_decimals, 2);
  EXPECT_TRUE(c.pricing.empty());
  EXPECT_TRUE(c.contracts.empty());
  EXPECT_TRUE(c.key_classes.empty());
}

// Verifies sections present but empty keep their defaults.
TEST(ConfigDefaults, EmptySectionsKeepDefaults) {
  const Config c = parse_ok("allow_empty: true\nserver:\ntable:\nstorage:\n  redis:\nadmin:\ndedup:\npricing:\ncontracts:\nkey_classes:\n");
  EXPECT_EQ(c.server.socket, "run/tollgate.sock");
  EXPECT_EQ(c.table.shards, 64);
  EXPECT_EQ(c.storage.redis.prefix, "tollgate:");
  EXPECT_TRUE(c.contracts.empty());
}

// Verifies every global setting is read with its units.
TEST(ConfigDefaults, GlobalSettingsAreRead) {
  const Config c = parse_ok(R"(allow_empty: true
server:
  socket: /tmp/a.sock
  socket_mode: 0666
  admin_socket: /tmp/b.sock
  admin_socket_mode: "0o640"
  threads: 4
  max_connections: 50
  max_args: 16
  max_bulk: 64k
  max_inline: 4096
  max_output: 1g
timezone: Europe/Berlin
unknown_keys: allow
shadow_mode: true
table: { max_keys: 1000, idle_timeout: 30s, sweep_interval: 250ms, shards: 8 }
storage:
  mode: embedded
  dir: /var/lib/tollgate
  durability: strict
  checkpoint_ms: 5
  snapshot_interval: 1h
  redis: { host: 10.0.0.1, port: 6380, password: secret, prefix: "tg:", connect_timeout: 2s, command_timeout: 50ms, buffer_max: 10 }
admin: { allow_uids: [0, 1000], allow_gids: [50] }
dedup: { window: 1m, max_entries: 5 }
currency_decimals: 0
)");
  EXPECT_EQ(c.server.socket, "/tmp/a.sock");
  EXPECT_EQ(c.server.socket_mode, 0666);
  EXPECT_EQ(c.server.admin_socket_mode, 0640);
  EXPECT_EQ(c.server.threads, 4);
  EXPECT_EQ(c.server.max_connections, 50);
  EXPECT_EQ(c.server.max_args, 16);
  EXPECT_EQ(c.server.max_bulk, 65536);
  EXPECT_EQ(c.server.max_inline, 4096);
  EXPECT_EQ(c.server.max_output, int64_t{1} << 30);
  EXPECT_EQ(c.timezone, "Europe/Berlin");
  EXPECT_EQ(c.unknown_keys, UnknownKeys::kAllow);
  EXPECT_TRUE(c.shadow_mode);
  EXPECT_EQ(c.table.max_keys, 1000);
  EXPECT_EQ(c.table.idle_timeout, 30 * kNanosPerSecond);
  EXPECT_EQ(c.table.sweep_interval, 250 * kNanosPerMilli);
  EXPECT_EQ(c.table.shards, 8);
  EXPECT_EQ(c.storage.mode, StorageMode::kEmbedded);
  EXPECT_EQ(c.storage.durability, Durability::kStrict);
  EXPECT_EQ(c.storage.checkpoint_ms, 5);
  EXPECT_EQ(c.storage.snapshot_interval, 3600 * kNanosPerSecond);
  EXPECT_EQ(c.storage.redis.host, "10.0.0.1");
  EXPECT_EQ(c.storage.redis.port, 6380);
  EXPECT_EQ(c.storage.redis.password, "secret");
  EXPECT_EQ(c.storage.redis.prefix, "tg:");
  EXPECT_EQ(c.storage.redis.connect_timeout, 2 * kNanosPerSecond);
  EXPECT_EQ(c.storage.redis.command_timeout, 50 * kNanosPerMilli);
  EXPECT_EQ(c.storage.redis.buffer_max, 10);
  EXPECT_EQ(c.admin.allow_uids, (std::vector<uint32_t>{0, 1000}));
  EXPECT_EQ(c.admin.allow_gids, (std::vector<uint32_t>{50}));
  EXPECT_EQ(c.dedup.window, 60 * kNanosPerSecond);
  EXPECT_EQ(c.dedup.max_entries, 5);
  EXPECT_EQ(c.currency_decimals, 0);
}

// Verifies contract defaults: active, cancel, local, no dates, no scope.
TEST(ConfigDefaults, ContractDefaults) {
  const Config c = parse_ok("contracts:\n  acme:\n");
  ASSERT_EQ(c.contracts.count("acme"), 1u);
  const ContractConfig& acme = c.contracts.at("acme");
  EXPECT_EQ(acme.key, "acme");
  EXPECT_EQ(acme.line, 2);
  EXPECT_EQ(acme.status, ContractStatus::kActive);
  EXPECT_FALSE(acme.starts);
  EXPECT_FALSE(acme.expires);
  EXPECT_EQ(acme.timezone, "");
  EXPECT_TRUE(acme.channels.empty());
  EXPECT_TRUE(acme.purposes.empty());
  EXPECT_EQ(acme.pricing, "");
  EXPECT_EQ(acme.hold_timeout, HoldTimeoutPolicy::kCancel);
  EXPECT_EQ(acme.fail, FailPolicy::kLocal);
  EXPECT_TRUE(acme.limits.empty());
  EXPECT_TRUE(acme.per_subject.empty());
}

// Verifies a full contract is read, including instants with offsets.
TEST(ConfigDefaults, ContractFieldsAreRead) {
  const Config c = parse_ok(R"(pricing:
  p: [{ prepay_from: 0, unit_price: 5 }]
contracts:
  acme:
    status: suspended
    starts: 2026-01-01T00:00:00+08:00
    expires: 2027-06-30T00:00:00Z
    timezone: America/New_York
    channels: [pc, wireless]
    purposes: [score]
    pricing: p
    hold_timeout: commit
    fail: closed
)");
  const ContractConfig& acme = c.contracts.at("acme");
  EXPECT_EQ(acme.status, ContractStatus::kSuspended);
  EXPECT_EQ(*acme.starts, 1'767'196'800 * kNanosPerSecond);  // 2025-12-31T16:00:00Z
  EXPECT_EQ(*acme.expires, 1'814'313'600 * kNanosPerSecond);
  EXPECT_EQ(acme.timezone, "America/New_York");
  EXPECT_EQ(acme.channels, (std::vector<std::string>{"pc", "wireless"}));
  EXPECT_EQ(acme.purposes, (std::vector<std::string>{"score"}));
  EXPECT_EQ(acme.pricing, "p");
  EXPECT_EQ(acme.hold_timeout, HoldTimeoutPolicy::kCommit);
  EXPECT_EQ(acme.fail, FailPolicy::kClosed);
}

// Verifies every limit type's fields and defaults (burst = rate, sub_buckets 0, shadow off).
TEST(ConfigDefaults, LimitFieldsAndDefaults) {
  const Config c = parse_ok(R"(contracts:
  acme:
    limits:
      - { name: tb, type: token_bucket, rate: 200, per: 1s }
      - { name: sw, type: sliding_window, limit: 5000, window: 60s, sub_buckets: 60, shadow: true }
      - { name: q, type: quota, limit: 100, period: month, timezone: Asia/Tokyo }
      - { name: c, type: concurrency, limit: 50 }
      - { name: d, type: distinct_subjects, limit: 20, period: week }
    per_subject:
      - { name: ps, type: sliding_window, limit: 5, window: 1m }
)");
  const auto& limits = c.contracts.at("acme").limits;
  ASSERT_EQ(limits.size(), 5u);
  EXPECT_EQ(limits[0].type, LimitType::kTokenBucket);
  EXPECT_EQ(limits[0].rate, 200);
  EXPECT_EQ(limits[0].per, kNanosPerSecond);
  EXPECT_EQ(limits[0].burst, 200);
  EXPECT_FALSE(limits[0].shadow);
  EXPECT_EQ(limits[0].line, 4);
  EXPECT_EQ(limits[1].type, LimitType::kSlidingWindow);
  EXPECT_EQ(limits[1].limit, 5000);
  EXPECT_EQ(limits[1].window, 60 * kNanosPerSecond);
  EXPECT_EQ(limits[1].sub_buckets, 60);
  EXPECT_TRUE(limits[1].shadow);
  EXPECT_EQ(limits[2].type, LimitType::kQuota);
  EXPECT_EQ(limits[2].period, Period::kMonth);
  EXPECT_EQ(limits[2].timezone, "Asia/Tokyo");
  EXPECT_EQ(limits[3].type, LimitType::kConcurrency);
  EXPECT_EQ(limits[3].limit, 50);
  EXPECT_EQ(limits[4].type, LimitType::kDistinctSubjects);
  EXPECT_EQ(limits[4].period, Period::kWeek);
  EXPECT_EQ(limits[4].timezone, "");
  const auto& per_subject = c.contracts.at("acme").per_subject;
  ASSERT_EQ(per_subject.size(), 1u);
  EXPECT_EQ(per_subject[0].sub_buckets, 0);
  EXPECT_EQ(per_subject[0].line, 10);
}

// Verifies price ladders are stored sorted by prepay_from, descending.
TEST(ConfigDefaults, PriceLadderIsSortedDescending) {
  const Config c = parse_ok(R"(pricing:
  standard:
    - { prepay_from: 0, unit_price: 100 }
    - { prepay_from: 15000000, unit_price: 80 }
    - { prepay_from: 10000000, unit_price: 90 }
allow_empty: true
)");
  const PriceLadderConfig& ladder = c.pricing.at("standard");
  EXPECT_EQ(ladder.name, "standard");
  ASSERT_EQ(ladder.steps.size(), 3u);
  EXPECT_EQ(ladder.steps[0].prepay_from, 15'000'000);
  EXPECT_EQ(ladder.steps[0].unit_price, 80);
  EXPECT_EQ(ladder.steps[0].line, 4);
  EXPECT_EQ(ladder.steps[1].prepay_from, 10'000'000);
  EXPECT_EQ(ladder.steps[2].prepay_from, 0);
  EXPECT_EQ(ladder.steps[2].unit_price, 100);
}

// Verifies key-class patterns: prefixes, exact keys, catch-all, idle override.
TEST(ConfigDefaults, KeyClassPatterns) {
  const Config c = parse_ok(R"(key_classes:
  - match: "ip:*"
    idle_timeout: 1h
  - match: "exact-key"
  - match: "*"
)");
  ASSERT_EQ(c.key_classes.size(), 3u);
  EXPECT_TRUE(c.key_classes[0].is_prefix);
  EXPECT_EQ(c.key_classes[0].prefix, "ip:");
  EXPECT_EQ(c.key_classes[0].match, "ip:*");
  EXPECT_EQ(*c.key_classes[0].idle_timeout, 3600 * kNanosPerSecond);
  EXPECT_EQ(c.key_classes[0].line, 2);
  EXPECT_FALSE(c.key_classes[1].is_prefix);
  EXPECT_EQ(c.key_classes[1].prefix, "exact-key");
  EXPECT_FALSE(c.key_classes[1].idle_timeout);
  EXPECT_TRUE(c.key_classes[2].is_prefix);
  EXPECT_EQ(c.key_classes[2].prefix, "");
}

// Verifies yaml_name spells enums as the YAML does.
TEST(ConfigDefaults, EnumNames) {
  EXPECT_EQ(yaml_name(LimitType::kDistinctSubjects), "distinct_subjects");
  EXPECT_EQ(yaml_name(Period::kWeek), "week");
  EXPECT_EQ(yaml_name(StorageMode::kEmbedded), "embedded");
  EXPECT_EQ(yaml_name(ContractStatus::kTerminated), "terminated");
  EXPECT_EQ(yaml_name(FailPolicy::kOpen), "open");
  EXPECT_EQ(yaml_name(HoldTimeoutPolicy::kCommit), "commit");
  EXPECT_EQ(yaml_name(Durability::kStrict), "strict");
  EXPECT_EQ(yaml_name(UnknownKeys::kAllow), "allow");
}

}  // namespace
}  // namespace tollgate
