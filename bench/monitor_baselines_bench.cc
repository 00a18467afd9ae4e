// What keeping the monitors' learned state costs the control loop
// (control/monitor_baselines.h): for N contracts with two channels each and
// a full week of hour-of-week baselines (4 series × 168 slots), the encoding
// (Monitors::save_state, under the runner's mutex), the file write of
// storage.mode embedded (tmp, write, fsync, rename, directory fsync — the
// loop holds no mutex meanwhile) and the restore at start. Counters: bytes
// per contract and of the whole file.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "control/monitor_baselines.h"
#include "monitor/monitors.h"
#include "persist/files/checksummed_file.h"
#include "persist/files/file_system.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'780'272'000LL * kNanosPerSecond;  // 2026-06-01T00:00:00Z, a Monday
constexpr Nanos kHour = 3600 * kNanosPerSecond;

// A week of hourly ticks for `contracts` contracts: every hour-of-week slot sampled.
Monitors learned(int contracts) {
  Monitors m;
  std::vector<ContractSample> samples(static_cast<size_t>(contracts));
  for (int c = 0; c < contracts; ++c) {
    ContractSample& s = samples[static_cast<size_t>(c)];
    s.contract = "tenant-" + std::to_string(c);
    s.zone = "UTC";
    s.channels = {"mobile", "web"};
    s.channel_calls = {0, 0};
  }
  for (int h = 0; h <= 169; ++h) {
    for (ContractSample& s : samples) {
      s.calls += 1000 + static_cast<uint64_t>(h % 24) * 10;
      s.channel_calls[0] += 400;
      s.channel_calls[1] += 600;
      s.scope_denials += 3;
    }
    (void)m.tick(kStart + h * kHour + 1, samples, {});
  }
  return m;
}

void BM_MonitorStateSave(benchmark::State& state) {
  const Monitors m = learned(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    auto entries = m.save_state();
    bytes = 0;
    for (const auto& [contract, entry] : entries) bytes += entry.size();
    benchmark::DoNotOptimize(entries);
  }
  state.counters["bytes_per_contract"] = static_cast<double>(bytes) / static_cast<double>(state.range(0));
}
BENCHMARK(BM_MonitorStateSave)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_MonitorStateFileWrite(benchmark::State& state) {
  const Monitors m = learned(static_cast<int>(state.range(0)));
  const std::string body = encode_baseline_file(m.save_state());
  const std::string dir = std::filesystem::temp_directory_path() / ("tollgate-baselines-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + kBaselineFileName;
  for (auto _ : state) {
    auto written = files::write_checksummed_file(files::default_file_system(), dir, path, kBaselineFileMagic,
                                                 kBaselineFileVersion, body);
    if (!written) state.SkipWithError(written.error().message.c_str());
  }
  state.counters["file_bytes"] = static_cast<double>(body.size() + files::kChecksummedHeaderBytes);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_MonitorStateFileWrite)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_MonitorStateRestore(benchmark::State& state) {
  const auto entries = learned(static_cast<int>(state.range(0))).save_state();
  for (auto _ : state) {
    Monitors m;
    for (const auto& [contract, entry] : entries)
      if (!m.restore_state(contract, entry)) state.SkipWithError("restore failed");
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_MonitorStateRestore)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tollgate
