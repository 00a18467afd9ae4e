// The daemon's configuration as loaded from YAML: listeners, tables, storage,
// prices, contracts and key classes. An immutable value once loaded (see
// config_loader.h); share it between threads as `std::shared_ptr<const Config>`.
// A default-constructed Config holds every documented default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/call_log_config.h"
#include "config/contract_change.h"
#include "config/envoy_config.h"
#include "engine/contract_terms.h"
#include "engine/money/lot_validity.h"
#include "monitor/monitor_spec.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

// Every default and bound of the configuration, in one table. The model below
// takes its initial values from here; docs and `--check-config` quote it.
struct ConfigDefaults {
  // server:
  static constexpr std::string_view kSocket = "run/tollgate.sock";     // data-plane Unix socket
  static constexpr int kSocketMode = 0660;                             // data socket file mode
  // Relative paths (sockets, storage.dir, redis.socket) resolve against the
  // config file's directory (config/config_paths.h).
  static constexpr std::string_view kAdminSocketSuffix = ".admin.sock"; // admin socket: <data socket minus .sock> + this
  static constexpr int kAdminSocketMode = 0600;                        // admin socket file mode
  static constexpr int kThreads = 0;                                   // data-plane workers; 0 = one per core
  static constexpr int kMaxThreads = 256;                              // upper bound for `threads`
  static constexpr int64_t kMaxConnections = 10'000;                   // open data connections
  static constexpr int64_t kMaxArgs = 1'024;                           // arguments per command
  static constexpr int64_t kMaxBulk = 1 << 20;                         // bytes per bulk string
  static constexpr int64_t kMaxInline = 64 << 10;                      // bytes per inline command line
  static constexpr int64_t kMaxOutput = int64_t{64} << 20;             // unsent reply bytes before a client is dropped
  static constexpr Nanos kOutputStallTimeout = 30 * kNanosPerSecond;   // a client taking none of 1 MiB of replies this long is dropped
  static constexpr int64_t kMaxInputTotal = int64_t{256} << 20;        // grown input buffers, all connections together
  static constexpr int64_t kMaxKey = 512;                              // bytes per key (CHECK, PEEK, CL.THROTTLE, admin, ...)
  static constexpr Nanos kClientTimeout = 0;                           // idle clients closed after this; 0 = never (Redis `timeout`)
  static constexpr Nanos kFrameTimeout = 5 * kNanosPerSecond;          // a started request must be complete within this; 0 = never
  // top level:
  static constexpr std::string_view kTimezone = "UTC";                 // calendar quotas and expiry display
  static constexpr bool kShadowMode = false;                           // true: no limit ever denies (dry run)
  static constexpr int kCurrencyDecimals = 2;                          // decimals of the money minor unit
  static constexpr int kMaxCurrencyDecimals = 6;                       // upper bound for `currency_decimals`
  // table:
  static constexpr int64_t kMaxKeys = 10'000'000;                      // dynamic (key-class) keys in the table
  static constexpr Nanos kIdleTimeout = 10 * 60 * kNanosPerSecond;     // idle + full dynamic keys are evicted after this
  static constexpr Nanos kSweepInterval = kNanosPerSecond;             // how often the eviction sweep runs
  static constexpr int kShards = 64;                                   // counter-table shards (power of two)
  static constexpr int64_t kMaxHolds = 100'000;                        // open holds (CHECK ... HOLD) at most; pool allocated once
  static constexpr int kMaxShards = 1 << 16;                           // upper bound for `shards`
  // storage:
  static constexpr std::string_view kStorageDir = "var/";              // journal and snapshots
  static constexpr int64_t kCheckpointMs = 100;                        // group-commit interval of debits
  static constexpr Nanos kSnapshotInterval = 5 * 60 * kNanosPerSecond; // full snapshot period
  static constexpr int kRedisPort = 6379;                              // when `redis.host` is set
  static constexpr std::string_view kRedisPrefix = "tollgate:";        // key prefix in Redis
  static constexpr Nanos kRedisConnectTimeout = kNanosPerSecond;       // per connection attempt
  static constexpr Nanos kRedisCommandTimeout = kNanosPerSecond;       // per command
  static constexpr int64_t kRedisBufferMax = 1'000'000;                // pending counter deltas (fields) while Redis is slow/down
  static constexpr Nanos kRedisWaitTimeout = 100 * kNanosPerMilli;     // storage.redis.wait_timeout: WAIT's bound per write
  static constexpr int kRedisMaxWaitReplicas = 16;                     // upper bound for storage.redis.wait_replicas
  // dedup:
  static constexpr Nanos kDedupWindow = 10 * 60 * kNanosPerSecond;     // how long a CHECK ID is remembered
  static constexpr int64_t kDedupMaxEntries = 1'000'000;               // remembered IDs at most
  // limits:
  static constexpr int64_t kMaxCount = int64_t{1} << 62;               // largest rate/burst/limit (headroom for sums)
  static constexpr int32_t kMaxSubBuckets = 3'600;                     // sliding_window `sub_buckets` at most (engine bound)
};

enum class UnknownKeys : uint8_t { kDeny, kAllow };
enum class StorageMode : uint8_t { kMemory, kEmbedded, kRedis };
enum class Durability : uint8_t { kRelaxed, kStrict };
// ContractStatus, HoldTimeoutPolicy and FailPolicy: engine/contract_terms.h.

// server.http: the HTTP check, metrics and probe endpoint (fronts/http/).
// Each listen entry is "host:port" (TCP, only on the addresses given) or
// "unix:path". No entry: no HTTP listener.
struct HttpConfig {
  std::vector<std::string> listen;
  int socket_mode = 0660;                            // for the unix: entries
  int64_t max_header_bytes = 8 * 1024;               // request line + headers; more: 431
  int64_t max_body_bytes = 16 * 1024;                // POST body; more: 413
  Nanos request_timeout = 10 * kNanosPerSecond;      // a started request must arrive whole within this: 408
  Nanos keepalive_timeout = 60 * kNanosPerSecond;    // an idle keep-alive connection is closed after this
};

struct ServerConfig {
  std::string socket{ConfigDefaults::kSocket};
  int socket_mode = ConfigDefaults::kSocketMode;
  std::string admin_socket;  // empty in the file: next to `socket` (default_admin_socket)
  int admin_socket_mode = ConfigDefaults::kAdminSocketMode;
  std::string socket_group;        // group (name or number) the data socket is given; empty: the daemon's
  std::string admin_socket_group;  // the same for the admin socket
  Nanos timeout = ConfigDefaults::kClientTimeout;            // idle clients are closed after this (0: never)
  Nanos frame_timeout = ConfigDefaults::kFrameTimeout;       // an incomplete request older than this closes its connection (0: never)
  int threads = ConfigDefaults::kThreads;
  int64_t max_connections = ConfigDefaults::kMaxConnections;
  int64_t max_args = ConfigDefaults::kMaxArgs;
  int64_t max_bulk = ConfigDefaults::kMaxBulk;
  int64_t max_inline = ConfigDefaults::kMaxInline;
  int64_t max_output = ConfigDefaults::kMaxOutput;
  Nanos output_stall_timeout = ConfigDefaults::kOutputStallTimeout;
  int64_t max_input_total = ConfigDefaults::kMaxInputTotal;
  int64_t max_key = ConfigDefaults::kMaxKey;
  GrpcConfig grpc;  // server.grpc (config/envoy_config.h)
  HttpConfig http;  // server.http
  // The data socket's password (AUTH): given inline, or read from a file at
  // load (start and every reload) into `password`. At most one of the two.
  std::string requirepass;
  std::string requirepass_file;
  std::string password;  // the one in force: requirepass, or the file's first line
};

enum class LogFormat : uint8_t { kText, kJson };
enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError };

// `log:` — one line per event on stderr (journald, docker, a collector).
struct LogConfig {
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
};

struct TableConfig {
  int64_t max_keys = ConfigDefaults::kMaxKeys;
  Nanos idle_timeout = ConfigDefaults::kIdleTimeout;
  Nanos sweep_interval = ConfigDefaults::kSweepInterval;
  int shards = ConfigDefaults::kShards;
  int64_t max_holds = ConfigDefaults::kMaxHolds;
};

// storage.redis.sentinel: the primary is discovered from these sentinels
// (SENTINEL get-master-addr-by-name `master`). `password`: the sentinels'
// own (requirepass of the sentinel processes); the data nodes use
// storage.redis.password.
struct RedisSentinelConfig {
  std::string master;
  std::vector<std::string> nodes;  // "host:port", at least one
  std::string password;
};

// storage.redis.cluster: seed nodes of a Redis Cluster; the slot map is read
// from any of them (CLUSTER SLOTS).
struct RedisClusterConfig {
  std::vector<std::string> nodes;  // "host:port", at least one
};

// Which kind of Redis deployment a RedisConfig names (exactly one is set).
enum class RedisKind : uint8_t { kStandalone, kSentinel, kCluster };

// When storage.mode is redis exactly one of these is set: `socket`, `host`
// (+ `port`), `sentinel` or `cluster`.
struct RedisConfig {
  std::string socket;
  std::string host;
  int port = ConfigDefaults::kRedisPort;
  std::string password;
  std::string prefix{ConfigDefaults::kRedisPrefix};
  Nanos connect_timeout = ConfigDefaults::kRedisConnectTimeout;
  Nanos command_timeout = ConfigDefaults::kRedisCommandTimeout;
  int64_t buffer_max = ConfigDefaults::kRedisBufferMax;
  RedisSentinelConfig sentinel;
  RedisClusterConfig cluster;
  // After each write (counter batch, ledger batch, admin mutation) wait
  // until this many replicas acknowledged it (WAIT n wait_timeout); 0: do
  // not wait (asynchronous replication, the Redis default).
  int wait_replicas = 0;
  Nanos wait_timeout = ConfigDefaults::kRedisWaitTimeout;

  RedisKind kind() const {
    if (!cluster.nodes.empty()) return RedisKind::kCluster;
    if (!sentinel.master.empty()) return RedisKind::kSentinel;
    return RedisKind::kStandalone;
  }
};

struct StorageConfig {
  StorageMode mode = StorageMode::kEmbedded;
  std::string dir{ConfigDefaults::kStorageDir};
  Durability durability = Durability::kRelaxed;
  int64_t checkpoint_ms = ConfigDefaults::kCheckpointMs;
  Nanos snapshot_interval = ConfigDefaults::kSnapshotInterval;
  RedisConfig redis;
};

// Admin socket peers (control/admin_peers.h): root and the daemon's own uid
// unless admit_owner is false, plus these uids and (primary or
// supplementary) gids.
struct AdminConfig {
  std::vector<uint32_t> allow_uids;
  std::vector<uint32_t> allow_gids;
  bool admit_owner = true;
};

struct DedupConfig {
  Nanos window = ConfigDefaults::kDedupWindow;
  int64_t max_entries = ConfigDefaults::kDedupMaxEntries;
};

// One rung of a price ladder: a top-up of at least `prepay_from` minor units
// buys calls at `unit_price` minor units each.
struct PriceStepConfig {
  int64_t prepay_from = 0;
  int64_t unit_price = 0;
  int line = 0;
};

// Steps sorted by prepay_from descending; the last one has prepay_from 0.
// The engine builds its PriceLadder (engine/money/price_ladder.h) from this.
struct PriceLadderConfig {
  std::string name;
  std::vector<PriceStepConfig> steps;
  int line = 0;
};

struct ContractConfig {
  std::string key;
  ContractStatus status = ContractStatus::kActive;
  std::optional<Nanos> starts;   // calls before this instant are NOT_STARTED
  std::optional<Nanos> expires;  // calls from this instant on are EXPIRED
  std::string timezone;          // empty: the global `timezone`
  std::vector<std::string> channels;  // empty: any channel
  std::vector<std::string> purposes;  // empty: any purpose
  std::string pricing;                // empty: no prepaid balance
  HoldTimeoutPolicy hold_timeout = HoldTimeoutPolicy::kCancel;
  FailPolicy fail = FailPolicy::kLocal;
  // Fleet mode, fail: local: units per period and per limit this node may
  // admit beyond its lease while Redis is away (docs/fleet.md). -1: not set
  // (0 in a fleet: nothing beyond the lease).
  int64_t fail_local_budget = -1;
  std::vector<LimitSpec> limits;       // shared by all calls of the contract
  std::vector<LimitSpec> per_subject;  // one set per SUBJECT; counter types only
  std::vector<MonitorSpec> monitors;   // monitor/monitor_spec.h
  // Scheduled changes, by instant (config/contract_changes.h): the terms at
  // time t are the fields above plus every change with at <= t, in order.
  std::vector<ContractChange> changes;
  int line = 0;
};

// Generic keys: `match` is either a literal key or a prefix ending in `*`.
struct KeyClassConfig {
  std::string match;   // as written, e.g. "ip:*"
  std::string prefix;  // `match` without the trailing `*`
  bool is_prefix = false;
  std::vector<LimitSpec> limits;
  std::optional<Nanos> idle_timeout;  // overrides table.idle_timeout
  bool fleet = false;                 // fleet: true — shared fleet-wide (docs/fleet.md)
  int line = 0;
};

// fleet: (docs/fleet.md) — every contract's quotas and credits are leased
// from global pools in Redis. Needs storage.mode: redis.
struct FleetConfig {
  bool enabled = false;  // a fleet: section is present
  std::string node;      // unique in the fleet; empty: hostname:pid
  Nanos lease_ttl = 10 * kNanosPerSecond;
  int64_t refill_ms = 50;
  int line = 0;
};

struct Config {
  std::string file;  // where it was loaded from, for messages
  // The YAML as read by load_config_file (empty from parse_config): what the
  // call log stores at each config generation, for tollgate-replay to
  // rebuild exactly this configuration. The file includes no other file
  // that decides calls (server.requirepass_file only sets the password).
  std::string text;
  // A config with no contracts and no key classes is refused unless this is
  // true: an empty or truncated file must not silently drop every contract.
  bool allow_empty = false;
  ServerConfig server;
  LogConfig log;
  std::string timezone{ConfigDefaults::kTimezone};
  UnknownKeys unknown_keys = UnknownKeys::kDeny;
  bool shadow_mode = ConfigDefaults::kShadowMode;
  TableConfig table;
  StorageConfig storage;
  FleetConfig fleet;
  AdminConfig admin;
  DedupConfig dedup;
  int currency_decimals = ConfigDefaults::kCurrencyDecimals;
  std::map<std::string, PriceLadderConfig, std::less<>> pricing;
  // pricing.lot_validity: how long a lot's credits stay spendable (none: forever).
  LotValidity lot_validity;
  int lot_validity_line = 0;
  std::map<std::string, ContractConfig, std::less<>> contracts;
  std::vector<KeyClassConfig> key_classes;  // in file order
  EnvoyConfig envoy;  // envoy: (config/envoy_config.h)
  CallLogConfig call_log;  // call_log: (config/call_log_config.h)
  // Monitors every contract gets unless it has one of the same name.
  std::vector<MonitorSpec> monitor_defaults;
  MonitorEventsConfig monitor_events;
};

// Names of enum values as written in YAML (for messages, diffs and INFO).
// The tables live in config_names.h.
std::string_view yaml_name(LimitType type);
std::string_view yaml_name(Period period);
std::string_view yaml_name(UnknownKeys value);
std::string_view yaml_name(StorageMode mode);
std::string_view yaml_name(Durability value);
std::string_view yaml_name(ContractStatus status);
std::string_view yaml_name(HoldTimeoutPolicy policy);
std::string_view yaml_name(FailPolicy policy);
std::string_view yaml_name(LogFormat format);
std::string_view yaml_name(LogLevel level);

}  // namespace tollgate
