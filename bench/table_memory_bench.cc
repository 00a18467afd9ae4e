// Memory and lookup cost of dynamic keys: RSS per key and ns per CHECK of a
// random existing key at 100k, 1M and 10M keys of a one-limit key class.
// Run alone for clean RSS figures:
//   build/bench/tollgate_bench --benchmark_filter=BM_TableMemory
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// Keys are generated on the fly (no key vector in memory to distort RSS).
std::string key_of(uint64_t i, char* buf) {
  int n = std::snprintf(buf, 32, "ip:%llu", static_cast<unsigned long long>(i * 2654435761ull % 4294967291ull));
  return std::string(buf, static_cast<size_t>(n));
}

void BM_TableMemory(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  Reclaimer reclaimer;
  RuntimeState store;
  EngineOptions o;
  o.table.max_dynamic_keys = n + 1;
  o.dedup_max_entries = 1;  // this benchmark measures the key table only
  o.max_holds = 1;
  LimitSpec bucket;
  bucket.name = "ip";
  bucket.type = LimitType::kTokenBucket;
  bucket.rate = 100;
  bucket.per = kNanosPerSecond;
  bucket.burst = 200;
  PolicySpec cls;
  cls.name = "ip:*";
  cls.limits = {bucket};
  o.key_classes.push_back(cls);
  size_t before = rss_bytes();
  auto engine = std::move(*Engine::create(o, reclaimer, kStart, store));
  char buf[32];
  CheckRequest r;
  for (uint64_t i = 0; i < n; ++i) {
    std::string k = key_of(i, buf);
    r.key = k;
    engine->check(r, kStart);
  }
  size_t after = rss_bytes();
  std::mt19937_64 rng(1);
  Nanos now = kStart;
  for (auto _ : state) {
    std::string k = key_of(rng() % n, buf);
    r.key = k;
    benchmark::DoNotOptimize(engine->check(r, now += 1000));
  }
  state.counters["keys"] = static_cast<double>(engine->table().size());
  state.counters["rss_MiB"] = static_cast<double>(after - before) / (1 << 20);
  state.counters["bytes_per_key"] = static_cast<double>(after - before) / static_cast<double>(n);
}
BENCHMARK(BM_TableMemory)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000)->Iterations(2'000'000)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace tollgate
