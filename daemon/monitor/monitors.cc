#include "monitor/monitors.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tollgate {

std::string_view monitor_kind_name(MonitorKind kind) {
  switch (kind) {
    case MonitorKind::kVolume: return "volume";
    case MonitorKind::kNewSubjects: return "new_subjects";
    case MonitorKind::kNightShare: return "night_share";
    case MonitorKind::kScopeProbing: return "scope_probing";
    case MonitorKind::kBalance: return "balance";
  }
  return "unknown";
}

std::string_view action_do_name(ActionDo action) {
  switch (action) {
    case ActionDo::kEvent: return "event";
    case ActionDo::kBlockChannel: return "block_channel";
    case ActionDo::kSuspend: return "suspend";
    case ActionDo::kThrottle: return "throttle";
    case ActionDo::kEnforce: return "enforce";
  }
  return "unknown";
}

namespace {

constexpr double kAlpha = 0.3;  // weight of the newest sample in a baseline
constexpr char kKeySeparator = '\x1f';

// One threshold test: `ratio` > 1 means over (value beyond threshold in the
// direction that matters), < hysteresis means clearly under.
struct Candidate {
  double value = 0;
  double threshold = 0;
  double ratio = 0;
  const char* what = "";
};

void consider(Candidate& best, double value, double threshold, const char* what) {
  if (!(threshold > 0)) return;
  const double ratio = value / threshold;
  if (ratio > best.ratio || best.what[0] == '\0') best = Candidate{value, threshold, ratio, what};
}

cctz::civil_second local_time(const cctz::time_zone& zone, Nanos now) {
  const auto tp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>(
      std::chrono::nanoseconds(now));
  return cctz::convert(std::chrono::time_point_cast<std::chrono::seconds>(tp), zone);
}

int weekday_index(const cctz::civil_day& d) {
  switch (cctz::get_weekday(d)) {
    case cctz::weekday::monday: return 0;
    case cctz::weekday::tuesday: return 1;
    case cctz::weekday::wednesday: return 2;
    case cctz::weekday::thursday: return 3;
    case cctz::weekday::friday: return 4;
    case cctz::weekday::saturday: return 5;
    case cctz::weekday::sunday: return 6;
  }
  return 0;
}

bool is_night(int hour, int from, int to) { return from <= to ? hour >= from && hour < to : hour >= from || hour < to; }

}  // namespace

void Monitors::advance(Series& s, uint64_t cumulative, bool fresh) const {
  const uint64_t delta = fresh || cumulative < s.last ? cumulative : cumulative - s.last;
  s.last = cumulative;
  s.hour += delta;
  s.day += delta;
}

// Moves the watch to the local hour and day of `now`: the hour that ended
// goes into its hour-of-week baseline, the day that ended into the
// subjects' baseline; rolling windows drop what is older than 24 hours.
void Monitors::roll(Watch& w, Nanos now) {
  const cctz::civil_second local = local_time(w.zone, now);
  const auto hour = cctz::civil_hour(local);
  const auto day = cctz::civil_day(local);
  const int64_t hour_index = hour - cctz::civil_hour(1970, 1, 1, 0);
  const int64_t day_index = day - cctz::civil_day(1970, 1, 1);
  const int weekday = weekday_index(day);
  const int hour_of_week = weekday * 24 + local.hour();
  if (hour_index != w.hour_index) {
    if (w.hour_index != INT64_MIN) {
      auto close = [&](Series& s) {
        double& b = s.baseline[static_cast<size_t>(w.hour_of_week)];
        uint16_t& n = s.samples[static_cast<size_t>(w.hour_of_week)];
        b = n == 0 ? static_cast<double>(s.hour) : (1 - kAlpha) * b + kAlpha * static_cast<double>(s.hour);
        if (n < UINT16_MAX) ++n;
        s.prev_hour = s.hour;
        s.hour = 0;
      };
      close(w.calls);
      close(w.scope);
      for (auto& [name, s] : w.channels) close(s);
      if (w.balance >= 0 && w.balance_hour_start >= 0) {
        const double drop = static_cast<double>(w.balance_hour_start - w.balance);
        if (drop >= 0) w.burn_per_hour = w.burn_per_hour == 0 ? drop : (1 - kAlpha) * w.burn_per_hour + kAlpha * drop;
      }
      w.prev_hour_of_week = w.hour_of_week;
    } else {
      w.prev_hour_of_week = hour_of_week;
    }
    w.balance_hour_start = w.balance;
    w.hour_index = hour_index;
    w.hour_of_week = hour_of_week;
    w.local_hour = local.hour();
    w.hour_calls[static_cast<size_t>(w.local_hour)] = 0;
    w.hour_stamp[static_cast<size_t>(w.local_hour)] = hour_index;
  }
  if (day_index != w.day_index) {
    if (w.day_index != INT64_MIN) {
      auto close = [](Series& s) {
        s.prev_day = s.day;
        s.day = 0;
      };
      close(w.calls);
      close(w.scope);
      for (auto& [name, s] : w.channels) close(s);
      if (w.subjects_today >= 0) {
        w.subjects_prev_day = w.subjects_today;
        w.subjects_baseline = w.subjects_days == 0 ? w.subjects_today
                                                   : (1 - kAlpha) * w.subjects_baseline + kAlpha * w.subjects_today;
        ++w.subjects_days;
      }
      w.prev_weekday = w.weekday;
    } else {
      w.prev_weekday = weekday;
    }
    w.day_index = day_index;
    w.weekday = weekday;
  }
}

bool Monitors::baseline_ready(const Watch& w, Nanos now, const MonitorSpec& m) const {
  return now - w.first_seen >= m.warmup;
}

Monitors::Measure Monitors::measure(const Watch& w, const MonitorSpec& m, const Series* channel, Nanos now) const {
  Candidate best;
  const Series& s = channel != nullptr ? *channel : w.calls;
  const bool ready = m.above_baseline.has_value() && baseline_ready(w, now, m);
  const double min_calls = static_cast<double>(m.min_calls);
  auto hour_baseline = [&](int slot) -> double {
    return s.samples[static_cast<size_t>(slot)] > 0 ? s.baseline[static_cast<size_t>(slot)] : -1;
  };
  auto day_baseline = [&](int weekday) -> double {
    double sum = 0;
    for (int h = 0; h < 24; ++h) {
      const double b = hour_baseline(weekday * 24 + h);
      if (b < 0) return -1;
      sum += b;
    }
    return sum;
  };
  switch (m.kind) {
    case MonitorKind::kVolume: {
      const bool hourly = m.period == MonitorPeriod::kHour;
      const double cur = static_cast<double>(hourly ? s.hour : s.day);
      const double prev = static_cast<double>(hourly ? s.prev_hour : s.prev_day);
      const char* what = hourly ? "calls_hour" : "calls_day";
      if (m.above) {
        consider(best, cur, *m.above, what);
        consider(best, prev, *m.above, what);
      }
      if (ready) {
        const double b_cur = hourly ? hour_baseline(w.hour_of_week) : day_baseline(w.weekday);
        const double b_prev = hourly ? hour_baseline(w.prev_hour_of_week) : day_baseline(w.prev_weekday);
        if (b_cur >= 0 && cur >= min_calls) consider(best, cur, std::max(1.0, *m.above_baseline * b_cur), what);
        if (b_prev >= 0 && prev >= min_calls) consider(best, prev, std::max(1.0, *m.above_baseline * b_prev), what);
      }
      break;
    }
    case MonitorKind::kNewSubjects: {
      const double today = w.subjects_today;
      if (today >= 0) {
        if (m.above) {
          consider(best, today, *m.above, "subjects_day");
          consider(best, w.subjects_prev_day, *m.above, "subjects_day");
        }
        if (ready && w.subjects_days > 0 && today >= min_calls / 10)
          consider(best, today, std::max(1.0, *m.above_baseline * w.subjects_baseline), "subjects_day");
        if (m.ratio_above && static_cast<double>(w.calls.day) >= min_calls)
          consider(best, today / static_cast<double>(w.calls.day), *m.ratio_above, "subjects_per_call");
      }
      break;
    }
    case MonitorKind::kNightShare: {
      double total = 0, night = 0;
      for (int h = 0; h < 24; ++h) {
        if (w.hour_stamp[static_cast<size_t>(h)] <= w.hour_index - 24) continue;
        const double calls = static_cast<double>(w.hour_calls[static_cast<size_t>(h)]);
        total += calls;
        if (is_night(h, m.night_from, m.night_to)) night += calls;
      }
      if (m.above && total >= min_calls) consider(best, night / total, *m.above, "night_share");
      break;
    }
    case MonitorKind::kScopeProbing:
      if (m.above) {
        consider(best, static_cast<double>(w.scope.hour), *m.above, "scope_denials_hour");
        consider(best, static_cast<double>(w.scope.prev_hour), *m.above, "scope_denials_hour");
      }
      break;
    case MonitorKind::kBalance: {
      if (w.balance < 0) break;
      const double balance = static_cast<double>(w.balance);
      // Inverted tests: the ratio grows as the balance falls.
      if (m.below && *m.below > 0) {
        const double ratio = static_cast<double>(*m.below) / std::max(balance, 1e-9);
        if (ratio > best.ratio || best.what[0] == '\0')
          best = Candidate{balance, static_cast<double>(*m.below), ratio, "balance"};
      }
      if (m.runs_out_within && w.burn_per_hour > 0) {
        const double hours_left = balance / w.burn_per_hour;
        const double within = static_cast<double>(*m.runs_out_within) / (3600.0 * kNanosPerSecond);
        const double ratio = within / std::max(hours_left, 1e-9);
        if (ratio > best.ratio || best.what[0] == '\0') best = Candidate{hours_left, within, ratio, "hours_left"};
      }
      break;
    }
  }
  Measure out;
  out.known = best.what[0] != '\0';
  out.value = best.value;
  out.threshold = best.threshold;
  out.what = best.what;
  // Keep the ratio in `known` tests: value/threshold for ordinary tests.
  if (out.known && m.kind == MonitorKind::kBalance) {
    // Express as value/threshold > 1 == over: swap so evaluate() can use one rule.
    out.value = best.ratio;
    out.threshold = 1;
    out.what = std::string(best.what) + "=" + std::to_string(static_cast<int64_t>(best.value));
  }
  return out;
}

void Monitors::evaluate(Watch& w, const std::string& contract, const MonitorSpec& m, const std::string& channel,
                        const Series* series, Nanos now, std::vector<MonitorOutcome>& out) {
  const Measure measured = measure(w, m, series, now);
  Firing& f = w.firings[m.name + kKeySeparator + channel];
  const double ratio = measured.known ? measured.value / measured.threshold : 0;
  auto outcome = [&](MonitorOutcome::Kind kind) {
    MonitorOutcome o;
    o.kind = kind;
    o.contract = contract;
    o.monitor = m.name;
    o.channel = channel;
    o.measure = measured.what;
    o.value = measured.value;
    o.threshold = measured.threshold;
    o.time = now;
    return o;
  };
  if (!f.active) {
    if (ratio <= 1 || now < f.quiet_until) return;
    f.active = true;
    f.since = now;
    f.cooldown = m.cooldown;
    f.applied.assign(m.actions.size(), false);
    ++firings_;
    ++by_monitor_[m.name];
    out.push_back(outcome(MonitorOutcome::Kind::kFired));
  }
  if (f.applied.size() != m.actions.size()) f.applied.assign(m.actions.size(), true);  // changed by a reload
  for (size_t i = 0; i < m.actions.size(); ++i) {
    if (f.applied[i] || now - f.since < m.actions[i].after) continue;
    f.applied[i] = true;
    if (m.actions[i].action == ActionDo::kEvent && m.actions[i].after == 0) continue;  // the firing event is it
    MonitorOutcome o = outcome(MonitorOutcome::Kind::kAction);
    o.action = m.actions[i];
    ++actions_due_;
    out.push_back(std::move(o));
  }
  if (ratio < m.hysteresis) {
    f.active = false;
    f.quiet_until = now + m.cooldown;
    out.push_back(outcome(MonitorOutcome::Kind::kCleared));
  }
}

std::vector<MonitorOutcome> Monitors::tick(Nanos now, std::span<const ContractSample> samples,
                                           std::span<const SpecsOf> specs) {
  std::vector<MonitorOutcome> out;
  for (size_t i = 0; i < samples.size(); ++i) {
    const ContractSample& sample = samples[i];
    auto& slot = watches_[sample.contract];
    const bool new_watch = !slot;
    if (new_watch) {
      slot = std::make_unique<Watch>();
      slot->first_seen = now;
    }
    Watch& w = *slot;
    if (new_watch || w.zone_name != sample.zone) {
      w.zone_name = sample.zone;
      if (sample.zone.empty() || !cctz::load_time_zone(sample.zone, &w.zone)) w.zone = cctz::utc_time_zone();
    }
    w.balance = sample.balance;
    roll(w, now);
    w.subjects_today = sample.subjects_today;
    // The first sample of a contract only sets the starting points.
    const uint64_t calls_before = w.calls.last;
    advance(w.calls, sample.calls, false);
    advance(w.scope, sample.scope_denials, false);
    if (new_watch) {
      w.calls.hour = w.calls.day = 0;
      w.scope.hour = w.scope.day = 0;
    }
    const uint64_t delta = new_watch ? 0 : w.calls.last - std::min(calls_before, w.calls.last);
    w.hour_calls[static_cast<size_t>(w.local_hour)] += delta;
    const bool fresh = w.generation != sample.generation;
    w.generation = sample.generation;
    for (size_t c = 0; c < sample.channels.size() && c < sample.channel_calls.size(); ++c) {
      Series& s = w.channels[sample.channels[c]];
      advance(s, sample.channel_calls[c], fresh && !new_watch);
      if (new_watch) s.hour = s.day = 0;
    }
    if (i >= specs.size()) continue;
    for (const MonitorSpec& m : specs[i]) {
      if (m.per == MonitorScope::kChannel) {
        for (const std::string& ch : sample.channels) evaluate(w, sample.contract, m, ch, &w.channels[ch], now, out);
      } else {
        evaluate(w, sample.contract, m, "", nullptr, now, out);
      }
    }
  }
  return out;
}

void Monitors::clear(std::string_view contract, std::string_view monitor, Nanos now) {
  auto it = watches_.find(contract);
  if (it == watches_.end()) return;
  for (auto& [key, f] : it->second->firings) {
    if (!monitor.empty() && std::string_view(key).substr(0, key.find(kKeySeparator)) != monitor) continue;
    if (f.active) f.quiet_until = now + f.cooldown;
    f.active = false;
  }
}

void Monitors::prune(const std::function<bool(std::string_view contract, std::string_view monitor)>& configured) {
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (!configured(it->first, "")) {
      it = watches_.erase(it);
      continue;
    }
    auto& firings = it->second->firings;
    std::erase_if(firings, [&](const auto& entry) {
      const std::string& key = entry.first;
      return !configured(it->first, std::string_view(key).substr(0, key.find(kKeySeparator)));
    });
    ++it;
  }
}

size_t Monitors::firing_now() const {
  size_t n = 0;
  for (const auto& [contract, w] : watches_)
    for (const auto& [key, f] : w->firings) n += f.active ? 1 : 0;
  return n;
}

}  // namespace tollgate
