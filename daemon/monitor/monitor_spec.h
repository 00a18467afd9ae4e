// What a monitor watches and what it does when it fires, as configured
// (`monitors:` under a contract, `monitor_defaults:` for every contract) —
// and where its events go (`monitor_events:`). Plain value types; the config
// reader fills them (config/monitor_reader.h), daemon/monitor/ evaluates
// them. Thread-safety: values only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/time.h"

namespace tollgate {

enum class MonitorKind : uint8_t { kVolume, kNewSubjects, kNightShare, kScopeProbing, kBalance };
enum class MonitorScope : uint8_t { kContract, kChannel };
enum class MonitorPeriod : uint8_t { kHour, kDay };
// `do:` of an action. event is always raised on firing; the others act.
enum class ActionDo : uint8_t { kEvent, kBlockChannel, kSuspend, kThrottle, kEnforce };

std::string_view monitor_kind_name(MonitorKind kind);
std::string_view action_do_name(ActionDo action);

struct MonitorActionSpec {
  ActionDo action = ActionDo::kEvent;
  Nanos after = 0;                        // `after:` — once the monitor has been firing this long (stages)
  Nanos duration = 3600 * kNanosPerSecond;  // `for:` — the action lifts itself after this
  // throttle: a token bucket of `rate` calls per `per`, capacity `burst`
  // (the token_bucket keys and defaults: per 1s, burst = rate).
  int64_t rate = 0;
  Nanos per = kNanosPerSecond;
  int64_t burst = 0;
  std::string limit;  // enforce: the contract's shadow limit to enforce
  int line = 0;
};

struct MonitorSpec {
  std::string name;
  MonitorKind kind = MonitorKind::kVolume;
  MonitorScope per = MonitorScope::kContract;
  MonitorPeriod period = MonitorPeriod::kDay;
  std::optional<double> above;           // absolute threshold (count, or share for night_share)
  std::optional<double> above_baseline;  // k × the contract's own baseline (after warm-up)
  std::optional<double> ratio_above;     // new_subjects: distinct subjects / calls of the day
  int night_from = 22;                   // night_share: local hours [from, to) (wrapping midnight)
  int night_to = 6;
  int64_t min_calls = 100;               // baseline, ratio and share tests need at least this many calls
  std::optional<int64_t> below;          // balance: minor units
  std::optional<Nanos> runs_out_within;  // balance: projected at the last hour's burn rate
  Nanos warmup = 7 * 86400 * kNanosPerSecond;  // only absolute thresholds apply before this
  Nanos cooldown = 3600 * kNanosPerSecond;     // after clearing, no new firing for this long
  double hysteresis = 0.8;                     // clears once every value is below this × its threshold
  std::vector<MonitorActionSpec> actions;
  int line = 0;
};

// `monitor_events:` — where firings and actions go besides EVENTS.
struct MonitorEventsConfig {
  std::string file;                     // JSON lines; empty: none. Relative to the config file.
  int64_t max_bytes = 16 << 20;         // rotate (file → file.1 … file.<keep>) past this size
  int keep = 3;
  std::string webhook;                  // http(s) URL POSTed each event; empty: none
  Nanos webhook_timeout = 5 * kNanosPerSecond;
  int webhook_retries = 5;              // attempts after the first, with doubling backoff from 1 s
};

}  // namespace tollgate
