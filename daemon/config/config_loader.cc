#include "config/config_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "config/call_log_reader.h"
#include "config/config_paths.h"
#include "config/monitor_reader.h"
#include "config/contract_changes.h"
#include "config/contract_reader.h"
#include "config/envoy_reader.h"
#include "config/map_reader.h"
#include "config/memory_check.h"
#include "config/units.h"
#include "config/yaml_documents.h"
#include "net/tcp_socket.h"

namespace tollgate {
namespace {

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxMessageBytes = int64_t{1} << 30;  // one bulk string or inline line
constexpr int64_t kMaxUnixId = int64_t{std::numeric_limits<uint32_t>::max()} - 1;  // (uid_t)-1 means "none"
constexpr size_t kMaxSocketPath = 107;                 // sizeof(sockaddr_un::sun_path) - 1

// Resolves a socket path (config_paths.h) and checks it fits sockaddr_un.
void resolve_socket_path(const MapReader& section, std::string_view key, std::string_view base_dir,
                         std::string& path) {
  path = resolve_config_path(base_dir, path);
  if (path.size() <= kMaxSocketPath) return;
  const std::string reason = "Unix socket path " + path + " is longer than " + std::to_string(kMaxSocketPath) +
                             " bytes" + (section.find(key) == nullptr ? " (derived from server.socket)" : "");
  const MapReader::Entry* at = section.find(key) != nullptr ? section.find(key) : section.find("socket");
  if (at != nullptr) {
    section.error(*at, reason);
  } else {
    MapReader::Entry whole{std::string(key), YAML::Node(), section.line()};
    section.error(whole, reason);
  }
}

void read_socket_path(const MapReader& section, std::string_view key, std::string& out) {
  section.read_string(key, out);
}

// A group the daemon gives its socket to must exist now (chown needs a gid).
void read_group(const MapReader& section, std::string_view key, std::string& out) {
  if (!section.read_string(key, out)) return;
  if (!lookup_group(out)) {
    section.error(*section.find(key), "unknown group '" + out + "' (no such entry in /etc/group or NSS)");
    out.clear();
  }
}

// Redis's `timeout` is whole seconds; a duration with a unit works too. 0: off.
void read_timeout(const MapReader& section, std::string_view key, Nanos& out) {
  const MapReader::Entry* entry = section.find(key);
  if (entry == nullptr) return;
  const std::string text = entry->value.IsScalar() ? entry->value.Scalar() : std::string();
  if (auto seconds = parse_integer(text); seconds && *seconds >= 0 && *seconds <= 365 * 86400) {
    out = *seconds * kNanosPerSecond;
    return;
  }
  section.read_duration(key, out);
}

// server.http (see HttpConfig): each listen entry is checked here, so a typo
// is a config error rather than a failed start.
void read_http(ErrorSink& errors, const MapReader& server, HttpConfig& http, std::string_view base_dir) {
  const MapReader h = child(errors, server, "http",
                            {"listen", "socket_mode", "max_header_bytes", "max_body_bytes", "request_timeout",
                             "keepalive_timeout"});
  if (h.read_string_list("listen", http.listen)) {
    for (std::string& entry : http.listen) {
      std::string why;
      if (entry.starts_with("unix:")) {
        // A relative socket path means the config file's directory, as every path does.
        const std::string path = entry.size() > 5 ? resolve_config_path(base_dir, entry.substr(5)) : std::string();
        if (path.empty() || path.size() > kMaxSocketPath) why = "the socket path is empty or longer than 107 bytes";
        else entry = "unix:" + path;
      } else if (auto address = parse_tcp_address(entry); !address) {
        why = address.error() + " (write \"host:port\" or \"unix:path\")";
      }
      if (!why.empty()) h.error(*h.find("listen"), "'" + entry + "': " + why);
    }
  }
  h.read_file_mode("socket_mode", http.socket_mode);
  h.read_size("max_header_bytes", http.max_header_bytes, 256, 1 << 20);
  h.read_size("max_body_bytes", http.max_body_bytes, 0, 1 << 20);
  h.read_duration("request_timeout", http.request_timeout);
  h.read_duration("keepalive_timeout", http.keepalive_timeout);
}

// server.requirepass or server.requirepass_file (read now: at start and at
// every reload): the secret is the file's first line, without its newline.
constexpr size_t kMaxPassword = 4096;
void read_password(const MapReader& s, ServerConfig& server, std::string_view base_dir) {
  const bool inline_set = s.read_string("requirepass", server.requirepass);
  const bool file_set = s.read_string("requirepass_file", server.requirepass_file);
  if (inline_set && file_set) {
    s.error(*s.find("requirepass_file"), "set either requirepass or requirepass_file, not both");
    return;
  }
  if (inline_set) {
    if (server.requirepass.size() > kMaxPassword) s.error(*s.find("requirepass"), "password longer than 4096 bytes");
    server.password = server.requirepass;
    return;
  }
  if (!file_set) return;
  server.requirepass_file = resolve_config_path(base_dir, server.requirepass_file);  // the path rules
  const MapReader::Entry& at = *s.find("requirepass_file");
  const int fd = ::open(server.requirepass_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    s.error(at, "cannot read " + server.requirepass_file + ": " + std::strerror(errno));
    return;
  }
  std::string content(kMaxPassword + 2, '\0');
  size_t got = 0;
  for (;;) {
    const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s.error(at, "cannot read " + server.requirepass_file + ": " + std::strerror(errno));
      ::close(fd);
      return;
    }
    if (n == 0 || (got += static_cast<size_t>(n)) == content.size()) break;
  }
  ::close(fd);
  content.resize(got);
  content = content.substr(0, content.find('\n'));
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) return s.error(at, server.requirepass_file + " holds no password (its first line is empty)");
  if (content.size() > kMaxPassword) return s.error(at, "password longer than 4096 bytes in " + server.requirepass_file);
  server.password = std::move(content);
}

void read_server(ErrorSink& errors, const MapReader& root, ServerConfig& server, std::string_view base_dir) {
  const MapReader s = child(errors, root, "server",
                            {"socket", "socket_mode", "admin_socket", "admin_socket_mode", "threads",
                             "max_connections", "max_args", "max_bulk", "max_inline", "max_output",
                             "output_stall_timeout", "max_input_total", "max_key",
                             "socket_group", "admin_socket_group", "timeout", "frame_timeout", "grpc", "http",
                             "requirepass", "requirepass_file"});
  read_socket_path(s, "socket", server.socket);
  s.read_file_mode("socket_mode", server.socket_mode);
  read_socket_path(s, "admin_socket", server.admin_socket);
  if (server.admin_socket.empty()) server.admin_socket = default_admin_socket(server.socket);
  resolve_socket_path(s, "socket", base_dir, server.socket);
  // A derived admin socket is too long only because the data socket is: one error.
  if (s.find("admin_socket") != nullptr || server.socket.size() <= kMaxSocketPath)
    resolve_socket_path(s, "admin_socket", base_dir, server.admin_socket);
  s.read_file_mode("admin_socket_mode", server.admin_socket_mode);
  read_group(s, "socket_group", server.socket_group);
  read_group(s, "admin_socket_group", server.admin_socket_group);
  read_timeout(s, "timeout", server.timeout);
  read_timeout(s, "frame_timeout", server.frame_timeout);
  s.read_integer("threads", server.threads, 0, ConfigDefaults::kMaxThreads);
  s.read_integer("max_connections", server.max_connections, 1, kMaxInt32);
  s.read_integer("max_args", server.max_args, 1, kMaxInt32);
  s.read_size("max_bulk", server.max_bulk, 1, kMaxMessageBytes);
  s.read_size("max_inline", server.max_inline, 1, kMaxMessageBytes);
  s.read_size("max_output", server.max_output, 1, std::numeric_limits<int64_t>::max());
  s.read_duration("output_stall_timeout", server.output_stall_timeout);
  s.read_size("max_input_total", server.max_input_total, 1, std::numeric_limits<int64_t>::max());
  s.read_size("max_key", server.max_key, 1, kMaxMessageBytes);
  read_grpc(errors, s, server.grpc);
  read_http(errors, s, server.http, base_dir);
  read_password(s, server, base_dir);
  if (server.socket == server.admin_socket) {
    const MapReader::Entry* at = s.find("admin_socket") != nullptr ? s.find("admin_socket") : s.find("socket");
    if (at != nullptr) s.error(*at, "the data and admin sockets must be different paths");
  }
}

void read_table(ErrorSink& errors, const MapReader& root, TableConfig& table) {
  const MapReader t = child(errors, root, "table", {"max_keys", "idle_timeout", "sweep_interval", "shards", "max_holds"});
  t.read_integer("max_keys", table.max_keys, 1, ConfigDefaults::kMaxCount);
  t.read_integer("max_holds", table.max_holds, 1, 10'000'000);
  t.read_duration("idle_timeout", table.idle_timeout);
  t.read_duration("sweep_interval", table.sweep_interval);
  int shards = 0;
  if (t.read_integer("shards", shards, 1, ConfigDefaults::kMaxShards)) {
    if ((shards & (shards - 1)) != 0) {
      t.error(*t.find("shards"), "must be a power of two, got " + std::to_string(shards));
    } else {
      table.shards = shards;
    }
  }
}

// "host:port" with a port 1-65535 (the host may be a name, an IPv4 address
// or a bracketed IPv6 one); false and `why` otherwise.
bool valid_node_address(const std::string& node, std::string& why) {
  const size_t colon = node.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == node.size()) {
    why = "expected host:port, got '" + node + "'";
    return false;
  }
  int port = 0;
  const std::string digits = node.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos ||
      (port = std::stoi(digits)) < 1 || port > 65535) {
    why = "port of '" + node + "' must be 1-65535";
    return false;
  }
  return true;
}

// A non-empty list of host:port under `key` of `section`.
void read_node_list(const MapReader& section, std::string_view key, std::vector<std::string>& nodes) {
  const MapReader::Entry* entry = section.find(key);
  if (entry == nullptr) return;
  if (!section.read_string_list(key, nodes)) return;
  if (nodes.empty()) section.error(*entry, "needs at least one host:port");
  for (const std::string& node : nodes) {
    std::string why;
    if (!valid_node_address(node, why)) {
      section.error(*entry, why);
      break;
    }
  }
}

void read_redis(ErrorSink& errors, const MapReader& storage_section, StorageConfig& storage,
                std::string_view base_dir) {
  const MapReader r = child(errors, storage_section, "redis",
                            {"socket", "host", "port", "password", "prefix", "connect_timeout", "command_timeout",
                             "buffer_max", "sentinel", "cluster", "wait_replicas", "wait_timeout"});
  RedisConfig& redis = storage.redis;
  read_socket_path(r, "socket", redis.socket);
  if (!redis.socket.empty()) resolve_socket_path(r, "socket", base_dir, redis.socket);
  r.read_string("host", redis.host);
  r.read_integer("port", redis.port, 1, 65535);
  r.read_string("password", redis.password);
  r.read_string("prefix", redis.prefix);
  r.read_duration("connect_timeout", redis.connect_timeout);
  r.read_duration("command_timeout", redis.command_timeout);
  r.read_integer("buffer_max", redis.buffer_max, 1, ConfigDefaults::kMaxCount);
  r.read_integer("wait_replicas", redis.wait_replicas, 0, ConfigDefaults::kRedisMaxWaitReplicas);
  r.read_duration("wait_timeout", redis.wait_timeout);
  if (r.find("sentinel") != nullptr) {
    const MapReader s = child(errors, r, "sentinel", {"master", "nodes", "password"});
    s.read_string("master", redis.sentinel.master);
    read_node_list(s, "nodes", redis.sentinel.nodes);
    s.read_string("password", redis.sentinel.password);
    if (s.find("master") == nullptr || redis.sentinel.master.empty()) {
      errors.add(s.line(), "storage.redis.sentinel: needs master (the name the sentinels monitor)");
      redis.sentinel.master.clear();
    }
    if (s.find("nodes") == nullptr) errors.add(s.line(), "storage.redis.sentinel: needs nodes (host:port of the sentinels)");
  }
  if (r.find("cluster") != nullptr) {
    const MapReader c = child(errors, r, "cluster", {"nodes"});
    read_node_list(c, "nodes", redis.cluster.nodes);
    if (c.find("nodes") == nullptr) errors.add(c.line(), "storage.redis.cluster: needs nodes (host:port of seed nodes)");
  }
  const int kinds = (r.find("socket") != nullptr || r.find("host") != nullptr ? 1 : 0) +
                    (r.find("sentinel") != nullptr ? 1 : 0) + (r.find("cluster") != nullptr ? 1 : 0);
  if (r.find("socket") != nullptr && r.find("host") != nullptr) {
    r.error(*r.find("host"), "give either socket or host, not both");
  } else if (r.find("port") != nullptr && r.find("host") == nullptr) {
    r.error(*r.find("port"), "port needs a host");
  } else if (kinds > 1) {
    r.error(*(r.find("cluster") != nullptr ? r.find("cluster") : r.find("sentinel")),
            "give one of socket, host, sentinel or cluster (one Redis deployment)");
  }
  if (r.find("wait_timeout") != nullptr && r.find("wait_replicas") == nullptr)
    r.error(*r.find("wait_timeout"), "wait_timeout needs wait_replicas");
  else if (redis.wait_replicas > 0 && redis.wait_timeout >= redis.command_timeout)
    r.error(*(r.find("wait_timeout") != nullptr ? r.find("wait_timeout") : r.find("wait_replicas")),
            "wait_timeout must be shorter than command_timeout (WAIT holds the connection that long)");
  if (storage.mode == StorageMode::kRedis && kinds == 0) {
    const MapReader::Entry* mode = storage_section.find("mode");
    errors.add(storage_section.find("redis") != nullptr ? r.line() : storage_section.value_line(*mode),
               "storage.redis: mode redis needs redis.socket, redis.host, redis.sentinel or redis.cluster");
  }
}

void read_storage(ErrorSink& errors, const MapReader& root, StorageConfig& storage, std::string_view base_dir) {
  const MapReader s = child(errors, root, "storage",
                            {"mode", "dir", "durability", "checkpoint_ms", "snapshot_interval", "redis"});
  s.read_choice("mode", storage.mode, kStorageModeNames);
  s.read_string("dir", storage.dir);
  storage.dir = resolve_config_path(base_dir, storage.dir);
  s.read_choice("durability", storage.durability, kDurabilityNames);
  s.read_integer("checkpoint_ms", storage.checkpoint_ms, 1, 3'600'000);
  s.read_duration("snapshot_interval", storage.snapshot_interval);
  read_redis(errors, s, storage, base_dir);
  if (storage.mode == StorageMode::kRedis && storage.durability == Durability::kStrict) {
    s.error(*s.find("durability"), "'strict' applies to the embedded store only; with storage.mode redis charges are "
                                   "written behind every checkpoint_ms (use relaxed)");
  }
}

void read_id_list(ErrorSink& errors, const MapReader& section, std::string_view key, std::vector<uint32_t>& out) {
  const MapReader::Entry* entry = section.find(key);
  if (entry == nullptr) return;
  const std::string path = section.path_of(key);
  for (const YAML::Node& item : sequence_items(errors, entry->value, path, entry->key_line)) {
    const int line = line_of(item, entry->key_line);
    const std::string text = item.IsScalar() ? item.Scalar() : std::string();
    auto value = parse_integer(text);
    if (!value || *value < 0 || *value > kMaxUnixId) {
      errors.add(line, path + ": expected a numeric id between 0 and " + std::to_string(kMaxUnixId) + ", got '" +
                           text + "'");
    } else if (std::find(out.begin(), out.end(), *value) != out.end()) {
      errors.add(line, path + ": duplicate id " + text);
    } else {
      out.push_back(static_cast<uint32_t>(*value));
    }
  }
}

void read_admin(ErrorSink& errors, const MapReader& root, AdminConfig& admin) {
  const MapReader a = child(errors, root, "admin", {"allow_uids", "allow_gids", "admit_owner"});
  read_id_list(errors, a, "allow_uids", admin.allow_uids);
  read_id_list(errors, a, "allow_gids", admin.allow_gids);
  a.read_bool("admit_owner", admin.admit_owner);
  if (!admin.admit_owner && admin.allow_uids.empty() && admin.allow_gids.empty()) {
    const MapReader::Entry* entry = a.find("admit_owner");
    errors.add(entry != nullptr ? entry->key_line : 0,
               "admin.admit_owner: false with no allow_uids or allow_gids would let nobody use the admin socket");
  }
}

void read_log(ErrorSink& errors, const MapReader& root, LogConfig& log) {
  const MapReader l = child(errors, root, "log", {"format", "level"});
  l.read_choice("format", log.format, kLogFormatNames);
  l.read_choice("level", log.level, kLogLevelNames);
}

void read_dedup(ErrorSink& errors, const MapReader& root, DedupConfig& dedup) {
  const MapReader d = child(errors, root, "dedup", {"window", "max_entries"});
  d.read_duration("window", dedup.window);
  d.read_integer("max_entries", dedup.max_entries, 1, ConfigDefaults::kMaxCount);
}

// A contract or literal key class longer than server.max_key could never be
// named by a command (they refuse longer keys).
void check_key_lengths(ErrorSink& errors, const Config& config) {
  const auto max_key = static_cast<size_t>(config.server.max_key);
  for (const auto& [key, contract] : config.contracts) {
    if (key.size() > max_key)
      errors.add(contract.line, "contracts: key of " + std::to_string(key.size()) +
                                    " bytes is longer than server.max_key (" + std::to_string(max_key) + ")");
  }
  for (const KeyClassConfig& kc : config.key_classes) {
    if (kc.prefix.size() > max_key)
      errors.add(kc.line, "key_classes: match '" + (kc.match.size() > 64 ? kc.match.substr(0, 64) + "..." : kc.match) +
                              "' is longer than server.max_key (" + std::to_string(max_key) + ")");
  }
}

// An empty, comments-only or truncated file parses to no contracts at all;
// a reload must not take that for "drop every contract".
void check_not_empty(ErrorSink& errors, const MapReader& root, const Config& config) {
  if (config.allow_empty || !config.contracts.empty() || !config.key_classes.empty()) return;
  const MapReader::Entry* at = root.find("contracts") != nullptr ? root.find("contracts") : root.find("key_classes");
  errors.add(at != nullptr ? at->key_line : 0,
             "the configuration defines no contracts and no key_classes (an empty or truncated file?); every call "
             "would be refused as UNKNOWN. Set 'allow_empty: true' if that is what you want");
}

// fleet: — see FleetConfig. A contract's fail_local_budget means something only in a fleet.
void read_fleet(ErrorSink& errors, const MapReader& root, Config& config) {
  const MapReader::Entry* entry = root.find("fleet");
  for (const auto& [key, contract] : config.contracts) {
    if (contract.fail_local_budget >= 0 && entry == nullptr)
      errors.add(contract.line, "contracts." + key + ".fail_local_budget: applies only with a fleet: section");
  }
  if (entry == nullptr) return;
  const MapReader f = child(errors, root, "fleet", {"node", "lease_ttl", "refill_ms"});
  config.fleet.enabled = true;
  config.fleet.line = entry->key_line;
  if (f.read_string("node", config.fleet.node)) {
    const std::string& node = config.fleet.node;
    if (node.empty() || node.size() > 128 ||
        std::any_of(node.begin(), node.end(), [](char c) { return c <= ' ' || c == '|' || c == 0x7f; }))
      f.error(*f.find("node"), "must be 1 to 128 printable characters without spaces or '|'");
  }
  // A fleet pool's credits are leased out to nodes (docs/fleet.md); taking
  // expired credits back out of every node's lease exactly is not built yet.
  if (config.lot_validity.enabled())
    errors.add(config.lot_validity_line,
               "pricing.lot_validity: not supported with fleet: yet (a fleet pool's credits are leased to nodes and "
               "cannot be expired exactly; docs/fleet.md)");
  if (f.read_duration("lease_ttl", config.fleet.lease_ttl) && config.fleet.lease_ttl < 100 * kNanosPerMilli)
    f.error(*f.find("lease_ttl"), "must be at least 100ms");
  f.read_integer("refill_ms", config.fleet.refill_ms, 1, 60'000);
  if (config.storage.mode != StorageMode::kRedis)
    errors.add(entry->key_line, "fleet: needs storage.mode: redis (the global pools live in Redis)");
}

void read_config(ErrorSink& errors, const YAML::Node& node, Config& config, std::string_view base_dir) {
  const MapReader root(errors, node, "",
                       {"server", "log", "timezone", "unknown_keys", "shadow_mode", "allow_empty", "table", "storage", "admin",
                        "fleet", "dedup", "currency_decimals", "pricing", "contracts", "key_classes", "envoy", "call_log",
                        "monitor_defaults", "monitor_events"},
                       1);
  if (!root.is_map()) return;
  root.read_bool("allow_empty", config.allow_empty);
  read_server(errors, root, config.server, base_dir);
  read_log(errors, root, config.log);
  root.read_timezone("timezone", config.timezone);
  root.read_choice("unknown_keys", config.unknown_keys, kUnknownKeysNames);
  root.read_bool("shadow_mode", config.shadow_mode);
  read_table(errors, root, config.table);
  read_storage(errors, root, config.storage, base_dir);
  read_admin(errors, root, config.admin);
  read_dedup(errors, root, config.dedup);
  root.read_integer("currency_decimals", config.currency_decimals, 0, ConfigDefaults::kMaxCurrencyDecimals);
  read_pricing_contracts_and_key_classes(errors, root, config);
  read_envoy(errors, root, config.envoy);
  read_fleet(errors, root, config);
  read_call_log(errors, root, config.call_log, base_dir);
  read_monitor_list(errors, root, "monitor_defaults", /*has_channels=*/true, config.monitor_defaults);
  check_monitor_limits(errors, config);
  read_monitor_events(errors, root, base_dir, config.monitor_events);
  check_key_lengths(errors, config);
  if (errors.count() > 0) return;  // sizes and emptiness mean something only in a valid file
  check_not_empty(errors, root, config);
  check_memory(errors, root, config, physical_memory_bytes());
}

int error_line(const YAML::Mark& mark) { return mark.line >= 0 ? mark.line + 1 : 0; }

}  // namespace

std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view yaml_text,
                                                             const std::string& file_name) {
  return parse_config(yaml_text, file_name, std::string_view());
}

std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view yaml_text, const std::string& file_name,
                                                             std::string_view base_dir) {
  ErrorSink errors(file_name);
  Config config;
  config.file = file_name;
  try {
    const YamlDocuments documents = load_yaml_documents(yaml_text);  // not YAML::LoadAll: it can hang
    if (documents.second_line) errors.add(*documents.second_line, "only one YAML document is allowed per file");
    read_config(errors, documents.first, config, base_dir);
  } catch (const YAML::Exception& e) {
    return std::unexpected(std::vector<ConfigError>{{file_name, error_line(e.mark), "YAML syntax error: " + e.msg}});
  }
  if (errors.count() > 0) return std::unexpected(errors.take());
  return config;
}

// Only a regular file of bounded size is read: a directory reads as empty,
// /dev/zero never ends, and a FIFO would block the reload (hence O_NONBLOCK
// on open, and fstat on the opened descriptor, not the path).
std::expected<Config, std::vector<ConfigError>> load_config_file(const std::string& path) {
  auto whole_file = [&](std::string reason) {
    return std::unexpected(std::vector<ConfigError>{{path, 0, std::move(reason)}});
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return whole_file(std::string("cannot open: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return whole_file(std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return whole_file("is a directory, not a config file");
  if (!S_ISREG(st.st_mode)) return whole_file("is not a regular file (a device, FIFO or socket), not a config file");
  const auto too_big = [&] {
    return whole_file("is larger than " + std::to_string(kMaxConfigFileBytes >> 20) +
                      " MiB, the most a config file may be");
  };
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) return too_big();
  std::string text;
  text.resize(static_cast<size_t>(st.st_size) + 1);  // + 1: notices a file that grew past its size
  size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() > kMaxConfigFileBytes) return too_big();
      text.resize(std::min<size_t>(text.size() * 2, kMaxConfigFileBytes + 1));
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return whole_file(std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxConfigFileBytes) return too_big();
  text.resize(got);
  auto config = parse_config(text, path, config_base_dir(path));
  if (config) config->text = std::move(text);
  return config;
}

}  // namespace tollgate
