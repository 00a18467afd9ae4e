// A data-plane worker: one thread, one libuv loop, many connections.
// New connections arrive as fds from the acceptor; stop() drains and ends it.
// Thread-safety: adopt()/drop_for_input_budget()/kill_client()/stop()/wake_commits()/wake_pushes() may be
// called from any thread; everything else runs on the worker's own thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "net/connection.h"
#include "net/protocol.h"

namespace tollgate {

struct WorkerStats {
  std::atomic<uint64_t> connections{0};        // open now
  std::atomic<uint64_t> connections_total{0};  // accepted since start
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> output_overflows{0};
  std::atomic<uint64_t> input_drops{0};        // dropped to keep input buffers under the budget
  std::atomic<uint64_t> idle_timeouts{0};      // closed after server.timeout without a request
  std::atomic<uint64_t> frame_timeouts{0};     // closed with a request incomplete past server.frame_timeout
};

class Worker {
 public:
  Worker(int index, const ConnectionLimits& limits);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread. Returns false if the loop could not be set up. With
  // `timer_service`, the worker arms its timer for that service's next
  // deadline before serving anything (holds restored at start-up expire on
  // time even on a worker no client has reached yet).
  bool start(Service* timer_service = nullptr);
  // Hands a connected fd to this worker, to be served by `service` (or,
  // with `protocol`, by that protocol's connection); `slot` counts it until
  // the connection is freed (or the fd closed unserved). Thread-safe.
  void adopt(int fd, Service& service, Session session, ConnectionSlot slot = {}, Protocol* protocol = nullptr);
  // The input budget picked connection `id` of this worker: close it on the
  // worker thread (a no-op if it is gone by then). Thread-safe.
  void drop_for_input_budget(uint64_t id);
  // CLIENT KILL picked connection `id` of this worker: close it on the
  // worker thread (a no-op if it is gone by then). Thread-safe.
  void kill_client(uint64_t id);
  // Stops reading everywhere, writes pending replies, closes all, ends the thread. Thread-safe.
  void stop();
  void join();

  int index() const { return index_; }
  WorkerStats& stats() { return stats_; }
  const WorkerStats& stats() const { return stats_; }
  uv_loop_t* loop() { return &loop_; }

  // Called by connections on the worker thread.
  void attach(Connection* c);
  void detach(Connection* c);
  // The same for connections of another protocol (net/protocol.h).
  void attach(ProtocolConnection* c);
  void detach(ProtocolConnection* c);
  // Arms the worker's timer for the service's next deadline (worker thread).
  void rearm(Service& service);
  // `c` holds a reply until a commit ticket is durable (worker thread).
  void wait_for_commit(Connection* c);
  void wait_for_commit(ProtocolConnection* c);
  // Commit tickets became durable: the waiting connections send what they
  // may. Thread-safe; a no-op once the worker has wound down.
  void wake_commits();
  // Something to push happened (an event, for EVENTS FOLLOW): every
  // connection whose Session::pushes is set asks its service for pushes.
  // Thread-safe; rides the commit wake-up handle (a no-op once the worker
  // has wound down). Wake-ups coalesce: the service's push() must write
  // everything due since the last one, not one item per wake-up.
  void wake_pushes();

 private:
  struct Pending {
    int fd;
    Service* service;
    Session session;
    ConnectionSlot slot;
    Protocol* protocol;
  };
  static void on_async(uv_async_t* a);
  static void on_timer(uv_timer_t* t);
  static void on_commit_async(uv_async_t* a);
  static void on_client_timer(uv_timer_t* t);
  // How often the client timer looks for idle and incomplete clients: a
  // quarter of the shorter timeout, within [10 ms, 1 s]; 0 when both are off.
  uint64_t client_check_ms() const;
  void drain_pending();
  // Once stopped with no connection left, closes the commit wake-up handle
  // (the last one keeping the loop alive).
  void close_commit_async_if_done();

  int index_;
  const ConnectionLimits& limits_;
  uv_loop_t loop_;
  uv_async_t async_;
  uv_async_t commit_async_;
  uv_timer_t timer_;
  uv_timer_t client_timer_;  // server.timeout / frame_timeout checks
  Service* timer_service_ = nullptr;  // worker thread only
  Nanos armed_for_ = INT64_MAX;       // worker thread only
  std::thread thread_;
  std::mutex mutex_;              // guards pending_, drops_, kills_, stopping_ and started_
  std::vector<Pending> pending_;
  std::vector<uint64_t> drops_;   // connection ids the input budget picked
  std::vector<uint64_t> kills_;   // connection ids CLIENT KILL picked
  bool stopping_ = false;
  bool started_ = false;          // the loop thread runs
  bool stopped_ = false;          // worker thread only
  Connection* head_ = nullptr;    // worker thread only
  std::vector<Connection*> commit_waiters_;  // worker thread only
  ProtocolConnection* protocol_head_ = nullptr;                 // worker thread only
  std::vector<ProtocolConnection*> protocol_commit_waiters_;    // worker thread only
  std::mutex commit_mutex_;       // guards commit_async_open_ (wake_commits vs. close)
  bool commit_async_open_ = false;
  std::atomic<bool> push_pending_{false};  // set by wake_pushes, taken by on_commit_async
  WorkerStats stats_;
};

}  // namespace tollgate
