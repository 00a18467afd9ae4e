// One client connection on a worker loop: reads, parses pipelined commands,
// hands each to the Service, and writes all replies of a read batch at once.
// A reply the Service marks with Session::release_at (pacing) is held, with
// every reply after it, until that instant; a per-connection timer sends it.
// A reply marked with Session::commit_ticket (durability: strict) is held
// until that ticket is durable; the worker's commit wake-up sends it.
// Thread-safety: owned by one worker thread; freed once the close callbacks
// of both its handles (socket, timer) have run.
#pragma once

#include <uv.h>

#include <string>

#include "net/output_barriers.h"
#include "net/service.h"
#include "resp/parser.h"

namespace tollgate {

class Worker;

struct ConnectionLimits {
  resp::ParserLimits parser;
  size_t max_output = 64u << 20;   // pending reply bytes before the client is dropped
  size_t pause_output = 1u << 20;  // stop reading while this much is unwritten
};

class Connection {
 public:
  Connection(Worker& worker, Service& service, const ConnectionLimits& limits, Session session);
  // Takes ownership of the connected socket `fd` and starts reading. Returns
  // false only if the handle could not be set up at all; then the caller
  // still owns both `fd` and this object.
  bool open(int fd);
  // Stops reading; closes once everything already queued has been written.
  // Held replies due within kShutdownGrace are still sent; if one is due
  // later, the connection closes when it reaches it.
  void shutdown();
  static constexpr Nanos kShutdownGrace = kNanosPerSecond;
  // Closes now (the close callback deletes this object).
  void close();

  const Session& session() const { return session_; }
  Connection* next = nullptr;  // worker's intrusive list
  Connection* prev = nullptr;
  bool waiting_commit = false;  // on the worker's commit-wait list (worker thread)
  // A commit ticket became durable: send what it released (worker thread).
  void on_commit();

 private:
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);
  static void on_release_timer(uv_timer_t* t);

  void process();
  void flush();
  void compact();
  // Arms the release timer for the first held reply, or stops it.
  void arm_release_timer(Nanos now, uint64_t durable);

  uv_pipe_t handle_;
  uv_timer_t release_timer_;
  uv_write_t write_req_;
  Worker& worker_;
  Service& service_;
  const ConnectionLimits& limits_;
  Session session_;
  resp::Parser parser_;
  std::string in_;         // bytes read; [0, in_len_) valid
  size_t in_len_ = 0;
  std::string out_;        // replies not yet handed to the kernel
  std::string writing_;    // replies in the in-flight uv_write
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool close_when_flushed_ = false;
  OutputBarriers barriers_;                          // held replies in out_
  Nanos timer_armed_for_ = OutputBarriers::kNone;    // release_timer_'s target
  Nanos close_deadline_ = OutputBarriers::kNone;     // shutdown: drop replies held past this
  int open_handles_ = 0;                             // handles whose close callback is pending
};

}  // namespace tollgate
