#include "config/monitor_reader.h"

#include <charconv>
#include <set>

#include "config/config.h"
#include "config/config_paths.h"
#include "config/limit_reader.h"
#include "engine/limits/token_bucket.h"

namespace tollgate {
namespace {

constexpr std::pair<std::string_view, MonitorKind> kMonitorKindNames[] = {{"volume", MonitorKind::kVolume},
                                                                   {"new_subjects", MonitorKind::kNewSubjects},
                                                                   {"night_share", MonitorKind::kNightShare},
                                                                   {"scope_probing", MonitorKind::kScopeProbing},
                                                                   {"balance", MonitorKind::kBalance}};
constexpr std::pair<std::string_view, MonitorScope> kMonitorScopeNames[] = {{"contract", MonitorScope::kContract},
                                                                     {"channel", MonitorScope::kChannel}};
constexpr std::pair<std::string_view, MonitorPeriod> kMonitorPeriodNames[] = {{"hour", MonitorPeriod::kHour},
                                                                       {"day", MonitorPeriod::kDay}};
constexpr std::pair<std::string_view, ActionDo> kActionDoNames[] = {{"event", ActionDo::kEvent},
                                                              {"block_channel", ActionDo::kBlockChannel},
                                                              {"suspend", ActionDo::kSuspend},
                                                              {"throttle", ActionDo::kThrottle},
                                                              {"enforce", ActionDo::kEnforce}};

// A positive (or zero, with `zero_ok`) decimal number.
bool read_number(const MapReader& m, std::string_view key, std::optional<double>& out, double max) {
  const MapReader::Entry* e = m.find(key);
  if (e == nullptr) return false;
  if (!e->value.IsScalar()) {
    m.error(*e, "expected a number");
    return false;
  }
  const std::string text = e->value.Scalar();
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v > 0) || v > max) {
    m.error(*e, "expected a number above 0 and at most " + std::to_string(static_cast<int64_t>(max)) + ", got '" +
                    text + "'");
    return false;
  }
  out = v;
  return true;
}

// `hours: "22-06"` — local hours [from, to).
bool read_hours(const MapReader& m, MonitorSpec& spec) {
  std::string text;
  if (!m.read_string("hours", text)) return false;
  int from = -1, to = -1;
  const size_t dash = text.find('-');
  auto parse = [](std::string_view s, int& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && v >= 0 && v <= 24;
  };
  if (dash == std::string::npos || !parse(std::string_view(text).substr(0, dash), from) ||
      !parse(std::string_view(text).substr(dash + 1), to) || from == to) {
    m.error(*m.find("hours"), "expected local hours as \"from-to\" (e.g. \"22-06\"), got '" + text + "'");
    return false;
  }
  spec.night_from = from % 24;
  spec.night_to = to % 24;
  return true;
}

// throttle's rate/per/burst (the token_bucket keys and defaults) and
// enforce's limit; each is refused on the other kinds.
bool read_action_terms(ErrorSink& errors, const MapReader& a, MonitorActionSpec& action) {
  const size_t errors_before = errors.count();
  const bool throttle = action.action == ActionDo::kThrottle;
  for (const char* key : {"rate", "per", "burst"})
    if (!throttle && a.find(key) != nullptr) a.error(*a.find(key), std::string(key) + " applies to do: throttle only");
  if (action.action != ActionDo::kEnforce && a.find("limit") != nullptr)
    a.error(*a.find("limit"), "limit applies to do: enforce only");
  if (throttle) {
    if (a.find("rate") == nullptr) errors.add(a.line(), a.path_of("rate") + ": is required for do: throttle");
    a.read_integer("rate", action.rate, 1, ConfigDefaults::kMaxCount);
    a.read_duration("per", action.per);
    action.burst = action.rate;
    a.read_integer("burst", action.burst, 1, ConfigDefaults::kMaxCount);
    if (errors.count() == errors_before) {
      if (auto bucket = TokenBucket::make(action.rate, action.per, action.burst); !bucket)
        errors.add(a.line(), a.path_of("rate") + ": " + bucket.error());
    }
  }
  if (action.action == ActionDo::kEnforce) {
    if (a.find("limit") == nullptr)
      errors.add(a.line(), a.path_of("limit") + ": is required for do: enforce (a shadow limit of the contract)");
    a.read_string("limit", action.limit);
  }
  return errors.count() == errors_before;
}

void read_actions(ErrorSink& errors, const MapReader& m, MonitorSpec& spec) {
  const MapReader::Entry* entry = m.find("actions");
  if (entry == nullptr) return;
  size_t index = 0;
  for (const YAML::Node& item : sequence_items(errors, entry->value, m.path_of("actions"), entry->key_line)) {
    const MapReader a(errors, item, m.path_of("actions") + "[" + std::to_string(index++) + "]",
                      {"do", "for", "after", "rate", "per", "burst", "limit"}, line_of(item, entry->key_line));
    if (!a.is_map()) continue;
    MonitorActionSpec action;
    action.line = a.line();
    const MapReader::Entry* what = a.find("do");
    if (what == nullptr) {
      errors.add(a.line(), a.path_of("do") + ": is required (event | block_channel | suspend | throttle | enforce)");
      continue;
    }
    if (!a.read_choice("do", action.action, kActionDoNames)) continue;
    a.read_duration("for", action.duration);
    a.read_duration("after", action.after);
    if (action.action == ActionDo::kBlockChannel && spec.per != MonitorScope::kChannel)
      a.error(*what, "block_channel needs the monitor to be per: channel (it blocks the channel that fired)");
    if (!read_action_terms(errors, a, action)) continue;
    spec.actions.push_back(action);
  }
}

void check_thresholds(ErrorSink& errors, const MapReader& m, const MonitorSpec& spec) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) errors.add(m.line(), m.path_of("kind") + ": " + std::string(monitor_kind_name(spec.kind)) + " needs " + what);
  };
  switch (spec.kind) {
    case MonitorKind::kVolume: need(spec.above || spec.above_baseline, "above or above_baseline"); break;
    case MonitorKind::kNewSubjects:
      need(spec.above || spec.above_baseline || spec.ratio_above, "above, above_baseline or ratio_above");
      break;
    case MonitorKind::kNightShare:
      need(spec.above && *spec.above <= 1, "above: the share of calls at night (a fraction, at most 1)");
      break;
    case MonitorKind::kScopeProbing: need(spec.above.has_value(), "above: denials per hour"); break;
    case MonitorKind::kBalance: need(spec.below || spec.runs_out_within, "below or runs_out_within"); break;
  }
  if (spec.per == MonitorScope::kChannel && spec.kind != MonitorKind::kVolume)
    errors.add(m.line(), m.path_of("per") + ": only volume monitors can be per: channel");
}

}  // namespace

void read_monitor_list(ErrorSink& errors, const MapReader& parent, std::string_view key, bool has_channels,
                       std::vector<MonitorSpec>& out) {
  const MapReader::Entry* entry = parent.find(key);
  if (entry == nullptr) return;
  std::set<std::string, std::less<>> names;
  size_t index = 0;
  const std::string path = parent.path_of(key);
  for (const YAML::Node& item : sequence_items(errors, entry->value, path, entry->key_line)) {
    const MapReader m(errors, item, path + "[" + std::to_string(index++) + "]",
                      {"name", "kind", "per", "period", "above", "above_baseline", "ratio_above", "hours", "min_calls",
                       "below", "runs_out_within", "warmup", "cooldown", "hysteresis", "actions"},
                      line_of(item, entry->key_line));
    if (!m.is_map()) continue;
    const size_t errors_before = errors.count();
    MonitorSpec spec;
    spec.line = m.line();
    if (m.find("name") == nullptr) errors.add(m.line(), m.path_of("name") + ": is required");
    else if (m.read_string("name", spec.name) && !is_valid_name(spec.name))
      m.error(*m.find("name"), "'" + spec.name + "' is not a valid name (use letters, digits, _ . -)");
    else if (!spec.name.empty() && !names.insert(spec.name).second)
      m.error(*m.find("name"), "duplicate monitor name '" + spec.name + "'");
    if (m.find("kind") == nullptr)
      errors.add(m.line(), m.path_of("kind") + ": is required (volume | new_subjects | night_share | scope_probing | balance)");
    m.read_choice("kind", spec.kind, kMonitorKindNames);
    m.read_choice("per", spec.per, kMonitorScopeNames);
    m.read_choice("period", spec.period, kMonitorPeriodNames);
    read_number(m, "above", spec.above, 1e15);
    read_number(m, "above_baseline", spec.above_baseline, 1e6);
    read_number(m, "ratio_above", spec.ratio_above, 1);
    read_hours(m, spec);
    m.read_integer("min_calls", spec.min_calls, 0, ConfigDefaults::kMaxCount);
    int64_t below = 0;
    if (m.read_integer("below", below, 1, ConfigDefaults::kMaxCount)) spec.below = below;
    Nanos within = 0;
    if (m.read_duration("runs_out_within", within)) spec.runs_out_within = within;
    m.read_duration("warmup", spec.warmup);
    m.read_duration("cooldown", spec.cooldown);
    std::optional<double> hysteresis;
    if (read_number(m, "hysteresis", hysteresis, 1)) spec.hysteresis = *hysteresis;
    if (errors.count() != errors_before) continue;
    if (spec.per == MonitorScope::kChannel && !has_channels) {
      errors.add(m.line(), m.path_of("per") + ": per: channel needs the contract's channels: list");
      continue;
    }
    check_thresholds(errors, m, spec);
    read_actions(errors, m, spec);
    if (errors.count() == errors_before) out.push_back(std::move(spec));
  }
}

void read_monitor_events(ErrorSink& errors, const MapReader& root, std::string_view base_dir,
                         MonitorEventsConfig& out) {
  const MapReader::Entry* entry = root.find("monitor_events");
  if (entry == nullptr) return;
  const MapReader m(errors, entry->value, "monitor_events",
                    {"file", "max_bytes", "keep", "webhook", "webhook_timeout", "webhook_retries"}, entry->key_line);
  if (!m.is_map()) return;
  if (m.read_string("file", out.file)) out.file = resolve_config_path(base_dir, out.file);
  m.read_size("max_bytes", out.max_bytes, 4096, int64_t{1} << 40);
  m.read_integer("keep", out.keep, 1, 100);
  if (m.read_string("webhook", out.webhook) && !out.webhook.starts_with("http://") &&
      !out.webhook.starts_with("https://"))
    m.error(*m.find("webhook"), "expected an http:// or https:// URL");
  m.read_duration("webhook_timeout", out.webhook_timeout);
  m.read_integer("webhook_retries", out.webhook_retries, 0, 100);
}

namespace {

// Why `limit` cannot be enforced on `contract` (empty: it can).
std::string enforce_problem(const ContractConfig& contract, const std::string& limit) {
  for (const LimitSpec& l : contract.limits) {
    if (l.name != limit) continue;
    if (!l.shadow) return "'" + limit + "' is enforced already (enforce names a limit with shadow: true)";
    if (l.type != LimitType::kTokenBucket && l.type != LimitType::kSlidingWindow && l.type != LimitType::kQuota)
      return "'" + limit + "' is a " + std::string(yaml_name(l.type)) +
             " limit; enforce works on token_bucket, sliding_window and quota shadow limits";
    return {};
  }
  std::string shadows;
  for (const LimitSpec& l : contract.limits)
    if (l.shadow) shadows += (shadows.empty() ? "" : ", ") + l.name;
  return "'" + limit + "' is not a shadow limit of contract '" + contract.key + "' (its shadow limits: " +
         (shadows.empty() ? "none" : shadows) + ")";
}

}  // namespace

void check_monitor_limits(ErrorSink& errors, const Config& config) {
  for (const auto& [key, contract] : config.contracts) {
    auto check = [&](const MonitorSpec& m, const std::string& where) {
      for (const MonitorActionSpec& a : m.actions)
        if (a.action == ActionDo::kEnforce)
          if (std::string why = enforce_problem(contract, a.limit); !why.empty())
            errors.add(a.line, where + m.name + ": enforce: " + why);
    };
    for (const MonitorSpec& own : contract.monitors) check(own, "contracts." + key + ".monitors.");
    for (const MonitorSpec& d : config.monitor_defaults) {
      bool overridden = false;
      for (const MonitorSpec& own : contract.monitors) overridden = overridden || own.name == d.name;
      if (!overridden) check(d, "monitor_defaults.");
    }
  }
}

}  // namespace tollgate
