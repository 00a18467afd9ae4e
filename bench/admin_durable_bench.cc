// One admin change made durable on the embedded store (ContractAdmin →
// EmbeddedStore::durable, fdatasync included) while `range(0)` holds are
// open in the default pool (max_holds 100 000: 262 144 slots). With
// range(1) == 1 one hold is settled and another created before each change,
// so the open set differs from the one last journaled: durable() reads the
// pool and writes the set (the cut a checkpoint takes, docs/durability.md);
// with 0 the set is unchanged since the last change. Both variants compile
// against the store before and after the cut was added to durable(), so
// the two binaries' figures compare the same work.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    path_ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tollgate-admin-bench-XXXXXX";
    if (::mkdtemp(path_.data()) == nullptr) std::abort();
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EngineOptions bench_options() {
  EngineOptions o;
  o.track_changes = true;  // as with a store
  LimitSpec daily;
  daily.name = "daily";
  daily.type = LimitType::kQuota;
  daily.limit = 1'000'000'000;
  daily.period = Period::kDay;
  ContractRules rules;
  rules.pricing = PriceLadder::flat(1);
  PolicySpec held;
  held.name = "held";
  held.limits = {daily};
  held.rules = rules;
  o.contracts.push_back(held);
  PolicySpec other;
  other.name = "other";
  other.limits = {daily};
  other.rules = ContractRules{};
  o.contracts.push_back(other);
  return o;
}

void BM_AdminChangeDurable(benchmark::State& state) {
  const int64_t open = state.range(0);
  const bool holds_change = state.range(1) != 0;
  BenchDir dir;
  ManualClock clock{kStart};
  Reclaimer reclaimer;
  RuntimeState runtime;
  auto engine = std::move(*Engine::create(bench_options(), reclaimer, kStart, runtime));
  ContractAdmin admin([&]() -> Engine& { return *engine; }, runtime);
  persist::EmbeddedStoreOptions so;
  so.dir = dir.path();
  so.clock = &clock;
  persist::EmbeddedStore store(so, runtime, [&]() -> Engine& { return *engine; });
  if (auto r = store.recover(clock.now()); !r) {
    state.SkipWithError(r.error().c_str());
    return;
  }
  admin.set_durability(&store);
  if (!admin.recharge("held", "1000000000", "pay-1", 0, clock.now())) {
    state.SkipWithError("recharge refused");
    return;
  }
  CheckRequest r;
  r.key = "held";
  r.hold_ms = 3'600'000;
  std::string id;
  auto hold = [&](int64_t i) {
    id = "h-" + std::to_string(i);
    r.id = id;
    return engine->check(r, clock.now(), 0).allowed;
  };
  for (int64_t i = 0; i < open; ++i)
    if (!hold(i)) {
      state.SkipWithError("hold refused");
      return;
    }
  if (!store.checkpoint(clock.now())) {
    state.SkipWithError("checkpoint failed");
    return;
  }
  int64_t next = open, oldest = 0;
  bool suspended = false;
  for (auto _ : state) {
    if (holds_change && open > 0) {
      (void)engine->settle("held", "h-" + std::to_string(oldest++), false, clock.now());
      if (!hold(next++)) state.SkipWithError("hold refused");
    }
    auto done = suspended ? admin.resume("other", 0, clock.now()) : admin.suspend("other", "bench", 0, clock.now());
    if (!done) state.SkipWithError("admin change refused");
    suspended = !suspended;
  }
  state.counters["open"] = static_cast<double>(engine->holds().open());
}
BENCHMARK(BM_AdminChangeDurable)
    ->Args({0, 0})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({50'000, 0})
    ->Args({50'000, 1})
    ->ArgNames({"open", "changed"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace tollgate
