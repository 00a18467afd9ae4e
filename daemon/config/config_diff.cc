#include "config/config_diff.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <type_traits>
#include <utility>

#include "config/units.h"

namespace tollgate {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string yes_no(bool value) { return value ? "true" : "false"; }

std::string octal(int mode) {
  char text[8];
  std::snprintf(text, sizeof text, "0%o", mode);
  return text;
}

template <typename T>
std::string join(const std::vector<T>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      out += item;
    } else {
      out += std::to_string(item);
    }
  }
  return out + "]";
}

std::string optional_instant(const std::optional<Nanos>& t) { return t ? format_instant(*t) : "(none)"; }

// The parameters that define a limit's behaviour, by type, as written in YAML.
Fields limit_fields(const LimitSpec& limit) {
  Fields fields = {{"type", std::string(yaml_name(limit.type))}, {"shadow", yes_no(limit.shadow)}};
  switch (limit.type) {
    case LimitType::kTokenBucket:
      fields.insert(fields.end(), {{"rate", std::to_string(limit.rate)},
                                   {"per", format_duration(limit.per)},
                                   {"burst", std::to_string(limit.burst)}});
      break;
    case LimitType::kSlidingWindow:
      fields.insert(fields.end(), {{"limit", std::to_string(limit.limit)},
                                   {"window", format_duration(limit.window)},
                                   {"sub_buckets", std::to_string(limit.sub_buckets)}});
      break;
    case LimitType::kQuota:
    case LimitType::kDistinctSubjects:
      fields.insert(fields.end(), {{"limit", std::to_string(limit.limit)},
                                   {"period", std::string(yaml_name(limit.period))},
                                   {"timezone", limit.timezone.empty() ? "(default)" : limit.timezone}});
      break;
    case LimitType::kConcurrency:
      fields.emplace_back("limit", std::to_string(limit.limit));
      break;
  }
  return fields;
}

// "a 1 -> 2, b x -> y" over the union of both field lists, in order.
std::string describe_field_changes(const Fields& old_fields, const Fields& new_fields) {
  const auto find = [](const Fields& fields, const std::string& name) -> const std::string* {
    for (const auto& [key, value] : fields) {
      if (key == name) return &value;
    }
    return nullptr;
  };
  const auto value_in = [&](const Fields& fields, const std::string& name) -> std::string {
    const std::string* value = find(fields, name);
    return value != nullptr ? *value : "(none)";
  };
  Fields all = old_fields;
  for (const auto& field : new_fields) {
    if (find(old_fields, field.first) == nullptr) all.push_back(field);
  }
  std::string out;
  for (const auto& [name, unused] : all) {
    const std::string before = value_in(old_fields, name);
    const std::string after = value_in(new_fields, name);
    if (before == after) continue;
    if (!out.empty()) out += ", ";
    out += name + " " + before + " -> " + after;
  }
  return out;
}

std::string_view envoy_default_name(EnvoyDefault d) { return d == EnvoyDefault::kOk ? "ok" : "over_limit"; }

// server.grpc and envoy.unknown_domain (the domains are diffed by name).
void append_grpc_and_envoy(const Config& c, Fields& fields) {
  fields.push_back({"server.grpc.listen", c.server.grpc.listen.empty() ? "(none)" : c.server.grpc.listen});
  fields.push_back({"server.grpc.threads", std::to_string(c.server.grpc.threads)});
  fields.push_back({"server.grpc.max_descriptors", std::to_string(c.server.grpc.max_descriptors)});
  fields.push_back({"envoy.unknown_domain", std::string(envoy_default_name(c.envoy.unknown_domain))});
}

std::string envoy_domain_text(const EnvoyDomainConfig& d) {
  return "key=" + d.key + " channel=" + d.channel + " purpose=" + d.purpose + " subject=" + d.subject +
         " unmatched=" + std::string(envoy_default_name(d.unmatched));
}

// Every scalar setting outside pricing/contracts/key_classes, flattened.
Fields settings(const Config& c) {
  const ServerConfig& s = c.server;
  const StorageConfig& st = c.storage;
  const RedisConfig& r = st.redis;
  Fields fields{
      {"server.socket", s.socket},
      {"server.socket_mode", octal(s.socket_mode)},
      {"server.admin_socket", s.admin_socket},
      {"server.admin_socket_mode", octal(s.admin_socket_mode)},
      {"server.threads", std::to_string(s.threads)},
      {"server.max_connections", std::to_string(s.max_connections)},
      {"server.max_args", std::to_string(s.max_args)},
      {"server.max_bulk", std::to_string(s.max_bulk)},
      {"server.max_inline", std::to_string(s.max_inline)},
      {"server.max_output", std::to_string(s.max_output)},
      {"server.output_stall_timeout", format_duration(s.output_stall_timeout)},
      {"server.max_input_total", std::to_string(s.max_input_total)},
      {"server.max_key", std::to_string(s.max_key)},
      {"server.socket_group", s.socket_group},
      {"server.admin_socket_group", s.admin_socket_group},
      {"server.timeout", s.timeout == 0 ? std::string("0") : format_duration(s.timeout)},
      {"server.frame_timeout", s.frame_timeout == 0 ? std::string("0") : format_duration(s.frame_timeout)},
      {"log.format", std::string(yaml_name(c.log.format))},
      {"log.level", std::string(yaml_name(c.log.level))},
      {"server.http.listen", join(s.http.listen)},
      {"server.http.socket_mode", octal(s.http.socket_mode)},
      {"server.http.max_header_bytes", std::to_string(s.http.max_header_bytes)},
      {"server.http.max_body_bytes", std::to_string(s.http.max_body_bytes)},
      {"server.http.request_timeout", format_duration(s.http.request_timeout)},
      {"server.http.keepalive_timeout", format_duration(s.http.keepalive_timeout)},
      {"server.requirepass_file", s.requirepass_file},
      {"server.requirepass", s.password.empty() ? "(none)" : "(set)"},  // never the password itself
      {"timezone", c.timezone},
      {"unknown_keys", std::string(yaml_name(c.unknown_keys))},
      {"shadow_mode", yes_no(c.shadow_mode)},
      {"allow_empty", yes_no(c.allow_empty)},
      {"table.max_keys", std::to_string(c.table.max_keys)},
      {"table.idle_timeout", format_duration(c.table.idle_timeout)},
      {"table.sweep_interval", format_duration(c.table.sweep_interval)},
      {"table.shards", std::to_string(c.table.shards)},
      {"storage.mode", std::string(yaml_name(st.mode))},
      {"storage.dir", st.dir},
      {"storage.durability", std::string(yaml_name(st.durability))},
      {"storage.checkpoint_ms", std::to_string(st.checkpoint_ms)},
      {"storage.snapshot_interval", format_duration(st.snapshot_interval)},
      {"storage.redis.socket", r.socket},
      {"storage.redis.host", r.host},
      {"storage.redis.port", std::to_string(r.port)},
      // Never print the password; a changed hash-free marker is enough.
      {"storage.redis.password", r.password.empty() ? "(none)" : "(set, " + std::to_string(r.password.size()) + " chars)"},
      {"storage.redis.prefix", r.prefix},
      {"storage.redis.connect_timeout", format_duration(r.connect_timeout)},
      {"storage.redis.command_timeout", format_duration(r.command_timeout)},
      {"storage.redis.buffer_max", std::to_string(r.buffer_max)},
      {"storage.redis.sentinel.master", r.sentinel.master},
      {"storage.redis.sentinel.nodes", join(r.sentinel.nodes)},
      {"storage.redis.sentinel.password", r.sentinel.password.empty() ? "(none)" : "(set)"},
      {"storage.redis.cluster.nodes", join(r.cluster.nodes)},
      {"storage.redis.wait_replicas", std::to_string(r.wait_replicas)},
      {"storage.redis.wait_timeout", format_duration(r.wait_timeout)},
      {"admin.allow_uids", join(c.admin.allow_uids)},
      {"admin.allow_gids", join(c.admin.allow_gids)},
      {"admin.admit_owner", c.admin.admit_owner ? "true" : "false"},
      {"dedup.window", format_duration(c.dedup.window)},
      {"dedup.max_entries", std::to_string(c.dedup.max_entries)},
      {"currency_decimals", std::to_string(c.currency_decimals)},
      {"fleet", c.fleet.enabled ? "on" : "off"},
      {"fleet.node", c.fleet.node},
      {"fleet.lease_ttl", format_duration(c.fleet.lease_ttl)},
      {"fleet.refill_ms", std::to_string(c.fleet.refill_ms)},
  };
  append_grpc_and_envoy(c, fields);
  return fields;
}

std::string ladder_text(const PriceLadderConfig& ladder) {
  std::string out;
  for (const PriceStepConfig& step : ladder.steps) {
    if (!out.empty()) out += " ";
    out += std::to_string(step.prepay_from) + ":" + std::to_string(step.unit_price);
  }
  return out;
}

Fields contract_fields(const ContractConfig& c) {
  return {
      {"status", std::string(yaml_name(c.status))},
      {"starts", optional_instant(c.starts)},
      {"expires", optional_instant(c.expires)},
      {"timezone", c.timezone.empty() ? "(default)" : c.timezone},
      {"channels", join(c.channels)},
      {"purposes", join(c.purposes)},
      {"pricing", c.pricing.empty() ? "(none)" : c.pricing},
      {"hold_timeout", std::string(yaml_name(c.hold_timeout))},
      {"fail", std::string(yaml_name(c.fail))},
      {"fail_local_budget", c.fail_local_budget < 0 ? "(none)" : std::to_string(c.fail_local_budget)},
  };
}

const LimitSpec* find_limit(const std::vector<LimitSpec>& limits, const std::string& name) {
  auto it = std::find_if(limits.begin(), limits.end(), [&](const LimitSpec& l) { return l.name == name; });
  return it == limits.end() ? nullptr : &*it;
}

// Appends "<owner>: + limit x" / "- limit x" / "limit x changed (...)".
void diff_limits(const std::string& owner, const std::string& kind, const std::vector<LimitSpec>& before,
                 const std::vector<LimitSpec>& after, std::vector<std::string>& out) {
  for (const LimitSpec& old_limit : before) {
    const LimitSpec* new_limit = find_limit(after, old_limit.name);
    if (new_limit == nullptr) {
      out.push_back(owner + ": - " + kind + " " + old_limit.name);
    } else if (std::string change = describe_limit_change(old_limit, *new_limit); !change.empty()) {
      out.push_back(owner + ": " + kind + " " + old_limit.name + " changed (" + change + ")");
    }
  }
  for (const LimitSpec& new_limit : after) {
    if (find_limit(before, new_limit.name) == nullptr) out.push_back(owner + ": + " + kind + " " + new_limit.name);
  }
}

// Walks two name-keyed maps: `removed`, `added` and `both` get the entries.
template <typename Map, typename Removed, typename Added, typename Both>
void walk(const Map& before, const Map& after, Removed removed, Added added, Both both) {
  for (const auto& [name, value] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      removed(name);
    } else {
      both(name, value, it->second);
    }
  }
  for (const auto& [name, value] : after) {
    if (!before.contains(name)) added(name);
  }
}

}  // namespace

std::string describe_limit_change(const LimitSpec& old_limit, const LimitSpec& new_limit) {
  return describe_field_changes(limit_fields(old_limit), limit_fields(new_limit));
}

std::vector<std::string> diff_configs(const Config& old_cfg, const Config& new_cfg) {
  std::vector<std::string> out;
  const Fields old_settings = settings(old_cfg);
  const Fields new_settings = settings(new_cfg);
  for (size_t i = 0; i < old_settings.size(); ++i) {
    if (old_settings[i].second != new_settings[i].second) {
      out.push_back(old_settings[i].first + ": " + old_settings[i].second + " -> " + new_settings[i].second);
    }
  }

  std::map<std::string, std::string> old_domains, new_domains;
  for (const EnvoyDomainConfig& d : old_cfg.envoy.domains) old_domains[d.domain] = envoy_domain_text(d);
  for (const EnvoyDomainConfig& d : new_cfg.envoy.domains) new_domains[d.domain] = envoy_domain_text(d);
  walk(
      old_domains, new_domains, [&](const std::string& name) { out.push_back("- envoy domain " + name); },
      [&](const std::string& name) { out.push_back("+ envoy domain " + name); },
      [&](const std::string& name, const std::string& a, const std::string& b) {
        if (a != b) out.push_back("envoy domain " + name + " changed (" + a + " -> " + b + ")");
      });

  walk(
      old_cfg.pricing, new_cfg.pricing, [&](const std::string& name) { out.push_back("- pricing " + name); },
      [&](const std::string& name) { out.push_back("+ pricing " + name); },
      [&](const std::string& name, const PriceLadderConfig& a, const PriceLadderConfig& b) {
        if (ladder_text(a) != ladder_text(b)) {
          out.push_back("pricing " + name + " changed (" + ladder_text(a) + " -> " + ladder_text(b) + ")");
        }
      });
  // Bought lots keep their instant: a change applies to later recharges only.
  if (old_cfg.lot_validity != new_cfg.lot_validity) {
    const auto text = [](const LotValidity& v) { return v.enabled() ? format_lot_validity(v) : std::string("(none)"); };
    out.push_back("pricing.lot_validity changed (" + text(old_cfg.lot_validity) + " -> " + text(new_cfg.lot_validity) +
                  "; existing lots keep theirs)");
  }

  walk(
      old_cfg.contracts, new_cfg.contracts, [&](const std::string& name) { out.push_back("- contract " + name); },
      [&](const std::string& name) { out.push_back("+ contract " + name); },
      [&](const std::string& name, const ContractConfig& a, const ContractConfig& b) {
        const std::string owner = "contract " + name;
        if (std::string change = describe_field_changes(contract_fields(a), contract_fields(b)); !change.empty()) {
          out.push_back(owner + ": " + change);
        }
        diff_limits(owner, "limit", a.limits, b.limits, out);
        diff_limits(owner, "per_subject limit", a.per_subject, b.per_subject, out);
      });

  std::map<std::string, const KeyClassConfig*> old_classes, new_classes;
  for (const KeyClassConfig& k : old_cfg.key_classes) old_classes.emplace(k.match, &k);
  for (const KeyClassConfig& k : new_cfg.key_classes) new_classes.emplace(k.match, &k);
  walk(
      old_classes, new_classes, [&](const std::string& match) { out.push_back("- key_class " + match); },
      [&](const std::string& match) { out.push_back("+ key_class " + match); },
      [&](const std::string& match, const KeyClassConfig* a, const KeyClassConfig* b) {
        const std::string owner = "key_class " + match;
        const auto idle = [](const KeyClassConfig* k) {
          return k->idle_timeout ? format_duration(*k->idle_timeout) : std::string("(default)");
        };
        if (idle(a) != idle(b)) out.push_back(owner + ": idle_timeout " + idle(a) + " -> " + idle(b));
        diff_limits(owner, "limit", a->limits, b->limits, out);
      });
  return out;
}

}  // namespace tollgate
