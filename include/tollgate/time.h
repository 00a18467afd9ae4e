// Time units and the clock interface. The engine takes `now` as a parameter;
// only SystemClock reads the real clock. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

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
class SystemClock final : public Clock {
 public:
  Nanos now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
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
