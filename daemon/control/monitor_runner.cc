#include "control/monitor_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/monitor_throttle.h"
#include "monitor/monitor_actions.h"

namespace tollgate {

MonitorRunner::MonitorRunner(std::function<Engine&()> engine, RuntimeState& state, ContractAdmin& admin)
    : engine_(std::move(engine)), state_(state), admin_(admin), webhook_(state.monitor_counters()) {}

void MonitorRunner::configure(const Config& config) {
  std::lock_guard lock(mutex_);
  specs_.clear();
  node_specs_.clear();
  zones_.clear();
  default_zone_ = config.timezone;
  for (const auto& [key, contract] : config.contracts) {
    std::vector<MonitorSpec> specs = contract.monitors;
    for (const MonitorSpec& d : config.monitor_defaults) {
      bool overridden = false;
      for (const MonitorSpec& own : contract.monitors) overridden = overridden || own.name == d.name;
      if (overridden || (d.per == MonitorScope::kChannel && contract.channels.empty())) continue;
      specs.push_back(d);
    }
    std::vector<MonitorSpec> node;
    for (const MonitorSpec& m : specs)
      if (!FleetMonitorCounts::fleet_kind(m.kind)) node.push_back(m);
    node_specs_.emplace(key, std::move(node));
    if (!specs.empty()) specs_.emplace(key, std::move(specs));
    zones_.emplace(key, contract.timezone.empty() ? config.timezone : contract.timezone);
  }
  // A contract with no monitor left forgets what it learned; a monitor removed
  // forgets its firing. Everything kept goes on as it was.
  monitors_.prune([this](std::string_view contract, std::string_view monitor) {
    auto it = specs_.find(contract);
    if (it == specs_.end()) return false;
    if (monitor.empty()) return true;
    for (const MonitorSpec& m : it->second)
      if (m.name == monitor) return true;
    return false;
  });
  file_.configure(config.monitor_events);
  webhook_.configure(config.monitor_events);
}

void MonitorRunner::keep_baselines(std::unique_ptr<BaselineStore> store, Nanos now, Nanos every) {
  std::lock_guard lock(mutex_);
  baselines_ = std::move(store);
  baseline_every_ = every;
  baselines_due_ = now + every;
  const std::string where = baselines_->describe();
  {
    std::lock_guard status(status_mutex_);
    baseline_status_.where = where;
  }
  auto loaded = baselines_->load();
  if (!loaded) {
    baseline_failed("load: " + loaded.error());
    spdlog::error("monitors: the learned baselines could not be read ({}); every contract warms up again", loaded.error());
    return;
  }
  baselines_stored_ = !loaded->empty();
  size_t restored = 0, unconfigured = 0;
  for (const auto& [contract, entry] : *loaded) {
    if (!specs_.contains(contract)) {
      ++unconfigured;
      continue;
    }
    if (auto r = monitors_.restore_state(contract, entry); !r) {
      baseline_failed("load: " + r.error());
      spdlog::error("monitors: the learned state of '{}' in {} is unreadable ({}); it warms up again", contract, where,
                    r.error());
      continue;
    }
    ++restored;
  }
  {
    std::lock_guard status(status_mutex_);
    baseline_status_.restored = restored;
  }
  spdlog::info("monitors: learned state of {} contract{} restored from {}{}", restored, restored == 1 ? "" : "s",
               where, unconfigured > 0 ? fmt::format(" ({} no longer monitored, dropped)", unconfigured) : "");
}

void MonitorRunner::baseline_failed(std::string error) {
  std::lock_guard status(status_mutex_);
  ++baseline_status_.failures;
  baseline_status_.last_error = std::move(error);
}

void MonitorRunner::baseline_info(const std::function<void(std::string_view, std::string_view)>& visit) const {
  const BaselineCounts c = baseline_counts();
  visit("monitor_baselines", c.where);
  visit("monitor_baselines_restored", std::to_string(c.restored));
  visit("monitor_baselines_saved", std::to_string(c.saved));
  visit("monitor_baseline_failures", std::to_string(c.failures));
  visit("monitor_baselines_last_error", c.last_error.empty() ? "none" : c.last_error);
}

void MonitorRunner::save_baselines(BaselineStore::Entries entries, Nanos now) {
  if (entries.empty() && !baselines_stored_) return;
  baselines_stored_ = !entries.empty();
  baseline_save_running_ = true;
  baselines_->save(std::move(entries), [this, now, where = baselines_->describe()](std::expected<void, std::string> done) {
    baseline_save_running_ = false;
    if (done) {
      std::lock_guard status(status_mutex_);
      ++baseline_status_.saved;
      return;
    }
    baseline_failed("save at " + format_instant(now, "UTC") + ": " + done.error());
    spdlog::error("monitors: the learned baselines could not be saved to {}: {} (retried in {} s)", where,
                  done.error(), baseline_every_ / kNanosPerSecond);
  });
}

void MonitorRunner::start(uv_loop_t* loop, const Clock& clock, Nanos interval) {
  clock_ = &clock;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  const auto ms = static_cast<uint64_t>(std::max<Nanos>(1, interval / kNanosPerMilli));
  uv_timer_start(&timer_, on_timer, 0, ms);
  webhook_.start(loop);
  started_ = true;
}

void MonitorRunner::close() {
  if (started_) {
    started_ = false;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    {
      std::lock_guard lock(mutex_);
      flush_acks();
    }
    webhook_.close();
  }
  if (!baselines_ || baselines_final_) return;
  baselines_final_ = true;  // saved once; a second close() does nothing
  BaselineStore::Entries entries;
  {
    std::lock_guard lock(mutex_);
    entries = monitors_.save_state();
  }
  if (entries.empty() && !baselines_stored_) return;
  if (auto done = baselines_->save_final(std::move(entries)); !done) {
    baseline_failed("final save: " + done.error());
    spdlog::error("monitors: the learned baselines could not be saved at stop: {} (the next start restores the "
                  "previous save)", done.error());
  } else {
    std::lock_guard status(status_mutex_);
    ++baseline_status_.saved;
  }
}

void MonitorRunner::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<MonitorRunner*>(timer->data);
  self->tick(self->clock_->now());
}

void MonitorRunner::on_clear(std::string_view contract, std::string_view monitor, Nanos now) {
  std::lock_guard lock(mutex_);
  monitors_.clear(contract, monitor, now);
}

void MonitorRunner::on_fleet_actions(const std::vector<RemoteActionChange>& applied, Nanos now) {
  std::lock_guard lock(mutex_);
  for (const RemoteActionChange& c : applied) {
    if (!c.lift) with_actions_.insert(c.contract);
    if (c.cleared) monitors_.clear(c.contract, c.action.monitor, now);
  }
}

void MonitorRunner::on_ack(const Event& acked, uint64_t ack_seq) {
  std::string json = fmt::format(
      "{{\"seq\":{},\"time\":{},\"kind\":\"monitor.ack\",\"contract\":{},\"event\":{},\"event_kind\":{},"
      "\"actor\":{},\"note\":{}}}",
      ack_seq, json_string(format_instant(acked.acked_ms * kNanosPerMilli, "UTC")), json_string(acked.contract),
      acked.seq, json_string(acked.kind), acked.acked_by, json_string(acked.ack_note));
  std::lock_guard lock(mutex_);
  acks_.push_back(std::move(json));
}

void MonitorRunner::flush_acks() {
  for (std::string& json : acks_) {
    if (file_.write(json)) state_.monitor_counters().events_written.fetch_add(1, std::memory_order_relaxed);
    webhook_.post(std::move(json));
  }
  acks_.clear();
}

void MonitorRunner::tick(Nanos now) {
  std::unique_lock lock(mutex_);
  flush_acks();
  Engine& engine = engine_();
  std::vector<ContractSample> samples;
  std::vector<Monitors::SpecsOf> specs;
  for (const auto& policy : engine.contracts()) {
    const Policy& p = *policy;
    // A reload may have raced an action change: re-derive the words that
    // are, or should be, non-zero (cheap: a load for every other contract).
    if (p.restricted.load(std::memory_order_relaxed) != 0 || with_actions_.contains(p.name))
      engine.sync_restrictions(p);
    auto it = specs_.find(p.name);
    if (it == specs_.end() || p.state == nullptr) continue;
    ContractSample s;
    s.contract = p.name;
    auto zone = zones_.find(p.name);
    s.zone = zone != zones_.end() ? zone->second : default_zone_;
    s.generation = &p;
    const ScopeCounts counts = scope_counts(*p.state);
    s.calls = counts.calls;
    s.scope_denials = counts.scope_denials;
    s.channels = p.rules->channels;
    for (size_t i = 0; i < s.channels.size(); ++i)
      s.channel_calls.push_back(p.channel_calls[i].load(std::memory_order_relaxed));
    s.subjects_today = engine.distinct_subjects_estimate(p.name, now);
    if (const Account* a = p.state->account()) s.balance = a->balance();
    // Fleet mode: the fleet's counts, and the fleet's balance in place of this node's account's.
    if (fleet_counts_ != nullptr) {
      fleet_counts_->fleet_sample(s, p.state->account());
      // new_subjects: the union of every node's distinct-user registers (only where a monitor needs it).
      const bool wants_subjects = std::ranges::any_of(
          it->second, [](const MonitorSpec& m) { return m.kind == MonitorKind::kNewSubjects; });
      if (wants_subjects && p.subjects != nullptr && p.subjects->hll) fleet_counts_->fleet_subjects(s, *p.subjects->hll, now);
    }
    samples.push_back(std::move(s));
    // Off the monitor leader, only the monitors on this node's own counts are evaluated.
    specs.emplace_back(fleet_counts_ == nullptr || fleet_counts_->leader() ? it->second : node_specs_[p.name]);
  }
  for (const MonitorOutcome& o : monitors_.tick(now, samples, specs)) carry_out(o);
  expire_actions(now);
  MonitorCounters& counters = state_.monitor_counters();
  counters.firing_now.store(monitors_.firing_now(), std::memory_order_relaxed);
  if (!baselines_ || baselines_final_ || now < baselines_due_ || baseline_save_running_) return;
  baselines_due_ = now + baseline_every_;
  BaselineStore::Entries entries = monitors_.save_state();
  lock.unlock();  // the file's fsync must not hold up MONITOR CLEAR
  save_baselines(std::move(entries), now);
}

// The JSON line (and webhook body) of one outcome; `kind` fired, cleared, action, lift.
void MonitorRunner::event(const MonitorOutcome& o, std::string_view kind, const ActiveAction* action) {
  std::string detail =
      kind == "lift"
          ? fmt::format("monitor {}{}{}: {} lifted ({})", o.monitor, o.channel.empty() ? "" : " channel ",
                        o.channel, o.measure, o.why.empty() ? "expired" : o.why)
          : fmt::format("monitor {}{}{}: {} {} threshold {}", o.monitor, o.channel.empty() ? "" : " channel ",
                        o.channel, o.measure, measure_text(o.value), measure_text(o.threshold));
  std::string json = fmt::format(
      "{{\"time\":{},\"kind\":{},\"contract\":{},\"monitor\":{},\"channel\":{},\"measure\":{},\"value\":{},"
      "\"threshold\":{}",
      json_string(format_instant(o.time, "UTC")), json_string(std::string("monitor.") + std::string(kind)),
      json_string(o.contract), json_string(o.monitor), json_string(o.channel), json_string(o.measure), measure_text(o.value),
      measure_text(o.threshold));
  if (kind == "lift") json += fmt::format(",\"why\":{}", json_string(o.why.empty() ? "expired" : o.why));
  if (kind == "action") {
    json += fmt::format(",\"action\":{}", json_string(action_do_name(o.action.action)));
    detail += fmt::format(" -> {}", action_do_name(o.action.action));
    if (action != nullptr) {
      json += fmt::format(",\"until\":{}", json_string(format_instant(action->until, "UTC")));
      detail += fmt::format(" until {}", format_instant(action->until, "UTC"));
    }
  }
  json += "}";
  const uint64_t seq = state_.add_event({0, o.time / kNanosPerMilli, "monitor." + std::string(kind), o.contract,
                                         kDaemonActor, detail});
  json.insert(1, fmt::format("\"seq\":{},", seq));
  if (file_.write(json)) state_.monitor_counters().events_written.fetch_add(1, std::memory_order_relaxed);
  webhook_.post(std::move(json));
}

void MonitorRunner::carry_out(const MonitorOutcome& o) {
  MonitorCounters& counters = state_.monitor_counters();
  switch (o.kind) {
    case MonitorOutcome::Kind::kFired:
      counters.firings.fetch_add(1, std::memory_order_relaxed);
      event(o, "fired", nullptr);
      return;
    case MonitorOutcome::Kind::kCleared:
      counters.clears.fetch_add(1, std::memory_order_relaxed);
      event(o, "cleared", nullptr);
      return;
    case MonitorOutcome::Kind::kAction: break;
  }
  if (o.action.action == ActionDo::kEvent) {
    event(o, "action", nullptr);
    return;
  }
  const ActiveAction a = *action_for(o);
  event(o, "action", &a);
  if (auto done = admin_.put_action(o.contract, a, kDaemonActor, o.time); !done) {
    counters.action_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("monitor {} of '{}': {} could not be put in force: {}", o.monitor, o.contract,
                  action_do_name(o.action.action), done.error().detail);
    return;
  }
  counters.actions.fetch_add(1, std::memory_order_relaxed);
  with_actions_.insert(o.contract);
}

// Lifts every action whose `for:` has passed (journaled, like putting it in force).
void MonitorRunner::expire_actions(Nanos now) {
  if (!scanned_) {  // actions restored from the store at start
    for (ContractState* st : state_.all())
      if (!st->actions().empty()) with_actions_.insert(st->key());
    scanned_ = true;
  }
  uint64_t active = 0;
  for (auto it = with_actions_.begin(); it != with_actions_.end();) {
    ContractState* st = state_.find(*it);
    std::vector<ActiveAction> actions = st != nullptr ? st->actions() : std::vector<ActiveAction>{};
    const Policy* policy = engine_().contract(*it);
    for (const ActiveAction& a : actions) {
      // A reload may have removed what an action acts on (a shadow limit, a
      // channel): lifted, journaled, with an event — never kept silently.
      const std::string problem = policy != nullptr ? action_problem(*policy, a) : std::string();
      if (a.until > now && problem.empty()) {
        ++active;
        continue;
      }
      const std::string why = problem.empty() ? std::string("expired") : "no longer applies: " + problem;
      if (auto done = admin_.lift_action(*it, a, why, kDaemonActor, now); !done) {
        ++active;
        spdlog::error("monitor action on '{}' could not be lifted: {}", *it, done.error().detail);
        continue;
      }
      state_.monitor_counters().lifts.fetch_add(1, std::memory_order_relaxed);
      MonitorOutcome o;
      o.contract = *it;
      o.monitor = a.monitor;
      o.channel = a.channel;
      o.measure = std::string(action_name(a.kind));
      o.why = why;
      o.time = now;
      event(o, "lift", nullptr);
    }
    if (st == nullptr || st->actions().empty()) it = with_actions_.erase(it);
    else ++it;
  }
  state_.monitor_counters().active_actions.store(active, std::memory_order_relaxed);
}

}  // namespace tollgate
