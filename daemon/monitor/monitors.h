// Monitors: per contract and per channel, from counters the workers keep
// (Policy::channel_calls, ContractState's decisions by code, the subject
// estimate, the balance), sampled about once a second. Decides when a
// monitor fires, when it clears (hysteresis, cool-down) and when each of its
// staged actions is due. Pure logic: `now` is passed in; no clock, I/O or
// threads — control/monitor_runner.h samples the engine and carries the
// outcomes out (events, journaled actions).
//
// Baselines: an exponentially weighted mean (alpha 0.3) of the same hour of
// the week, per contract and per channel, in the contract's time zone; a day's
// baseline is the sum of its 24 hours'. Before a contract has been watched
// for `warmup` (and before a slot has a sample) only absolute thresholds
// apply.
//
// Learned state across restarts (monitors_state.cc): save_state() encodes,
// per watched contract, everything evaluation goes on from — the baselines
// (calls, scope denials, each channel), warm-up start, the current and
// previous hour's and day's counts, the rolling 24 hours, the new-subject
// baseline, the burn rate, and each monitor's firing state (active, since,
// stages applied, cool-down end) — and restore_state() takes it back before
// the contract's first tick. The control plane keeps it between runs
// (control/monitor_baselines.h); a restored contract continues as if the
// daemon had never stopped, except for the calls it did not see meanwhile.
// Entry format (little-endian; version 1; a later version only appends
// fields, so an older entry still decodes):
//   u8 version | i64 first_seen | i64 hour_index | i64 day_index
//   u8 hour_of_week, prev_hour_of_week (0..167 as u8) | u8 weekday, prev_weekday, local_hour
//   str zone | series calls | series scope | u32 n, n × (str channel, series)
//   24 × u64 hour_calls | 24 × i64 hour_stamp
//   f64 subjects_baseline | u32 subjects_days | f64 subjects_prev_day | f64 subjects_today
//   i64 balance | i64 balance_hour_start | f64 burn_per_hour
//   u32 n, n × (str monitor\x1fchannel, u8 active, i64 since, i64 quiet_until, i64 cooldown,
//               u32 stages, stages × u8 applied)
// series: u64 hour, prev_hour, day, prev_day | u8 slots, slots × (u8 hour_of_week, u16 samples, f64 baseline)
// str: u32 length + bytes; f64: the IEEE bits as u64 (exact round trip).
//
// Thread-safety: not thread-safe; one owner (the control loop).
#pragma once

#include <cctz/time_zone.h>

#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "monitor/monitor_spec.h"
#include "tollgate/time.h"

namespace tollgate {

// One contract's counters at one instant. Counters are cumulative; a new
// `generation` (the policy a reload built) restarts the channel counters at 0.
struct ContractSample {
  std::string contract;
  std::string zone;                 // IANA name; empty: UTC
  const void* generation = nullptr;  // identity of the channel counters
  uint64_t calls = 0;               // calls that passed the scope gates
  uint64_t scope_denials = 0;       // CHANNEL, PURPOSE, EXPIRED, SUSPENDED denials
  std::vector<std::string> channels;
  std::vector<uint64_t> channel_calls;  // per channels[i]
  double subjects_today = -1;        // distinct end users of the day (estimate); <0 unknown
  int64_t balance = -1;              // prepaid minor units; <0 without pricing
};

// What evaluation found: a monitor fired or cleared, or one of its actions is due.
struct MonitorOutcome {
  enum class Kind : uint8_t { kFired, kCleared, kAction };
  Kind kind = Kind::kFired;
  std::string contract;
  std::string monitor;
  std::string channel;  // per: channel — the channel measured
  std::string measure;  // what was measured, e.g. "calls_day", "night_share"
  double value = 0;
  double threshold = 0;
  MonitorActionSpec action;  // kAction
  std::string why;           // a lift's cause (empty: expired)
  Nanos time = 0;
};

class Monitors {
 public:
  // `specs(contract)` — the monitors of a contract (its own, then the defaults it does not override).
  using SpecsOf = std::span<const MonitorSpec>;

  // Feeds one tick's samples and the monitors configured for each contract
  // (specs[i] for samples[i]); returns what fired, cleared or is due, in order.
  std::vector<MonitorOutcome> tick(Nanos now, std::span<const ContractSample> samples,
                                   std::span<const SpecsOf> specs);

  // Forgets a firing so that it can fire again at once (an operator lifted
  // its actions). Empty monitor: every monitor of the contract.
  // The monitor stays quiet for its cool-down from `now`.
  void clear(std::string_view contract, std::string_view monitor, Nanos now);

  // The learned state of every watched contract: (contract, entry) in
  // contract order, each entry in the format above.
  std::vector<std::pair<std::string, std::string>> save_state() const;
  // Takes back one contract's entry of an earlier run, before the contract's
  // first tick here (it replaces any watch of that contract). An entry that
  // does not decode whole changes nothing: the contract warms up as new.
  // Counters are read as starting from 0 (a new process), so the first tick
  // counts every call since start.
  [[nodiscard]] std::expected<void, std::string> restore_state(std::string_view contract, std::string_view entry);
  // After a reload: forgets every contract for which `configured(contract,
  // "")` is false (no monitor left: if one comes back it starts afresh,
  // warm-up included) and the firing state of each monitor for which
  // `configured(contract, monitor)` is false. Kept contracts keep their
  // baselines, which belong to the contract and its channels, not a monitor.
  void prune(const std::function<bool(std::string_view contract, std::string_view monitor)>& configured);
  size_t watched() const { return watches_.size(); }

  uint64_t firings() const { return firings_; }
  uint64_t actions_due() const { return actions_due_; }
  // Monitors currently firing (contract, monitor, channel).
  size_t firing_now() const;
  // Firings per monitor name since start.
  const std::map<std::string, uint64_t, std::less<>>& firings_by_monitor() const { return by_monitor_; }

 private:
  static constexpr int kHoursPerWeek = 168;
  struct Series {  // one counter (the contract's calls, one channel's calls)
    uint64_t last = 0;        // cumulative value at the previous tick
    uint64_t hour = 0;        // this local hour so far
    uint64_t prev_hour = 0;   // the previous local hour
    uint64_t day = 0;         // this local day so far
    uint64_t prev_day = 0;
    std::array<double, kHoursPerWeek> baseline{};
    std::array<uint16_t, kHoursPerWeek> samples{};
  };
  struct Firing {
    bool active = false;
    Nanos since = 0;
    Nanos quiet_until = 0;  // cool-down end
    Nanos cooldown = 0;
    std::vector<bool> applied;
  };
  struct Watch {
    cctz::time_zone zone;
    std::string zone_name;
    Nanos first_seen = 0;
    int64_t hour_index = INT64_MIN;  // local hours since 1970-01-01T00 local
    int64_t day_index = INT64_MIN;
    int hour_of_week = 0;
    int prev_hour_of_week = 0;
    int weekday = 0;       // 0 = Monday, of the current day
    int prev_weekday = 0;
    int local_hour = 0;
    Series calls;
    Series scope;
    const void* generation = nullptr;
    std::map<std::string, Series, std::less<>> channels;
    // Rolling last 24 local hours (calls, of which at night per the monitor's hours: kept per hour).
    std::array<uint64_t, 24> hour_calls{};   // by local hour of day, of the last 24 hours
    std::array<int64_t, 24> hour_stamp{};    // hour_index each slot holds
    double subjects_baseline = 0;
    int subjects_days = 0;
    double subjects_prev_day = -1;
    double subjects_today = -1;
    int64_t balance = -1;
    int64_t balance_hour_start = -1;
    double burn_per_hour = 0;  // EWMA of the balance's drop per hour
    std::map<std::string, Firing, std::less<>> firings;  // monitor \x1f channel
  };
  struct Measure {
    bool known = false;
    double value = 0;
    double threshold = 0;
    std::string what;
  };

  void roll(Watch& w, Nanos now);
  void advance(Series& s, uint64_t cumulative, bool fresh) const;
  Measure measure(const Watch& w, const MonitorSpec& m, const Series* channel, Nanos now) const;
  bool baseline_ready(const Watch& w, Nanos now, const MonitorSpec& m) const;
  void evaluate(Watch& w, const std::string& contract, const MonitorSpec& m, const std::string& channel,
                const Series* series, Nanos now, std::vector<MonitorOutcome>& out);

  std::map<std::string, std::unique_ptr<Watch>, std::less<>> watches_;
  uint64_t firings_ = 0;
  uint64_t actions_due_ = 0;
  std::map<std::string, uint64_t, std::less<>> by_monitor_;
};

}  // namespace tollgate
