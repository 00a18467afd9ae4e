// Time units and the clock interface. The engine takes `now` as a parameter;
// only SystemClock reads the real clock. Thread-safe.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace tollgate {

// Nanoseconds since the Unix epoch (or a duration in nanoseconds).
using Nanos = int64_t;

inline constexpr Nanos kNanosPerMicro = 1'000;
inline constexpr Nanos kNanosPerMilli = 1'000'000;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000;

// Whole milliseconds, rounded up, so a client that waits this long is not early.
constexpr int64_t ceil_millis(Nanos d) {
  return d <= 0 ? 0 : (d + kNanosPerMilli - 1) / kNanosPerMilli;
}

// The source of `now`. Tests use ManualClock; the daemon uses SystemClock.
class Clock {
 public:
  virtual ~Clock() = default;
  // Current wall-clock time. Thread-safe.
  virtual Nanos now() const = 0;
};

// Reads CLOCK_REALTIME. The only place in tollgate that reads the real clock.
//
// Saturating: int64 nanoseconds since the epoch end in April 2262, and
// std::chrono::system_clock::now() silently wraps to a negative time there
// (seconds × 10^9 overflows), which made every "is this instant in the
// future" test wrong (a reply not held compares as held forever: not even
// PING was answered). now() therefore reads the timespec itself and clamps it
// to [0, kMax]; kMax keeps 7 years of headroom so that now + any configured
// duration is still representable. Past kMax the clock stands still (every
// limit then sees no time pass: nothing refills, nothing new is admitted
// that was not before) and `on_saturated`, if set, is called once.
// Thread-safe.
class SystemClock final : public Clock {
 public:
  // 2255-03-14T16:00:00Z.
  static constexpr Nanos kMax = 9'000'000'000 * kNanosPerSecond;

  // A CLOCK_REALTIME reading as Nanos, clamped to [0, kMax].
  static constexpr Nanos from_timespec(int64_t seconds, int64_t nanoseconds) {
    if (seconds < 0) return 0;
    if (seconds >= kMax / kNanosPerSecond) return kMax;
    return seconds * kNanosPerSecond + nanoseconds;
  }
  // Whether a reading had to be clamped.
  static constexpr bool out_of_range(int64_t seconds) {
    return seconds < 0 || seconds >= kMax / kNanosPerSecond;
  }

  Nanos now() const override {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const auto seconds = static_cast<int64_t>(ts.tv_sec);
    if (out_of_range(seconds) && on_saturated_ && !reported_.exchange(true, std::memory_order_relaxed))
      on_saturated_(seconds);
    return from_timespec(seconds, ts.tv_nsec);
  }

  // Called once, with the raw seconds, the first time the clock is out of
  // range (e.g. to log it). Set before other threads read the clock.
  void set_on_saturated(std::function<void(int64_t seconds)> report) { on_saturated_ = std::move(report); }

 private:
  std::function<void(int64_t)> on_saturated_;
  mutable std::atomic<bool> reported_{false};
};

// A clock that moves only when told to. Not thread-safe for set/advance.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Nanos start = 1'700'000'000 * kNanosPerSecond) : now_(start) {}
  Nanos now() const override { return now_; }
  void set(Nanos t) { now_ = t; }
  void advance(Nanos d) { now_ += d; }

 private:
  Nanos now_;
};

}  // namespace tollgate
