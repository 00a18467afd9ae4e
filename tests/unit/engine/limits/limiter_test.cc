#include "engine/limits/limiter.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "unit/engine/limits/test_words.h"

namespace tollgate {
namespace {

using testing::Words;

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;

LimitSpec bucket_spec(int64_t burst) {
  LimitSpec s;
  s.name = "burst";
  s.type = LimitType::kTokenBucket;
  s.rate = 1;
  s.per = kNanosPerSecond;
  s.burst = burst;
  return s;
}
LimitSpec window_spec(int64_t limit) {
  LimitSpec s;
  s.name = "minute";
  s.type = LimitType::kSlidingWindow;
  s.limit = limit;
  s.window = 60 * kNanosPerSecond;
  return s;
}
LimitSpec quota_spec(int64_t limit) {
  LimitSpec s;
  s.name = "daily";
  s.type = LimitType::kQuota;
  s.limit = limit;
  s.period = Period::kDay;
  return s;
}

TEST(Limiter, MakeDispatchesOnType) {
  // Verifies make() builds each counter type, propagates errors, and refuses
  // the non-counter types.
  auto tb = Limiter::make(bucket_spec(5), "UTC");
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(tb->type(), LimitType::kTokenBucket);
  EXPECT_EQ(tb->words(), 1);
  EXPECT_EQ(tb->capacity(), 5);
  EXPECT_NE(tb->get<TokenBucket>(), nullptr);
  auto sw = Limiter::make(window_spec(100), "UTC");
  ASSERT_TRUE(sw.has_value());
  EXPECT_EQ(sw->words(), 10);
  auto q = Limiter::make(quota_spec(7), "");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->get<Quota>()->calendar().zone_name(), "UTC");
  EXPECT_EQ(Limiter::make(quota_spec(7), "Asia/Shanghai")->get<Quota>()->calendar().zone_name(),
            "Asia/Shanghai");
  EXPECT_FALSE(Limiter::make(quota_spec(7), "Bad/Zone").has_value());
  EXPECT_FALSE(Limiter::make(bucket_spec(0), "UTC").has_value());
  for (LimitType t : {LimitType::kConcurrency, LimitType::kDistinctSubjects}) {
    LimitSpec spec = quota_spec(5);
    spec.type = t;
    auto made = Limiter::make(spec, "UTC");
    ASSERT_FALSE(made.has_value());
    EXPECT_EQ(made.error(), "not a counter limit");
  }
}

TEST(Limiter, SameBehaviourThroughDispatch) {
  // Verifies every method reaches the concrete limiter.
  Limiter l = *Limiter::make(window_spec(3), "UTC");
  Words w(l.words());
  l.init(w.get(), kT0);
  LimitResult r = l.try_charge(w.get(), 3, kT0);
  ASSERT_TRUE(r.allowed);
  EXPECT_FALSE(l.peek(w.get(), 1, kT0).allowed);
  l.refund(w.get(), 1, r.recorded_at, kT0);
  EXPECT_TRUE(l.peek(w.get(), 1, kT0).allowed);
  EXPECT_FALSE(l.try_seal(w.get(), kT0));
  l.reset(w.get(), kT0);
  EXPECT_TRUE(l.try_seal(w.get(), kT0));
  EXPECT_TRUE(l.try_charge(w.get(), 1, kT0).sealed);
}

// N threads hammer one state with a frozen clock; returns units admitted.
int64_t hammer(const Limiter& l, Words& w, int threads, int attempts_each, int64_t cost) {
  std::atomic<int64_t> admitted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (!go.load()) {
      }
      int64_t mine = 0;
      for (int i = 0; i < attempts_each; ++i) {
        if (l.try_charge(w.get(), cost, kT0).allowed) mine += cost;
      }
      admitted += mine;
    });
  }
  go = true;
  for (auto& th : pool) th.join();
  return admitted.load();
}

class LimiterRace : public ::testing::TestWithParam<LimitSpec> {};

TEST_P(LimiterRace, FourThreadsAdmitExactlyTheCapacity) {
  // Verifies 4 racing threads with a frozen clock admit exactly the capacity
  // in total: no over-admission, and no lasting under-admission.
  Limiter l = *Limiter::make(GetParam(), "UTC");
  Words w(l.words());
  l.init(w.get(), kT0);
  EXPECT_EQ(hammer(l, w, 4, 5000, 1), 1000);
  EXPECT_FALSE(l.peek(w.get(), 1, kT0).allowed);
}

TEST_P(LimiterRace, SealNeverLosesARacingCharge) {
  // Verifies a seal racing with charges either fails or happens when no
  // admitted charge is outstanding; every charge after it reports sealed.
  int sealed_rounds = 0, contended_rounds = 0;
  for (int round = 0; round < 12; ++round) {
    Limiter l = *Limiter::make(GetParam(), "UTC");
    Words w(l.words());
    l.init(w.get(), kT0);
    std::atomic<int64_t> outstanding{0}, admitted{0};
    std::atomic<bool> go{false}, sealed{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < 3; ++t) {
      pool.emplace_back([&] {
        while (!go.load()) {
        }
        for (int i = 0; i < 2000; ++i) {
          LimitResult r = l.try_charge(w.get(), 1, kT0);
          if (r.sealed) return;
          if (!r.allowed) continue;
          ++admitted;
          if (i >= 1990) {
            ++outstanding;  // keep the last few charges
          } else {
            l.refund(w.get(), 1, r.recorded_at, kT0);
          }
        }
      });
    }
    pool.emplace_back([&] {
      while (!go.load()) {
      }
      for (int i = 0; i < 20000 && !sealed; ++i) {
        if (l.try_seal(w.get(), kT0)) sealed = true;
      }
    });
    go = true;
    for (auto& th : pool) th.join();
    if (sealed) {
      ++sealed_rounds;
      if (admitted > 0) ++contended_rounds;
      EXPECT_EQ(outstanding.load(), 0) << "round " << round;
      EXPECT_TRUE(l.try_charge(w.get(), 1, kT0).sealed);
    }
  }
  RecordProperty("sealed_rounds", sealed_rounds);
  RecordProperty("contended_rounds", contended_rounds);
}

INSTANTIATE_TEST_SUITE_P(AllCounterTypes, LimiterRace,
                         ::testing::Values(bucket_spec(1000), window_spec(1000), quota_spec(1000)),
                         [](const ::testing::TestParamInfo<LimitSpec>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace tollgate
