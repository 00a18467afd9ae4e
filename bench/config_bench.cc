// Config load and reload time against the number of contracts: both must
// grow linearly (items/s flat across sizes). Loading 100,000 contracts took
// 26 s before: MapReader checked each key for duplicates with a linear scan
// (quadratic in the size of `contracts:`), and a reload looked each table
// entry's contract up with a linear scan (entries × contracts).
#include <benchmark/benchmark.h>

#include <string>

#include "control/engine_options.h"
#include "config/config_loader.h"
#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

std::string generated(int64_t contracts) {
  std::string text = "storage: { mode: memory }\ncontracts:\n";
  for (int64_t i = 0; i < contracts; ++i) {
    text += "  tenant-" + std::to_string(i) +
            ":\n    limits:\n      - { name: daily, type: quota, limit: 1000, period: day }\n"
            "      - { name: rate, type: token_bucket, rate: 10, per: 1s }\n";
  }
  return text;
}

// YAML text → validated Config (what --check-config, start and reload do first).
void BM_ParseContracts(benchmark::State& state) {
  const std::string text = generated(state.range(0));
  for (auto _ : state) {
    auto config = parse_config(text, "bench.yaml");
    if (!config) state.SkipWithError("config refused");
    benchmark::DoNotOptimize(config);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParseContracts)->RangeMultiplier(4)->Range(1 << 10, 1 << 16)->Unit(benchmark::kMillisecond);

// A reload's engine build: a new engine over the running one's table
// (compile, hand-over, adopt every entry).
void BM_ReloadEngine(benchmark::State& state) {
  auto config = parse_config(generated(state.range(0)), "bench.yaml");
  if (!config) return state.SkipWithError("config refused");
  const EngineOptions options = engine_options_from(*config, 1);
  Reclaimer reclaimer;
  RuntimeState store;
  auto running = Engine::create(options, reclaimer, kNow, store);
  if (!running) return state.SkipWithError("engine refused");
  std::unique_ptr<Engine> current = std::move(*running);
  for (auto _ : state) {
    auto next = Engine::create(options, reclaimer, kNow, store, current.get());
    if (!next) return state.SkipWithError("engine refused");
    current = std::move(*next);  // the previous one is unused here: no grace period needed
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ReloadEngine)->RangeMultiplier(4)->Range(1 << 10, 1 << 16)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tollgate
