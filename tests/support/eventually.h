// Waiting on a condition with a deadline, for tests that watch another
// thread or process change state (never for time to pass: inject the clock
// for that). Polls every 2 ms; true as soon as `condition` holds, false when
// it still does not after `timeout_ms`. The generous default only costs time
// when a test is failing anyway.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace tollgate::testing {

inline bool eventually(const std::function<bool()>& condition, int timeout_ms = 20000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace tollgate::testing
