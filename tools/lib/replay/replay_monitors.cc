#include "replay/replay_monitors.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "config/units.h"
#include "engine/monitor_action.h"
#include "engine/monitor_throttle.h"
#include "monitor/monitor_actions.h"
#include "replay/replay_extras_json.h"

namespace tollgate::replay {
namespace {

constexpr Nanos kTick = kNanosPerSecond;            // the daemon's monitor interval
constexpr Nanos kQuarterHour = 900 * kNanosPerSecond;  // every zone's hours and days start on one
constexpr Nanos kSubjectsRefresh = 60 * kNanosPerSecond;

Nanos floor_to(Nanos t, Nanos step) { return t - ((t % step) + step) % step; }
Nanos ceil_to(Nanos t, Nanos step) {
  const Nanos f = floor_to(t, step);
  return f == t ? t : f + step;
}

}  // namespace

ReplayMonitors::ReplayMonitors(const Config& config, MonitorReports& out) : out_(out) {
  // The daemon's MonitorRunner::configure: own monitors, then the defaults
  // not overridden by name (channel defaults only where there are channels).
  for (const auto& [key, contract] : config.contracts) {
    std::vector<MonitorSpec> specs = contract.monitors;
    for (const MonitorSpec& d : config.monitor_defaults) {
      bool overridden = false;
      for (const MonitorSpec& own : contract.monitors) overridden = overridden || own.name == d.name;
      if (overridden || (d.per == MonitorScope::kChannel && contract.channels.empty())) continue;
      specs.push_back(d);
    }
    if (specs.empty()) continue;
    Watched w;
    w.key = key;
    w.zone = contract.timezone.empty() ? config.timezone : contract.timezone;
    w.specs = std::move(specs);
    for (const MonitorSpec& m : w.specs) w.needs_subjects = w.needs_subjects || m.kind == MonitorKind::kNewSubjects;
    slots_.emplace(key, static_cast<uint32_t>(specs_.size()));
    specs_.push_back(std::move(w));
  }
  samples_.resize(specs_.size());
}

int32_t ReplayMonitors::slot_of(std::string_view key) const {
  auto it = slots_.find(std::string(key));
  return it != slots_.end() ? static_cast<int32_t>(it->second) : -1;
}

Nanos ReplayMonitors::grid_after(Nanos t) { return t == INT64_MIN ? INT64_MIN : floor_to(t, kTick) + kTick; }

void ReplayMonitors::run(Nanos now, Engine& engine, RuntimeState& state) {
  if (!started_) {
    // The daemon ticks at start: every contract's counters start at zero and
    // its warm-up runs from here.
    started_ = true;
    tick(now, true, engine, state);
    last_tick_ = now;
    next_quarter_ = floor_to(now, kQuarterHour) + kQuarterHour;
    for (const Watched& w : specs_)
      for (const MonitorSpec& m : w.specs)
        if (m.above_baseline) wake_at(now + m.warmup);
  }
  constexpr Nanos kNever = INT64_MAX;
  for (;;) {
    while (!wakes_.empty() && *wakes_.begin() <= last_tick_) wakes_.erase(wakes_.begin());
    const Nanos wake = ceil_to(std::min(next_quarter_, wakes_.empty() ? kNever : *wakes_.begin()), kTick);
    const Nanos busy = dirty_ ? busy_tick_ : kNever;
    const Nanos t = std::min(wake, busy);
    if (t > now) {
      next_due_ = t;
      return;
    }
    const bool full = t >= wake;
    if (next_quarter_ <= t) next_quarter_ = floor_to(t, kQuarterHour) + kQuarterHour;
    tick(t, full, engine, state);
    last_tick_ = t;
    dirty_ = false;
  }
}

void ReplayMonitors::finish(Nanos last, Engine& engine, RuntimeState& state) {
  if (!started_) return;
  run(grid_after(last), engine, state);
}

void ReplayMonitors::tick(Nanos now, bool full, Engine& engine, RuntimeState& state) {
  size_t n = 0;
  sample_specs_.clear();
  const size_t visits = full ? specs_.size() : touched_.size();
  for (size_t v = 0; v < visits; ++v) {
    Watched& w = specs_[full ? v : touched_[v]];
    const Policy* p = engine.contract(w.key);
    if (p == nullptr || p->state == nullptr) continue;
    const auto [calls, scope] = scope_counts(*p->state);
    const size_t channels = p->rules->channels.size();
    uint64_t channel_total = 0;
    for (size_t i = 0; i < channels; ++i) channel_total += p->channel_calls[i].load(std::memory_order_relaxed);
    const Account* account = p->state->account();
    const int64_t balance = account != nullptr ? account->balance() : -1;
    const uint64_t total = calls + scope + channel_total;
    if (!full && total == w.last_total && balance == w.last_balance) continue;  // nothing it watches moved
    w.last_total = total;
    w.last_balance = balance;
    ContractSample& s = samples_[n++];
    s.contract = w.key;
    s.zone = w.zone;
    s.generation = p;
    s.calls = calls;
    s.scope_denials = scope;
    s.channels.assign(p->rules->channels.begin(), p->rules->channels.end());
    s.channel_calls.resize(channels);
    for (size_t i = 0; i < channels; ++i) s.channel_calls[i] = p->channel_calls[i].load(std::memory_order_relaxed);
    // The distinct-user estimate is the one costly read (an HLL estimate):
    // only new_subjects uses it. Between the full ticks it is read again
    // only when a simulated minute has passed and the calls since could have
    // moved it by more than 1/64 (distinct users grow at most by the calls).
    if (!w.needs_subjects) {
      s.subjects_today = -1;
    } else if (full || w.subjects_at == INT64_MIN ||
               (now - w.subjects_at >= kSubjectsRefresh &&
                static_cast<double>(calls - w.subjects_calls) > std::max(w.subjects, 0.0) / 64)) {
      w.subjects = engine.distinct_subjects_estimate(w.key, now);
      w.subjects_at = now;
      w.subjects_calls = calls;
    }
    if (w.needs_subjects) s.subjects_today = w.subjects;
    s.balance = balance;
    sample_specs_.emplace_back(w.specs);
  }
  for (uint32_t t : touched_) specs_[t].touched = false;
  touched_.clear();
  ++ticks_;
  if (n > 0) {
    for (const MonitorOutcome& o :
         monitors_.tick(now, std::span<const ContractSample>(samples_.data(), n), sample_specs_)) {
      auto it = std::find_if(specs_.begin(), specs_.end(), [&](const Watched& w) { return w.key == o.contract; });
      if (it != specs_.end()) carry_out(o, *it, engine, state);
    }
  }
  lift_expired(now, engine, state);
}

void ReplayMonitors::carry_out(const MonitorOutcome& o, const Watched& w, Engine& engine, RuntimeState& state) {
  MonitorReport& r = out_[o.contract][o.monitor];
  const auto spec = std::find_if(w.specs.begin(), w.specs.end(), [&](const MonitorSpec& m) { return m.name == o.monitor; });
  if (o.kind == MonitorOutcome::Kind::kFired) {
    if (r.fired++ == 0) {
      r.first_fired = o.time;
      r.first_channel = o.channel;
      r.first_measure = o.measure;
      r.first_value = o.value;
      r.first_threshold = o.threshold;
    }
    r.last_fired = o.time;
    if (spec != w.specs.end())
      for (const MonitorActionSpec& a : spec->actions)
        if (a.after > 0) wake_at(o.time + a.after);  // a staged action falls due then
    return;
  }
  if (o.kind == MonitorOutcome::Kind::kCleared) {
    ++r.cleared;
    if (spec != w.specs.end()) wake_at(o.time + spec->cooldown);  // it may fire again then
    return;
  }
  MonitorActionTaken taken;
  taken.action = std::string(action_do_name(o.action.action));
  taken.channel = o.channel;
  taken.at = o.time;
  // As MonitorRunner::carry_out builds it and apply_admin_record applies it,
  // minus the journal: replay changes nothing on disk. What the daemon
  // would refuse (ContractAdmin::put_action) is refused here too.
  if (const std::optional<ActiveAction> a = action_for(o)) {
    const Policy* policy = engine.contract(o.contract);
    taken.refused = policy != nullptr ? action_refusal(*policy, *a) : "no such contract in the candidate";
    if (taken.refused.empty()) {
      state.contract(o.contract).put_action(*a);
      engine.sync_restrictions(o.contract);
      auto same = std::find_if(in_force_.begin(), in_force_.end(), [&](const auto& f) {
        return f.first == o.contract && f.second.same_target(*a);
      });
      if (same != in_force_.end()) same->second = *a;
      else in_force_.emplace_back(o.contract, *a);
      wake_at(a->until);
      taken.until = a->until;
      taken.applied = true;
    }
  }
  r.actions.push_back(std::move(taken));
}

void ReplayMonitors::lift_expired(Nanos now, Engine& engine, RuntimeState& state) {
  for (auto it = in_force_.begin(); it != in_force_.end();) {
    if (it->second.until > now) {
      ++it;
      continue;
    }
    state.contract(it->first).lift_action(it->second);
    engine.sync_restrictions(it->first);
    it = in_force_.erase(it);
  }
}

void LotBreakdown::charge(RuntimeState& state, const calllog::CallRecord& live, int64_t live_charge,
                          int64_t candidate_charge) {
  if (!live.lots_known) {
    live_inferred(live.cost, live_charge);
  } else {
    int64_t split = 0;
    if (live.lot_prices != LotPrices::kNone) {
      const LiveHold h{live.lot_prices, live.cost, live.lot_price, live.lot_credits, live.lot_rest,
                       live.time + (live.hold_ms + std::max<int64_t>(live.wait_ms, 0)) * kNanosPerMilli};
      split = live_split(h, 1);
      if (live.hold_ms > 0 && live.id_hash != 0) {
        if (live_holds_.size() >= purge_at_) {
          std::erase_if(live_holds_, [&](const auto& kv) { return kv.second.deadline < live.time - 60 * kNanosPerSecond; });
          purge_at_ = std::max<size_t>(1024, 2 * live_holds_.size());
        }
        live_holds_[live.id_hash] = h;
      }
    }
    // The balance fell by this call's charge (the CANCELs since the last
    // call are out of live_charge already); anything else moved it some other way.
    const int64_t other = live_charge - split;
    if (other != 0) by_price_[kOther].live_minor += other;
  }
  if (candidate_charge == 0) return;
  if (account(state, live.key) != nullptr) {
    candidate(*account_, candidate_charge, true);
  } else {
    LotCounts& l = by_price_[kMixed];
    ++l.candidate_calls;
    l.candidate_minor += candidate_charge;
  }
}

const Account* LotBreakdown::account(RuntimeState& state, std::string_view key) {
  if (!looked_up_) {
    looked_up_ = true;
    ContractState* s = state.find(key);
    account_ = s != nullptr ? s->account() : nullptr;
  }
  return account_;
}

// A log without the lot split: a fall that COST divides is one lot's price.
void LotBreakdown::live_inferred(int64_t cost, int64_t live_charge) {
  if (live_charge == 0) return;
  const bool one_price = cost > 0 && live_charge > 0 && live_charge % cost == 0;
  LotCounts& l = by_price_[one_price ? live_charge / cost : kMixed];
  ++l.live_calls;
  l.live_credits += one_price ? cost : 0;
  l.live_minor += live_charge;
}

int64_t LotBreakdown::live_split(const LiveHold& h, int sign) {
  auto add = [&](int64_t price, int64_t credits, int64_t minor) {
    LotCounts& l = by_price_[price];
    if (sign > 0) ++l.live_calls;
    l.live_credits += sign * credits;
    l.live_minor += sign * minor;
    return minor;
  };
  int64_t money = add(h.price, h.credits, h.credits * h.price);
  if (h.prices == LotPrices::kTwo) money += add(h.rest, h.cost - h.credits, (h.cost - h.credits) * h.rest);
  else if (h.prices == LotPrices::kMany) money += add(kMixed, 0, h.rest);
  return sign * money;
}

int64_t LotBreakdown::settle(uint64_t id_hash, bool commit, int64_t candidate_refund) {
  if (candidate_refund != 0) {
    if (account_ != nullptr) {
      candidate(*account_, -candidate_refund, false);
    } else {
      by_price_[kMixed].candidate_minor -= candidate_refund;
    }
  }
  const auto it = live_holds_.find(id_hash);
  if (it == live_holds_.end()) return 0;
  const int64_t refund = commit ? 0 : -live_split(it->second, -1);
  live_holds_.erase(it);
  return refund;
}

// Which lots the candidate's charge came from: the lots' debited − refunded
// moved since the last call. Debits take the oldest lots first, so the scan
// starts at the first lot that was not empty and stops at the first one
// still holding credits; when that does not explain the whole charge (a
// refund went to an older lot), every lot is scanned. What no lot explains
// goes under price 0.
void LotBreakdown::candidate(const Account& account, int64_t charge, bool call) {
  const uint32_t lots = account.lot_count();
  if (net_.size() < lots) net_.resize(lots, 0);
  int64_t explained = 0;
  int64_t counted_price = -1;  // a call is counted once per price
  auto visit = [&](uint32_t i) -> bool {  // true: the lot still holds credits
    const std::optional<LotState> lot = account.lot(i);
    if (!lot) return false;
    const int64_t net = lot->debited - lot->refunded;
    const int64_t moved = net - net_[i];
    if (moved != 0) {
      net_[i] = net;
      LotCounts& l = by_price_[lot->unit_price];
      if (call && moved > 0 && counted_price != lot->unit_price) {
        ++l.candidate_calls;
        counted_price = lot->unit_price;
      }
      l.candidate_credits += moved;
      l.candidate_minor += moved * lot->unit_price;
      explained += moved * lot->unit_price;
    }
    return lot->remaining() > 0;
  };
  uint32_t i = low_;
  while (i < lots && !visit(i)) ++i;
  if (explained != charge) {
    for (uint32_t j = 0; j < lots; ++j) visit(j);
    i = 0;
    while (i < lots && !(account.lot(i) && account.lot(i)->remaining() > 0)) ++i;
  }
  low_ = i;
  if (explained != charge) {  // e.g. credits that left by another way than a call
    LotCounts& l = by_price_[0];
    l.candidate_calls += call;
    l.candidate_minor += charge - explained;
  }
}

std::string monitors_text(const std::map<std::string, MonitorReport>& monitors) {
  std::string out;
  for (const auto& [name, m] : monitors) {
    if (m.fired == 0) continue;
    out += fmt::format("  monitor {}: fired {} time{}, first {}{} ({} {} > {}), cleared {}\n", name, m.fired,
                       m.fired == 1 ? "" : "s", format_instant(m.first_fired),
                       m.first_channel.empty() ? "" : " channel " + m.first_channel, m.first_measure,
                       measure_text(m.first_value), measure_text(m.first_threshold), m.cleared);
    constexpr size_t kShown = 10;
    for (size_t i = 0; i < m.actions.size() && i < kShown; ++i) {
      const MonitorActionTaken& a = m.actions[i];
      out += fmt::format("    {} {}{}{}{}\n", format_instant(a.at), a.action,
                         a.channel.empty() ? "" : " " + a.channel,
                         a.until != 0 ? " until " + format_instant(a.until) : "",
                         a.refused.empty() ? "" : " (refused: " + a.refused + ")");
    }
    if (m.actions.size() > kShown) out += fmt::format("    ... {} more actions (--json lists all)\n", m.actions.size() - kShown);
  }
  return out;
}

std::string lots_text(const std::map<int64_t, LotCounts>& lots, int decimals) {
  auto money = [decimals](int64_t minor) {
    std::string s = fmt::format("{:+d} minor units", minor);
    if (decimals > 0) {
      int64_t scale = 1;
      for (int i = 0; i < decimals; ++i) scale *= 10;
      const int64_t whole = minor < 0 ? -minor : minor;
      s += fmt::format(" ({}{}.{:0{}d})", minor < 0 ? "-" : "+", whole / scale, whole % scale, decimals);
    }
    return s;
  };
  std::string out;
  for (const auto& [price, l] : lots) {
    out += fmt::format("  lot price {}: live {} calls {} minor, candidate {} calls {} minor, delta {}\n",
                       price == LotBreakdown::kMixed   ? std::string("mixed")
                       : price == LotBreakdown::kOther ? std::string("other")
                                                       : std::to_string(price),
                       l.live_calls, l.live_minor,
                       l.candidate_calls, l.candidate_minor, money(l.candidate_minor - l.live_minor));
  }
  return out;
}

nlohmann::json monitors_json(const std::map<std::string, MonitorReport>& monitors) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, m] : monitors) {
    nlohmann::json mj;
    mj["fired"] = m.fired;
    mj["cleared"] = m.cleared;
    mj["first_fired"] = m.fired > 0 ? format_instant(m.first_fired) : "";
    mj["last_fired"] = m.fired > 0 ? format_instant(m.last_fired) : "";
    mj["first_channel"] = m.first_channel;
    mj["first_measure"] = m.first_measure;
    mj["first_value"] = m.first_value;
    mj["first_threshold"] = m.first_threshold;
    mj["actions"] = nlohmann::json::array();
    for (const MonitorActionTaken& a : m.actions) {
      mj["actions"].push_back({{"do", a.action},
                               {"channel", a.channel},
                               {"at", format_instant(a.at)},
                               {"until", a.until != 0 ? format_instant(a.until) : ""},
                               {"applied", a.applied},
                               {"refused", a.refused}});
    }
    j[name] = std::move(mj);
  }
  return j;
}

nlohmann::json lots_json(const std::map<int64_t, LotCounts>& lots) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [price, l] : lots) {
    j.push_back({{"price_minor", price},
                 {"live_calls", l.live_calls},
                 {"candidate_calls", l.candidate_calls},
                 {"live_credits", l.live_credits},
                 {"candidate_credits", l.candidate_credits},
                 {"live_minor", l.live_minor},
                 {"candidate_minor", l.candidate_minor},
                 {"money_delta_minor", l.candidate_minor - l.live_minor}});
  }
  return j;
}

}  // namespace tollgate::replay
