#include "log/log_limiter.h"

#include <algorithm>
#include <cstring>

namespace tollgate {
namespace {

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

LogLimiter::LogLimiter(Nanos interval, const Clock* clock)
    : interval_(std::max<Nanos>(1, interval)), clock_(clock != nullptr ? *clock : system_clock()) {}

// The slot of `cause`, or a fresh one: an unused slot, else the one logged
// longest ago (its pending count is dropped with it; causes are few).
LogLimiter::Slot& LogLimiter::slot_for(std::string_view cause, Nanos now) {
  cause = cause.substr(0, std::tuple_size_v<decltype(Slot::cause)>);
  Slot* oldest = &slots_[0];
  for (Slot& s : slots_) {
    if (s.used && std::string_view(s.cause.data(), s.cause_len) == cause) return s;
    if (!s.used) {
      oldest = &s;
      break;
    }
    if (s.last_logged < oldest->last_logged) oldest = &s;
  }
  Slot& s = *oldest;
  std::memcpy(s.cause.data(), cause.data(), cause.size());
  s.cause_len = cause.size();
  s.used = true;
  s.suppressed = 0;
  s.last_logged = now - interval_;  // due at once
  return s;
}

LogLimiter::Verdict LogLimiter::admit(std::string_view cause) {
  const Nanos now = clock_.now();
  std::lock_guard lock(mutex_);
  Slot& s = slot_for(cause, now);
  // A clock that went back counts as due: never mute a cause for a step's length.
  if (now - s.last_logged >= interval_ || now < s.last_logged) {
    Verdict v{true, s.suppressed};
    s.suppressed = 0;
    s.last_logged = now;
    return v;
  }
  ++s.suppressed;
  ++suppressed_total_;
  return {};
}

uint64_t LogLimiter::suppressed_total() const {
  std::lock_guard lock(mutex_);
  return suppressed_total_;
}

}  // namespace tollgate
