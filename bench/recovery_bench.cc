// Start-up recovery of the embedded store (issue 6 target: 1M keys and 10k
// contracts in <= 2 s): a snapshot holding 10k priced contracts with a
// recharge and debits each plus 900k dynamic keys, then a journal with 100k
// more keys in checkpoints and 10k admin mutations. Measures recover() into a
// fresh engine (engine construction is not timed), and the cost of one
// checkpoint of 10k used keys.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>

#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;
constexpr int kContracts = 10'000;
constexpr int kKeys = 1'000'000;

EngineOptions bench_options() {
  EngineOptions o;
  o.track_changes = true;  // as with a store: checkpoints save changed keys
  LimitSpec daily;
  daily.name = "daily";
  daily.type = LimitType::kQuota;
  daily.limit = 1'000'000;
  daily.period = Period::kDay;
  for (int i = 0; i < kContracts; ++i) {
    PolicySpec c;
    c.name = "contract-" + std::to_string(i);
    c.limits = {daily};
    ContractRules rules;
    rules.pricing = PriceLadder::flat(100);
    c.rules = rules;
    o.contracts.push_back(std::move(c));
  }
  PolicySpec keys;
  keys.name = "k:*";
  LimitSpec bucket;
  bucket.name = "rate";
  bucket.type = LimitType::kTokenBucket;
  bucket.rate = 100;
  bucket.per = kNanosPerSecond;
  bucket.burst = 100;
  keys.limits = {bucket, daily};
  o.key_classes.push_back(keys);
  o.table.max_dynamic_keys = 2 * kKeys;
  return o;
}

struct World {
  explicit World(const std::string& dir) {
    engine = std::move(*Engine::create(bench_options(), reclaimer, kStart, state));
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    persist::EmbeddedStoreOptions so;
    so.dir = dir;
    so.clock = &clock;
    store = std::make_unique<persist::EmbeddedStore>(so, state, [this]() -> Engine& { return *engine; });
  }
  void check(const std::string& key) {
    CheckRequest r;
    r.key = key;
    (void)engine->check(r, clock.now(), 0);
  }
  ManualClock clock{kStart};
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<persist::EmbeddedStore> store;
};

const std::string& prepared_dir() {
  static const std::string dir = [] {
    std::string d = (std::filesystem::temp_directory_path() / "tollgate-recovery-bench").string();
    std::filesystem::remove_all(d);
    World w(d);
    if (!w.store->recover(w.clock.now())) std::abort();
    w.admin->set_durability(w.store.get());
    for (int i = 0; i < kContracts; ++i) {
      const std::string key = "contract-" + std::to_string(i);
      (void)w.admin->recharge(key, "1000000", "pay-" + std::to_string(i), 0, w.clock.now());
      for (int j = 0; j < 3; ++j) w.check(key);
    }
    for (int i = 0; i < kKeys * 9 / 10; ++i) w.check("k:" + std::to_string(i));
    if (!w.store->snapshot(w.clock.now())) std::abort();
    w.clock.advance(5 * kNanosPerSecond);
    for (int i = kKeys * 9 / 10; i < kKeys; ++i) {
      w.check("k:" + std::to_string(i));
      if (i % 10'000 == 0) (void)w.store->checkpoint(w.clock.now());
    }
    for (int i = 0; i < kContracts; ++i)
      (void)w.admin->suspend("contract-" + std::to_string(i), "bench", 0, w.clock.now());
    (void)w.store->checkpoint(w.clock.now());
    return d;
  }();
  return dir;
}

void BM_RecoverMillionKeysTenThousandContracts(benchmark::State& state) {
  const std::string& dir = prepared_dir();
  for (auto _ : state) {
    state.PauseTiming();
    auto w = std::make_unique<World>(dir);
    state.ResumeTiming();
    auto r = w->store->recover(w->clock.now());
    if (!r) state.SkipWithError(r.error().c_str());
    state.PauseTiming();
    state.counters["keys"] = static_cast<double>(w->store->status().recovery_keys_restored);
    state.counters["journal_records"] = static_cast<double>(w->store->status().recovery_records_replayed);
    w.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_RecoverMillionKeysTenThousandContracts)->Unit(benchmark::kMillisecond)->Iterations(2);

// One checkpoint after 10k keys were used (out of 1M live): flush of 10k
// accounts, scan of the table, encode, one write + fdatasync.
void BM_CheckpointTenThousandUsedKeys(benchmark::State& state) {
  const std::string& dir = prepared_dir();
  auto w = std::make_unique<World>(dir);
  if (!w->store->recover(w->clock.now())) std::abort();
  int next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    w->clock.advance(5 * kNanosPerSecond);
    for (int i = 0; i < 10'000; ++i) w->check("k:" + std::to_string(next++ % kKeys));
    state.ResumeTiming();
    if (!w->store->checkpoint(w->clock.now())) state.SkipWithError("checkpoint failed");
  }
  state.counters["keys_written"] = static_cast<double>(w->store->status().checkpoint_keys_last);
}
BENCHMARK(BM_CheckpointTenThousandUsedKeys)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace tollgate
