#include "control/engine_options.h"

#include <algorithm>

#include "config/contract_changes.h"

namespace tollgate {
namespace {

// A contract's rules (scope, status, expiry, pricing, concurrency) from its terms.
ContractRules contract_rules(const Config& config, const ContractConfig& contract) {
  ContractRules rules;
  rules.status = contract.status;
  rules.starts = contract.starts;
  rules.expires = contract.expires;
  rules.channels = contract.channels;
  rules.purposes = contract.purposes;
  rules.hold_timeout = contract.hold_timeout;
  rules.fail = contract.fail;
  // In a fleet an unset budget is 0: nothing beyond the lease (docs/fleet.md).
  rules.fail_local_budget =
      config.fleet.enabled ? std::max<int64_t>(0, contract.fail_local_budget) : contract.fail_local_budget;
  if (!contract.pricing.empty()) {
    auto it = config.pricing.find(contract.pricing);
    if (it != config.pricing.end()) {
      std::vector<PriceStep> steps;
      for (const auto& st : it->second.steps) steps.push_back({st.prepay_from, st.unit_price});
      // The loader validated the ladder; create() re-checks the same rules.
      if (auto ladder = PriceLadder::create(std::move(steps))) rules.pricing = std::move(*ladder);
      rules.pricing_name = contract.pricing;
      rules.lot_validity = config.lot_validity;
      rules.lot_zone = contract.timezone.empty() ? config.timezone : contract.timezone;
    }
  }
  for (const auto& limit : contract.limits)
    if (limit.type == LimitType::kConcurrency) rules.concurrency.push_back({limit.name, limit.limit, limit.shadow});
  return rules;
}

}  // namespace

EngineOptions engine_options_from(const Config& config, int workers) {
  EngineOptions o;
  o.workers = workers;
  o.allow_unknown = config.unknown_keys == UnknownKeys::kAllow;
  o.shadow_mode = config.shadow_mode;
  o.timezone = config.timezone;
  o.idle_timeout = config.table.idle_timeout;
  o.sweep_interval = config.table.sweep_interval;
  o.table.shards = config.table.shards;
  o.table.max_dynamic_keys = static_cast<size_t>(config.table.max_keys);
  o.dedup_window = config.dedup.window;
  o.dedup_max_entries = static_cast<size_t>(config.dedup.max_entries);
  o.max_holds = static_cast<size_t>(config.table.max_holds);
  o.track_changes = config.storage.mode == StorageMode::kEmbedded;  // its checkpoints take the dirty log
  for (const auto& [key, contract] : config.contracts) {
    PolicySpec spec;
    spec.name = key;
    spec.limits = contract.limits;
    spec.timezone = contract.timezone;
    spec.rules = contract_rules(config, contract);
    spec.per_subject = contract.per_subject;
    // Pending scheduled changes: the whole terms after each, in order.
    ContractConfig terms = contract;
    for (const ContractChange& change : contract.changes) {
      apply_change(terms, change);
      o.schedules[key].push_back({change.at, describe_change(change), terms.limits, contract_rules(config, terms)});
    }
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

std::expected<std::unique_ptr<Engine>, std::vector<std::string>> engine_for_reload(const EngineOptions& options,
                                                                                     Reclaimer& reclaimer, Nanos now,
                                                                                     RuntimeState& state,
                                                                                     Engine& running) {
  return Engine::create(options, reclaimer, now, state, &running);
}

void retire_engine(Reclaimer& reclaimer, std::function<Engine&()> current, Engine* old, Nanos now) {
  reclaimer.retire([current = std::move(current), old, now] {
    current().adopt_entries(now);
    delete old;
  });
}

}  // namespace tollgate
