#include "control/fleet_actions.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "persist/state_codec.h"

namespace tollgate {

bool same_instance(const ActiveAction& a, const ActiveAction& b) {
  return a.same_target(b) && a.since == b.since && a.until == b.until && a.reason == b.reason &&
         a.rate == b.rate && a.per == b.per && a.burst == b.burst;
}

std::vector<RemoteActionChange> plan_remote_actions(const std::vector<StoredAction>& stored,
                                                    const std::map<std::string, std::vector<ActiveAction>>& local,
                                                    Nanos now) {
  std::vector<RemoteActionChange> out;
  for (const StoredAction& s : stored) {
    if (s.action.until <= now) continue;  // expired: lifted by every runner, never put in force by a read
    bool in_force = false;
    if (auto it = local.find(s.contract); it != local.end())
      for (const ActiveAction& l : it->second) in_force = in_force || same_instance(l, s.action);
    if (!in_force) out.push_back({s.contract, s.action, false, false, {}});
  }
  for (const auto& [contract, actions] : local) {
    for (const ActiveAction& l : actions) {
      bool held = false;
      for (const StoredAction& s : stored) held = held || (s.contract == contract && s.action.same_target(l));
      if (held) continue;
      const bool expired = l.until <= now;
      out.push_back({contract, l, true, !expired, expired ? "expired" : "cleared on another daemon"});
    }
  }
  return out;
}

FleetActions::FleetActions(ContractAdmin& admin, MonitorRunner& monitors, RuntimeState& state)
    : admin_(admin), monitors_(monitors), state_(state) {}

void FleetActions::on_read(uint64_t seen, const std::vector<std::pair<std::string, std::string>>& hash, Nanos now) {
  std::vector<StoredAction> stored;
  stored.reserve(hash.size());
  for (const auto& [field, value] : hash) {
    auto image = persist::decode_contract(value);
    if (!image || image->actions.size() != 1) {
      if (malformed_.fetch_add(1, std::memory_order_relaxed) == 0)
        spdlog::error("fleet: monitor action {} in Redis does not decode; ignored", field);
      continue;
    }
    stored.push_back({image->key, std::move(image->actions.front())});
  }
  std::vector<std::pair<RemoteActionChange, std::string>> refused;
  auto plan = [&] {
    std::map<std::string, std::vector<ActiveAction>> local;
    for (ContractState* st : state_.all()) {
      std::vector<ActiveAction> actions = st->actions();
      if (!actions.empty()) local.emplace(st->key(), std::move(actions));
    }
    return plan_remote_actions(stored, local, now);
  };
  auto applied = admin_.apply_remote_actions(seen, plan, now, &refused);
  if (!applied) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (const auto& [change, why] : refused) {
    // Retried at every read (the config may catch up by a reload); logged once per instance.
    if (refused_logged_.insert(fmt::format("{}|{}|{}", change.contract, change.action.monitor, change.action.since))
            .second) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("fleet: monitor action {} of '{}' (put in force on another daemon) cannot apply here: {}",
                   change.action.monitor, change.contract, why);
    }
  }
  if (applied->empty()) return;
  changes_.fetch_add(applied->size(), std::memory_order_relaxed);
  for (const RemoteActionChange& c : *applied)
    spdlog::info("fleet: monitor action {} of '{}' {} (changed on another daemon)", c.action.monitor, c.contract,
                 c.lift ? "lifted: " + c.why : "in force until " + format_instant(c.action.until, "UTC"));
  monitors_.on_fleet_actions(*applied, now);  // after the admin lock (the runner's lock comes first elsewhere)
}

FleetActions::Counters FleetActions::counters() const {
  return {changes_.load(std::memory_order_relaxed), skipped_.load(std::memory_order_relaxed),
          refused_.load(std::memory_order_relaxed), malformed_.load(std::memory_order_relaxed)};
}

}  // namespace tollgate
