// Rate-limited logging for warnings an outside party can trigger at will
// (accept errors, refused peers, protocol errors, a failing disk or Redis
// retried every tick): at most one line per cause per interval, and the line
// that is written says how many like it were suppressed since the last one.
//
// A cause is a short fixed category chosen by the call site ("refused peer",
// an errno name), never data a client sends, so the set stays small; a
// limiter keeps kSlots causes and recycles the least recently logged one.
// Time comes from an injected Clock (tests use ManualClock). A clock that
// steps back is treated as "the interval has passed", so a step never mutes
// a cause for the length of the step.
//
// Thread-safety: every method is thread-safe (one small mutex, taken only on
// the warning path, never by steady-state request handling).
// Ownership: a call site owns its limiter (typically a static or a member);
// the clock must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string_view>

#include <spdlog/spdlog.h>

#include "tollgate/time.h"

namespace tollgate {

class LogLimiter {
 public:
  static constexpr Nanos kDefaultInterval = 10 * kNanosPerSecond;
  static constexpr size_t kSlots = 8;

  // `clock` null: the process's SystemClock.
  explicit LogLimiter(Nanos interval = kDefaultInterval, const Clock* clock = nullptr);

  struct Verdict {
    bool log = false;         // write this line
    uint64_t suppressed = 0;  // lines of this cause dropped since the last one written (when log)
  };
  // One event of `cause`: whether to log it now. Thread-safe.
  [[nodiscard]] Verdict admit(std::string_view cause);

  // Logs `fmt` at `level` if `cause` is due, with a suffix counting the
  // suppressed lines; otherwise counts it. Thread-safe.
  template <typename... Args>
  void log(spdlog::level::level_enum level, std::string_view cause, spdlog::format_string_t<Args...> fmt,
           Args&&... args) {
    if (!spdlog::should_log(level)) return;
    Verdict v = admit(cause);
    if (!v.log) return;
    if (v.suppressed == 0) {
      spdlog::log(level, fmt, std::forward<Args>(args)...);
    } else {
      spdlog::log(level, "{} [{} more like this suppressed in the last {} s]",
                  fmt::format(fmt, std::forward<Args>(args)...), v.suppressed, interval_ / kNanosPerSecond);
    }
  }
  template <typename... Args>
  void warn(std::string_view cause, spdlog::format_string_t<Args...> fmt, Args&&... args) {
    log(spdlog::level::warn, cause, fmt, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(std::string_view cause, spdlog::format_string_t<Args...> fmt, Args&&... args) {
    log(spdlog::level::err, cause, fmt, std::forward<Args>(args)...);
  }

  // Lines suppressed so far, all causes together (for tests and INFO). Thread-safe.
  uint64_t suppressed_total() const;
  Nanos interval() const { return interval_; }

 private:
  struct Slot {
    std::array<char, 48> cause{};  // truncated copy: causes are short categories
    size_t cause_len = 0;
    bool used = false;
    Nanos last_logged = 0;
    uint64_t suppressed = 0;
  };
  Slot& slot_for(std::string_view cause, Nanos now);

  const Nanos interval_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::array<Slot, kSlots> slots_{};
  uint64_t suppressed_total_ = 0;
};

}  // namespace tollgate
