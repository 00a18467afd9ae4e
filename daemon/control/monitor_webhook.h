// The optional webhook of `monitor_events.webhook`: each event's JSON is
// POSTed (Content-Type: application/json) to the URL, one at a time and in
// order; a failed attempt (no connection, timeout, non-2xx) is retried after
// 1 s, 2 s, 4 s, … up to `webhook_retries` times, then dropped and counted.
// Uses libcurl's multi interface driven from a control-loop timer: only
// non-blocking curl_multi_perform calls, so the loop (and every decision,
// which never touches it) never waits on the receiver. At most kMaxQueued
// events wait; beyond that the oldest is dropped (counted).
// Thread-safety: not thread-safe; the control loop only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>

#include "engine/runtime_state.h"
#include "monitor/monitor_spec.h"

namespace tollgate {

class MonitorWebhook {
 public:
  static constexpr size_t kMaxQueued = 10'000;

  explicit MonitorWebhook(MonitorCounters& counters);
  MonitorWebhook(const MonitorWebhook&) = delete;
  MonitorWebhook& operator=(const MonitorWebhook&) = delete;
  ~MonitorWebhook();

  void configure(const MonitorEventsConfig& config);
  // Drives transfers from `loop` (every 50 ms while events wait).
  void start(uv_loop_t* loop);
  void close();
  // Queues one event body; no-op without a URL.
  void post(std::string json);
  size_t queued() const { return queue_.size(); }

 private:
  static void on_timer(uv_timer_t* timer);
  void pump();
  void begin();   // starts the head's attempt
  void finish(bool ok);

  MonitorCounters& counters_;
  std::string url_;
  long timeout_ms_ = 5000;
  int retries_ = 5;
  void* multi_ = nullptr;  // CURLM*
  void* easy_ = nullptr;   // CURL* of the attempt in flight
  void* headers_ = nullptr;  // curl_slist*: Content-Type
  std::deque<std::string> queue_;
  int attempt_ = 0;
  uint64_t next_at_ms_ = 0;  // loop time of the head's next attempt
  uv_loop_t* loop_ = nullptr;
  uv_timer_t timer_{};
  bool started_ = false;
};

}  // namespace tollgate
