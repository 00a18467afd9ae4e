// What the candidate's monitors cost tollgate-replay (replay/replay_monitors.h):
// the same simulated day of records (200 contracts, 2 channels each, Zipf-like
// traffic, ~2.3 M calls over 24 h) replayed through a candidate without
// monitors (monitors:0) and with five monitor_defaults on every contract
// (monitors:1), same run. Records are applied to the Replayer directly (no
// segments), so the figure is the decisions plus the monitors' ticks.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "calllog/call_record.h"
#include "config/config_loader.h"
#include "replay/replay.h"

namespace tollgate {
namespace {

constexpr int kTenants = 200;
constexpr Nanos kDayStart = 1'780'272'000LL * kNanosPerSecond;  // 2026-06-01T00:00:00Z
constexpr Nanos kDay = 86'400LL * kNanosPerSecond;

std::string candidate_yaml(bool monitors) {
  std::string y = "timezone: UTC\n";
  if (monitors) {
    y += R"(monitor_defaults:
  - { name: channel-volume, kind: volume, per: channel, period: hour, above: 5000,
      actions: [{ do: event }, { do: block_channel, for: 1h }] }
  - { name: day-volume, kind: volume, period: day, above_baseline: 3.0, warmup: 1h }
  - { name: new-users, kind: new_subjects, above: 100000 }
  - { name: night, kind: night_share, above: 0.9 }
  - { name: probing, kind: scope_probing, above: 1000 }
)";
  }
  y += "contracts:\n";
  for (int i = 0; i < kTenants; ++i) {
    y += "  tenant-" + std::to_string(i) +
         ":\n    channels: [web, mobile]\n    limits:\n      - { name: burst, type: token_bucket, rate: 50, per: 1s, "
         "burst: 100 }\n";
  }
  return y;
}

struct Day {
  std::vector<std::string> keys;
  std::vector<calllog::CallRecord> records;
};

const Day& day() {
  static Day d = [] {
    Day out;
    std::mt19937_64 rng(13);
    for (int i = 0; i < kTenants; ++i) out.keys.push_back("tenant-" + std::to_string(i));
    static const char* kChannels[] = {"web", "mobile"};
    for (Nanos t = kDayStart; t < kDayStart + kDay;) {
      t += static_cast<Nanos>(rng() % 75'000'000);  // ~27 calls/s on average
      calllog::CallRecord r;
      r.time = t;
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      r.key = out.keys[static_cast<size_t>(std::pow(double{kTenants}, u)) - 1];
      r.channel = kChannels[rng() % 2];
      r.subject_hash = (rng() % 5000) + 1;
      r.allowed = true;
      r.code = Code::kOk;
      out.records.push_back(r);
    }
    return out;
  }();
  return d;
}

void BM_ReplayMonitorsOverhead(benchmark::State& state) {
  const bool monitors = state.range(0) != 0;
  auto config = parse_config(candidate_yaml(monitors), "bench.yaml");
  if (!config) std::abort();
  const Day& d = day();
  uint64_t calls = 0, ticks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto replayer = replay::Replayer::create(*config, kDayStart);
    if (!replayer) std::abort();
    state.ResumeTiming();
    for (const calllog::CallRecord& r : d.records) (*replayer)->apply(r);
    (*replayer)->finish();
    calls += (*replayer)->report().calls;
    ticks = (*replayer)->report().monitor_ticks;
  }
  state.counters["calls_per_second"] = benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
  state.counters["ticks"] = static_cast<double>(ticks);
  state.counters["records"] = static_cast<double>(d.records.size());
}
BENCHMARK(BM_ReplayMonitorsOverhead)->Arg(0)->Arg(1)->ArgName("monitors")->Iterations(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tollgate
