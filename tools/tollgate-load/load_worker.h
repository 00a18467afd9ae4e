// One load-generating thread: its own libuv loop driving a share of the
// connections, closed loop (each connection keeps `pipeline` requests in
// flight) or open loop (requests scheduled at a fixed rate, latency measured
// from the intended send time so a stalled server cannot hide its stalls).
//
// Thread-safety: run() on one thread; request_stop() from any thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "load_options.h"
#include "load_stats.h"
#include "request_encoder.h"

namespace tollgate::load {

struct WorkerPlan {
  int connections = 1;
  uint64_t requests = 0;  // this worker's share; 0: until the deadline
  double rate = 0;        // this worker's share of --rate; 0: closed loop
  uint64_t seed = 1;
  uint64_t start_ns = 0;  // uv_hrtime() at which the run starts (shared by workers)
};

class LoadWorker {
 public:
  // How long in-flight requests may take to answer once sending has stopped.
  static constexpr uint64_t kDrainTimeoutNs = 5'000'000'000;
  // Open loop: shortest gap between two scheduling wake-ups. Requests due in
  // between are sent together; the wait (at most this) counts as latency.
  static constexpr uint64_t kScheduleGranularityNs = 20'000;

  LoadWorker(const LoadOptions& options, const WorkerPlan& plan, WorkerStats& stats);
  ~LoadWorker();
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  // Runs the whole load until every connection is closed. Returns false if
  // the loop could not be set up or did not close cleanly (a leaked handle).
  bool run();

  // Stops sending new requests; in-flight ones are still awaited. Thread-safe.
  void request_stop();

 private:
  struct Connection;

  // Connection life cycle.
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_connection_closed(uv_handle_t* handle);
  void fail_connection(Connection& c, std::string_view what);
  void close_connection(Connection& c);
  void close_if_drained(Connection& c);

  // Sending.
  void refill(Connection& c);           // closed loop: top up to `pipeline`
  void send_backlog(Connection& c);     // open loop: send due requests while slots are free
  void enqueue_request(Connection& c, uint64_t timestamp_ns);
  void flush(Connection& c);
  bool take_budget();
  void handle_reply(Connection& c, uint64_t now_ns);

  // Open-loop schedule (timerfd: nanosecond wake-ups, not libuv's 1 ms timers).
  static void on_schedule_due(uv_poll_t* handle, int status, int events);
  void schedule_due(uint64_t now_ns);
  uint64_t intended_time(uint64_t index) const;
  void arm_schedule_timer(uint64_t at_ns);

  // Stopping.
  static void on_deadline(uv_timer_t* timer);
  static void on_drain_timeout(uv_timer_t* timer);
  static void on_stop_requested(uv_async_t* async);
  void stop_sending();
  void close_worker_handles();

  const LoadOptions& options_;
  WorkerPlan plan_;
  WorkerStats& stats_;
  RequestEncoder encoder_;

  uv_loop_t loop_;
  uv_async_t stop_async_;
  uv_timer_t deadline_timer_;
  uv_timer_t drain_timer_;
  uv_poll_t schedule_poll_;
  int schedule_fd_ = -1;
  bool schedule_poll_open_ = false;

  std::vector<std::unique_ptr<Connection>> connections_;
  int open_connections_ = 0;
  size_t next_connection_ = 0;   // open loop: round robin
  uint64_t budget_left_ = 0;     // requests still to send when plan_.requests > 0
  uint64_t scheduled_ = 0;       // open loop: requests scheduled so far
  double interval_ns_ = 0;       // open loop: between consecutive intended sends
  uint64_t deadline_ns_ = 0;     // 0: none
  bool stopping_ = false;
  bool handles_closed_ = false;
  std::mutex stop_mutex_;        // request_stop() vs closing stop_async_; never on the send path
  bool loop_finished_ = false;   // guarded by stop_mutex_
};

}  // namespace tollgate::load
