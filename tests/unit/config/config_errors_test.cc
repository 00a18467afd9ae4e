#include <gtest/gtest.h>

#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using testing::ErrorAt;
using testing::parse_errors;

// Verifies ConfigError prints as file:line: reason.
TEST(ConfigErrors, ToStringFormat) {
  EXPECT_EQ((ConfigError{"conf/a.yaml", 7, "bad"}).to_string(), "conf/a.yaml:7: bad");
  EXPECT_EQ((ConfigError{"conf/a.yaml", 0, "cannot open"}).to_string(), "conf/a.yaml: cannot open");
}

// Verifies a YAML syntax error is a single error with its 1-based line.
TEST(ConfigErrors, SyntaxError) {
  EXPECT_ONE_ERROR("server:\n  threads: 2\nkey_classes: [a, b\ntimezone: UTC\n", 4, "YAML syntax error");
}

// Verifies more than one YAML document is refused.
TEST(ConfigErrors, SecondDocument) {
  EXPECT_ONE_ERROR("timezone: UTC\n---\ntimezone: UTC\n", 3, "only one YAML document");
}

// Verifies unknown keys are errors at every level, at the key's line.
TEST(ConfigErrors, UnknownKeysAtEveryLevel) {
  const auto errors = parse_errors(R"(severs: {}
server:
  thread: 2
storage:
  redis:
    hostname: x
contracts:
  acme:
    anomaly: {}
    limits:
      - { name: a, type: quota, limit: 1, period: day, colour: red }
key_classes:
  - match: "ip:*"
    limit: []
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(1, "severs: unknown key (expected one of: server,"),
                                  ErrorAt(3, "server.thread: unknown key"),
                                  ErrorAt(6, "storage.redis.hostname: unknown key"),
                                  ErrorAt(9, "contracts.acme.anomaly: unknown key"),
                                  ErrorAt(11, "contracts.acme.limits[0].colour: unknown key"),
                                  ErrorAt(14, "key_classes[0].limit: unknown key")))
      << testing::joined(errors);
}

// Verifies a key repeated in one map is an error at the second occurrence.
TEST(ConfigErrors, DuplicateKey) {
  EXPECT_ONE_ERROR("timezone: UTC\nserver: {}\ntimezone: UTC\n", 3, "timezone: duplicate key (first at line 1)");
}

// Verifies wrong value types are reported at the value's line.
TEST(ConfigErrors, WrongTypes) {
  const auto errors = parse_errors(R"(server: 5
table:
  max_keys: many
  shards: [1]
shadow_mode: yes
contracts:
  acme:
    channels: pc
    purposes: [[a]]
    limits: { name: x }
key_classes: "ip:*"
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(1, "server: expected a map, got a single value"),
                                  ErrorAt(3, "table.max_keys: expected an integer, got 'many'"),
                                  ErrorAt(4, "table.shards: expected a single value, got a list"),
                                  ErrorAt(5, "shadow_mode: expected true or false, got 'yes'"),
                                  ErrorAt(8, "contracts.acme.channels: expected a list"),
                                  ErrorAt(9, "contracts.acme.purposes: items must be non-empty names"),
                                  ErrorAt(10, "contracts.acme.limits: expected a list, got a map"),
                                  ErrorAt(11, "key_classes: expected a list")))
      << testing::joined(errors);
}

// Verifies a key with no value is an error, not a silent default.
TEST(ConfigErrors, MissingValue) {
  EXPECT_ONE_ERROR("server:\n  threads:\n", 2, "server.threads: needs a value");
}

// Verifies durations without a unit or with an unknown unit are errors naming the units.
TEST(ConfigErrors, BadDurationUnits) {
  const auto errors = parse_errors("table:\n  idle_timeout: 10\n  sweep_interval: 5 minutes\ndedup:\n  window: 0s\n");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(2, "needs a unit (ns, us, ms, s, m, h, d)"),
                                  ErrorAt(3, "unknown duration unit"),
                                  ErrorAt(5, "dedup.window: must be longer than zero")))
      << testing::joined(errors);
}

// Verifies bad sizes and out-of-range sizes are errors.
TEST(ConfigErrors, BadSizes) {
  const auto errors = parse_errors("server:\n  max_bulk: 10 parsecs\n  max_inline: 0\n  max_output: 9999999999999g\n");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(2, "server.max_bulk: unknown size unit"),
                                  ErrorAt(3, "server.max_inline: must be at least 1 bytes"),
                                  ErrorAt(4, "server.max_output: size '9999999999999g' is too large")))
      << testing::joined(errors);
}

// Verifies bounds of server, table and global numbers.
TEST(ConfigErrors, OutOfRangeSettings) {
  const auto errors = parse_errors(R"(server:
  threads: 300
  max_connections: 0
  socket_mode: 0999
table:
  shards: 48
currency_decimals: 7
storage:
  checkpoint_ms: -1
admin:
  allow_uids: [-1, 5, 5]
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(2, "server.threads: must be at most 256, got 300"),
                                  ErrorAt(3, "server.max_connections: must be at least 1, got 0"),
                                  ErrorAt(4, "server.socket_mode: expected an octal file mode"),
                                  ErrorAt(6, "table.shards: must be a power of two, got 48"),
                                  ErrorAt(7, "currency_decimals: must be at most 6, got 7"),
                                  ErrorAt(9, "storage.checkpoint_ms: must be at least 1, got -1"),
                                  ErrorAt(11, "admin.allow_uids: expected a numeric id"),
                                  ErrorAt(11, "admin.allow_uids: duplicate id 5")))
      << testing::joined(errors);
}

// Verifies enum values list the accepted choices.
TEST(ConfigErrors, BadChoices) {
  const auto errors = parse_errors(R"(unknown_keys: maybe
storage:
  mode: disk
contracts:
  acme:
    status: paused
    fail: sometimes
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(1, "unknown_keys: expected one of deny | allow, got 'maybe'"),
                                  ErrorAt(3, "storage.mode: expected one of memory | embedded | redis"),
                                  ErrorAt(6, "contracts.acme.status: expected one of active | suspended | terminated"),
                                  ErrorAt(7, "contracts.acme.fail: expected one of closed | open | local")))
      << testing::joined(errors);
}

// Verifies unknown time zones are errors globally, per contract and per limit.
TEST(ConfigErrors, UnknownTimeZones) {
  const auto errors = parse_errors(R"(timezone: Mars/Olympus
contracts:
  acme:
    timezone: Asia/Shangai
    limits:
      - { name: q, type: quota, limit: 1, period: day, timezone: Nowhere }
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(1, "unknown time zone 'Mars/Olympus'"),
                                  ErrorAt(4, "unknown time zone 'Asia/Shangai'"),
                                  ErrorAt(6, "unknown time zone 'Nowhere'")))
      << testing::joined(errors);
}

// Verifies instants need an offset and expires must come after starts.
TEST(ConfigErrors, ContractInstants) {
  const auto errors = parse_errors(R"(contracts:
  a:
    expires: 2027-06-30T00:00:00
  b:
    starts: 2027-06-30T00:00:00+08:00
    expires: 2027-06-29T16:00:00Z
  c:
    starts: 2027-01-01T00:00:00Z
    expires: 2026-01-01T00:00:00Z
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(3, "contracts.a.expires: expected an instant with a UTC offset"),
                                  ErrorAt(6, "contracts.b.expires: 2027-06-29T16:00:00Z is not after starts"),
                                  ErrorAt(9, "contracts.c.expires: 2026-01-01T00:00:00Z is not after starts")))
      << testing::joined(errors);
}

// Verifies a contract referring to a missing price ladder is an error at the reference.
TEST(ConfigErrors, UnknownPricingReference) {
  EXPECT_ONE_ERROR(R"(pricing:
  standard: [{ prepay_from: 0, unit_price: 1 }]
contracts:
  acme:
    pricing: premium
)",
                   5, "contracts.acme.pricing: unknown price ladder 'premium'");
}

// Verifies ladder rules: a step from 0, unique prepay_from, positive prices, both fields.
TEST(ConfigErrors, PriceLadderRules) {
  const auto errors = parse_errors(R"(pricing:
  no-zero:
    - { prepay_from: 100, unit_price: 1 }
  dup:
    - { prepay_from: 0, unit_price: 2 }
    - { prepay_from: 0, unit_price: 3 }
  free:
    - { prepay_from: 0, unit_price: 0 }
  partial:
    - { prepay_from: 0 }
  "bad name": []
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(2, "pricing.no-zero: a price ladder needs a step with prepay_from: 0"),
                                  ErrorAt(6, "duplicate prepay_from 0 (first at line 5)"),
                                  ErrorAt(8, "pricing.free[0].unit_price: must be at least 1, got 0"),
                                  ErrorAt(10, "pricing.partial[0].unit_price: is required"),
                                  ErrorAt(11, "'bad name' is not a valid name")))
      << testing::joined(errors);
}

// Verifies a broken ladder is reported once, not again by each contract using it.
TEST(ConfigErrors, BrokenLadderIsNotAlsoUnknown) {
  EXPECT_ONE_ERROR(R"(pricing:
  standard: [{ prepay_from: 5, unit_price: 1 }]
contracts:
  acme: { pricing: standard }
)",
                   2, "needs a step with prepay_from: 0");
}

// Verifies duplicate contract names are reported at the second one.
TEST(ConfigErrors, DuplicateContracts) {
  EXPECT_ONE_ERROR("contracts:\n  acme: {}\n  beta: {}\n  acme: {}\n", 4,
                   "contracts.acme: duplicate key (first at line 2)");
}

// Verifies contract keys with spaces are refused.
TEST(ConfigErrors, InvalidContractKey) {
  EXPECT_ONE_ERROR("contracts:\n  \"acme loans\": {}\n", 2, "contract keys must be non-empty and contain no spaces");
}

// Verifies key-class patterns: duplicates and misplaced or repeated '*'.
TEST(ConfigErrors, KeyClassPatterns) {
  const auto errors = parse_errors(R"(key_classes:
  - match: "ip:*"
  - match: "user:*:x"
  - match: "ip:*"
  - match: "ip:**"
  - limits: []
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(3, "'user:*:x' must be a key or a prefix ending in a single '*'"),
                                  ErrorAt(4, "duplicate key class 'ip:*' (first at line 2)"),
                                  ErrorAt(5, "'ip:**' must be a key or a prefix"),
                                  ErrorAt(6, "key_classes[4].match: is required")))
      << testing::joined(errors);
}

// Verifies redis mode needs exactly one of socket or host.
TEST(ConfigErrors, RedisEndpoint) {
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n", 2, "mode redis needs redis.socket, redis.host, redis.sentinel or redis.cluster");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    socket: /r.sock\n    host: h\n", 5,
                   "give either socket or host, not both");
}

// Verifies the Sentinel and Cluster deployments: their fields, their node
// addresses, and that one config names one deployment.
TEST(ConfigErrors, RedisSentinelAndCluster) {
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    sentinel:\n      nodes: [\"h:1\"]\n", 4,
                   "storage.redis.sentinel: needs master");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    sentinel:\n      master: m\n", 4,
                   "storage.redis.sentinel: needs nodes");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    cluster:\n      nodes: [\"h:0\"]\n", 5,
                   "port of 'h:0' must be 1-65535");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    cluster:\n      nodes: [\"nohost\"]\n", 5,
                   "expected host:port, got 'nohost'");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    cluster:\n      nodes: []\n", 5,
                   "needs at least one host:port");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    host: h\n    cluster:\n      nodes: [\"h:1\"]\n", 5,
                   "give one of socket, host, sentinel or cluster");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    host: h\n    wait_timeout: 5ms\n", 5,
                   "wait_timeout needs wait_replicas");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis:\n    host: h\n    wait_replicas: 99\n", 5, "wait_replicas");
}

// Verifies the data and admin sockets cannot share a path and must fit sun_path.
TEST(ConfigErrors, SocketPaths) {
  EXPECT_ONE_ERROR("server:\n  socket: run/x.sock\n  admin_socket: run/x.sock\n", 3,
                   "the data and admin sockets must be different paths");
  EXPECT_ONE_ERROR("server:\n  socket: " + std::string(120, 'a') + "\n", 2, "longer than 107 bytes");
}

// Verifies several errors in one file are all reported, ordered by line.
TEST(ConfigErrors, AllErrorsAreReportedTogether) {
  const auto errors = parse_errors(R"(contracts:
  acme:
    pricing: nope
    limits:
      - { name: burst, type: token_bucket, rate: 0, per: 1s }
server:
  threads: -1
timezone: Nowhere
table:
  idle_timeout: 10
)");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(3, "unknown price ladder 'nope'"), ErrorAt(5, "rate: must be at least 1"),
                                  ErrorAt(7, "server.threads: must be at least 0, got -1"),
                                  ErrorAt(8, "unknown time zone 'Nowhere'"), ErrorAt(10, "needs a unit")))
      << testing::joined(errors);
}

// Verifies admin.admit_owner: false with no uid or gid listed is refused: it
// would lock everybody out of the admin socket.
TEST(ConfigErrors, AdminSocketForNobody) {
  EXPECT_ONE_ERROR("admin:\n  admit_owner: false\ncontracts:\n  c: {}\n", 2,
                   "admin.admit_owner: false with no allow_uids or allow_gids would let nobody use the admin socket");
  EXPECT_ONE_ERROR("admin:\n  admit_owner: maybe\ncontracts:\n  c: {}\n", 2, "admin.admit_owner");
  EXPECT_FALSE(testing::parse_ok("admin:\n  admit_owner: false\n  allow_gids: [50]\ncontracts:\n  c: {}\n").admin.admit_owner);
}

}  // namespace
}  // namespace tollgate
