// Distinct-subject counting on the data plane: ns per DistinctSubjects
// try_admit (seen subject / new subject, limit 100,000) and per HyperLogLog
// add, with 1 and 2 threads sharing one object.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include <xxhash.h>

#include "engine/subjects/distinct_set.h"
#include "engine/subjects/hyperloglog.h"

namespace tollgate {
namespace {

constexpr int64_t kLimit = 100'000;
constexpr Nanos kDay = 24 * 3600 * kNanosPerSecond;
constexpr Nanos kStart = 1'710'000'000 * kNanosPerSecond;  // Shanghai midnight

uint64_t subject(uint64_t i) { return XXH3_64bits_withSeed(&i, sizeof i, 7); }

// A set holding kLimit subjects in the period of kStart.
DistinctSubjects& full_set() {
  static DistinctSubjects* set = [] {
    auto* s = new DistinctSubjects(*DistinctSubjects::make(kLimit, Period::kDay, "Asia/Shanghai"));
    for (uint64_t i = 0; i < kLimit; ++i) (void)s->try_admit(subject(i), kStart);
    return s;
  }();
  return *set;
}

// Every call finds its subject already counted: lookup only, no write.
void BM_TryAdmitSeen(benchmark::State& state) {
  DistinctSubjects& set = full_set();
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    SubjectCharge c = set.try_admit(subject(i++ % kLimit), kStart + 1);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_TryAdmitSeen)->Threads(1)->Threads(2)->UseRealTime();

// Every call brings a new subject: reserve + insert. The clock moves to the
// next day every 25,000 calls per thread (2 threads: ≤ 75,000 per period even
// when one thread lags a day), so the cost includes roll-overs and
// pre-clearing the spare. Each run starts on days no earlier run used.
void BM_TryAdmitNew(benchmark::State& state) {
  static DistinctSubjects* set =
      new DistinctSubjects(*DistinctSubjects::make(kLimit, Period::kDay, "Asia/Shanghai"));
  static std::atomic<int64_t> next_day{0};
  const auto t = static_cast<uint64_t>(state.thread_index());
  const int64_t base = next_day.load();  // runs are separated by the start/stop barriers
  uint64_t i = 0;
  int64_t over_cap = 0, busy = 0;
  for (auto _ : state) {
    Nanos now = kStart + (base + static_cast<int64_t>(i / 25'000)) * kDay;
    SubjectCharge c = set->try_admit(subject(i << 1 | t), now);
    over_cap += c.verdict == SubjectVerdict::kOverCap;
    busy += c.verdict == SubjectVerdict::kBusy;
    ++i;
  }
  const int64_t used = base + static_cast<int64_t>(i / 25'000) + 2;
  int64_t seen = next_day.load();
  while (seen < used && !next_day.compare_exchange_weak(seen, used)) {
  }
  // Denials come from one thread lagging days behind the other (its calls
  // count in the newer day) or from a roll-over in the other thread's hands.
  state.counters["over_cap"] = static_cast<double>(over_cap);
  state.counters["busy"] = static_cast<double>(busy);
}
BENCHMARK(BM_TryAdmitNew)->Threads(1)->Threads(2)->UseRealTime();

void BM_HllAdd(benchmark::State& state) {
  static HyperLogLog* hll = new HyperLogLog(*HyperLogLog::make());
  uint64_t i = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) hll->add(subject(i++));
}
BENCHMARK(BM_HllAdd)->Threads(1)->Threads(2)->UseRealTime();

void BM_PeriodHllAdd(benchmark::State& state) {
  static PeriodHll* hll = new PeriodHll(*PeriodHll::make(Period::kDay, "Asia/Shanghai"));
  uint64_t i = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) benchmark::DoNotOptimize(hll->add(subject(i++), kStart + 1));
}
BENCHMARK(BM_PeriodHllAdd)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace tollgate
