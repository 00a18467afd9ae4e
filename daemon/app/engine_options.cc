#include "app/engine_options.h"

namespace tollgate {

EngineOptions engine_options_from(const Config& config) {
  EngineOptions o;
  o.allow_unknown = config.unknown_keys == UnknownKeys::kAllow;
  o.shadow_mode = config.shadow_mode;
  o.timezone = config.timezone;
  o.idle_timeout = config.table.idle_timeout;
  o.sweep_interval = config.table.sweep_interval;
  o.table.shards = config.table.shards;
  o.table.max_dynamic_keys = static_cast<size_t>(config.table.max_keys);
  for (const auto& [key, contract] : config.contracts) {
    PolicySpec spec;
    spec.name = key;
    spec.limits = contract.limits;
    spec.timezone = contract.timezone;
    o.contracts.push_back(std::move(spec));
  }
  for (const auto& kc : config.key_classes) {
    PolicySpec spec;
    spec.name = kc.is_prefix ? kc.prefix + "*" : kc.match;
    spec.limits = kc.limits;
    spec.idle_timeout = kc.idle_timeout.value_or(0);
    o.key_classes.push_back(std::move(spec));
  }
  return o;
}

}  // namespace tollgate
