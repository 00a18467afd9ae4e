// LogLimiter: one line per cause per interval, with the count of the ones
// suppressed; time is a ManualClock.
#include "log/log_limiter.h"

#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tollgate {
namespace {

constexpr Nanos kInterval = 10 * kNanosPerSecond;

TEST(LogLimiter, OneLinePerCausePerIntervalWithTheSuppressedCount) {
  // Verifies the first event logs, the rest of the interval is counted, and
  // the first event after the interval logs with that count.
  ManualClock clock;
  LogLimiter limiter(kInterval, &clock);
  EXPECT_TRUE(limiter.admit("emfile").log);
  for (int i = 0; i < 1000; ++i) {
    clock.advance(kNanosPerMilli);
    EXPECT_FALSE(limiter.admit("emfile").log);
  }
  clock.advance(kInterval - 1000 * kNanosPerMilli - 1);
  EXPECT_FALSE(limiter.admit("emfile").log);  // 1 ns before the interval ends
  clock.advance(1);
  LogLimiter::Verdict v = limiter.admit("emfile");
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 1001u);
  EXPECT_EQ(limiter.suppressed_total(), 1001u);
  clock.advance(kInterval);
  v = limiter.admit("emfile");
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 0u);
}

TEST(LogLimiter, CausesAreIndependent) {
  // Verifies a flood of one cause does not mute another.
  ManualClock clock;
  LogLimiter limiter(kInterval, &clock);
  EXPECT_TRUE(limiter.admit("refused peer").log);
  EXPECT_FALSE(limiter.admit("refused peer").log);
  EXPECT_TRUE(limiter.admit("emfile").log);
  EXPECT_FALSE(limiter.admit("emfile").log);
  EXPECT_FALSE(limiter.admit("refused peer").log);
}

TEST(LogLimiter, AClockSteppedBackDoesNotMute) {
  // Verifies a clock that goes back (a wall-clock step) makes the cause due
  // at once instead of muting it for the step's length.
  ManualClock clock;
  LogLimiter limiter(kInterval, &clock);
  EXPECT_TRUE(limiter.admit("x").log);
  EXPECT_FALSE(limiter.admit("x").log);
  clock.advance(-30 * 86400 * kNanosPerSecond);
  LogLimiter::Verdict v = limiter.admit("x");
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 1u);
  EXPECT_FALSE(limiter.admit("x").log);  // and limited again from the new time
}

TEST(LogLimiter, ManyCausesRecycleTheOldestSlot) {
  // Verifies more causes than slots still log each new cause (the least
  // recently logged slot is reused) and memory stays fixed.
  ManualClock clock;
  LogLimiter limiter(kInterval, &clock);
  for (size_t i = 0; i < 3 * LogLimiter::kSlots; ++i) {
    clock.advance(kNanosPerMilli);
    EXPECT_TRUE(limiter.admit("cause " + std::to_string(i)).log) << i;
  }
  // The most recent kSlots causes are still limited.
  EXPECT_FALSE(limiter.admit("cause " + std::to_string(3 * LogLimiter::kSlots - 1)).log);
}

TEST(LogLimiter, CountsEveryEventAcrossThreads) {
  // Verifies under contention every event is either logged or counted as
  // suppressed, exactly once.
  ManualClock clock;  // never advanced while the threads run
  LogLimiter limiter(kInterval, &clock);
  std::atomic<uint64_t> logged{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 4, kEach = 20000;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        if (limiter.admit(t % 2 == 0 ? "a" : "b").log) logged.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(logged.load(), 2u);  // one per cause
  EXPECT_EQ(limiter.suppressed_total(), uint64_t{kThreads} * kEach - 2);
}

TEST(LogLimiter, WritesTheSuppressedCountIntoTheLine) {
  // Verifies the log helper writes one line for a flood and names the
  // suppressed count in the next one.
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  ManualClock clock;
  LogLimiter limiter(kInterval, &clock);
  for (int i = 0; i < 500; ++i) limiter.warn("refused peer", "refused peer uid {}", i);
  clock.advance(kInterval);
  limiter.warn("refused peer", "refused peer uid {}", 7);
  spdlog::set_default_logger(previous);
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(text.find("refused peer uid 0"), std::string::npos) << text;
  EXPECT_NE(text.find("refused peer uid 7 [499 more like this suppressed in the last 10 s]"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace tollgate
