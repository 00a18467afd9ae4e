// ns per try_charge for each counter limiter type, on 1 and 2 threads, each
// thread on its own state words (no sharing: measures the algorithm, not
// cache-line ping-pong). The clock advances 1 µs per call so most calls are
// admitted and some periods/slices roll over.
#include <atomic>
#include <cstdint>

#include <benchmark/benchmark.h>

#include "engine/limits/limiter.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

struct alignas(64) ThreadWords {
  std::atomic<uint64_t> w[16];
};
ThreadWords g_words[8];

LimitSpec spec_for(LimitType type) {
  LimitSpec s;
  s.type = type;
  s.rate = 2'000'000;  // above the call rate: mostly admitted
  s.per = kNanosPerSecond;
  s.burst = 1000;
  s.limit = 1'000'000'000;
  s.window = kNanosPerSecond;
  s.sub_buckets = 10;
  s.period = Period::kDay;
  return s;
}

void run(benchmark::State& state, LimitType type) {
  static const Limiter token = *Limiter::make(spec_for(LimitType::kTokenBucket), "UTC");
  static const Limiter window = *Limiter::make(spec_for(LimitType::kSlidingWindow), "UTC");
  static const Limiter quota = *Limiter::make(spec_for(LimitType::kQuota), "Asia/Shanghai");
  const Limiter& l = type == LimitType::kTokenBucket     ? token
                     : type == LimitType::kSlidingWindow ? window
                                                         : quota;
  std::atomic<uint64_t>* w = g_words[state.thread_index()].w;
  Nanos now = kStart;
  l.init(w, now);
  int64_t admitted = 0;
  for (auto _ : state) {
    now += kNanosPerMicro;
    LimitResult r = l.try_charge(w, 1, now);
    admitted += r.allowed;
    benchmark::DoNotOptimize(r);
  }
  state.counters["admitted"] =
      benchmark::Counter(static_cast<double>(admitted), benchmark::Counter::kAvgIterations);
}

void BM_TokenBucketTryCharge(benchmark::State& state) { run(state, LimitType::kTokenBucket); }
void BM_SlidingWindowTryCharge(benchmark::State& state) { run(state, LimitType::kSlidingWindow); }
void BM_QuotaTryCharge(benchmark::State& state) { run(state, LimitType::kQuota); }

BENCHMARK(BM_TokenBucketTryCharge)->Threads(1)->Threads(2);
BENCHMARK(BM_SlidingWindowTryCharge)->Threads(1)->Threads(2);
BENCHMARK(BM_QuotaTryCharge)->Threads(1)->Threads(2);

}  // namespace
}  // namespace tollgate
