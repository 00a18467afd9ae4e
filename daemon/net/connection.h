// One client connection on a worker loop: reads, parses pipelined commands,
// hands each to the Service, and writes all replies of a read batch at once.
// A reply the Service marks with Session::release_at (pacing) is held, with
// every reply after it, until that instant; a per-connection timer sends it.
// A reply marked with Session::commit_ticket (durability: strict) is held
// until that ticket is durable; the worker's commit wake-up sends it.
//
// Memory bounds (all checked while replies are produced, not after a batch):
// - output: once more than pause_output bytes of replies are unwritten, the
//   connection tries to write them at once; if the peer does not take them,
//   it stops executing the batch (the rest stays in the input buffer) and
//   stops reading, and resumes when the peer has drained below the mark.
//   Past max_output unwritten bytes (a single huge reply, or held replies)
//   it is dropped at once; a peer that takes nothing of a write for
//   output_stall_timeout while over pause_output is dropped too. Both count
//   as output overflows.
// - input: the buffer starts at kInitialInput bytes and grows only as data
//   arrives, never past what one request may need (max_request_bytes of the
//   parser limits, or the end of the bulk being awaited); growth is charged
//   to the server-wide InputBudget first, which may drop this or the
//   largest other connections. Grown buffers (in and out) shrink back once
//   idle.
// Time bounds (checked by the worker's client timer, in loop time):
// - idle_timeout (server.timeout): a client that sent nothing for this long
//   and is owed nothing (no held reply, nothing unwritten) is closed, as
//   Redis's `timeout` does. 0: never.
// - frame_timeout (server.frame_timeout): bytes of a request that stays
//   incomplete this long (measured from when the last complete request
//   ended, so trickling one byte at a time does not extend it) close the
//   connection with an error: a slow-loris client cannot hold a
//   max_connections slot. 0: never.
// Thread-safety: owned by one worker thread; freed once the close callbacks
// of both its handles (socket, timer) have run.
#pragma once

#include <uv.h>

#include <algorithm>
#include <string>

#include "net/connection_count.h"
#include "net/output_barriers.h"
#include "net/service.h"
#include "resp/parser.h"

namespace tollgate {

class ClientRegistry;
class InputBudget;
class Worker;

struct ConnectionLimits {
  resp::ParserLimits parser;
  size_t max_output = 64u << 20;   // pending reply bytes before the client is dropped
  size_t pause_output = 1u << 20;  // stop executing and reading while this much is unwritten
  // A peer that takes nothing while over pause_output is dropped after this.
  Nanos output_stall_timeout = 30 * kNanosPerSecond;
  // Server-wide bound on grown input buffers (see InputBudget); the Server
  // sets `input_budget` from `max_input_total`. Null: no total bound.
  size_t max_input_total = 256u << 20;
  InputBudget* input_budget = nullptr;
  // CLIENT LIST / KILL: every connection registers here while open (the
  // Server sets it). Null: none.
  ClientRegistry* clients = nullptr;
  Nanos idle_timeout = 0;   // server.timeout; 0: off
  Nanos frame_timeout = 0;  // server.frame_timeout; 0: off
};

class Connection {
 public:
  // `slot` counts this connection against its listener's limit until it is freed.
  Connection(Worker& worker, Service& service, const ConnectionLimits& limits, Session session,
             ConnectionSlot slot = {});
  ~Connection();
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
  // Pushes are due (Worker::wake_pushes): writes what the service pushes,
  // bounded like replies — past max_output unwritten the connection is
  // dropped; nothing here ever waits for the peer (worker thread).
  void on_push();
  // The input budget chose this connection: free its input at once, tell
  // the peer why (best effort) and close (worker thread).
  void drop_for_input_budget();
  bool closing() const { return closing_; }
  // CLIENT KILL: closes at once, unsent replies dropped (worker thread).
  void kill();
  // Closes the connection if it passed idle_timeout or frame_timeout at loop
  // time `now_ms` (worker thread; see the header comment).
  void check_timeouts(uint64_t now_ms);

  static constexpr size_t kInitialInput = 16 * 1024;   // not charged to the input budget
  static constexpr size_t kMinFreeInput = 4 * 1024;    // grow when less is free for a read
  static constexpr size_t kInitialOutput = 4 * 1024;
  static constexpr size_t kIdleOutputCapacity = 64 * 1024;  // shrink reply buffers past this once drained

 private:
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);
  static void on_release_timer(uv_timer_t* t);

  void process();
  void run_batch();
  void flush();
  // Writes what may go now without blocking; with `queue_rest`, hands the
  // rest of it to an async write. False if the socket failed (then closed).
  bool write_now(Nanos now, uint64_t durable, bool queue_rest);
  // Bytes of replies not yet taken by the kernel (held ones included).
  size_t unwritten() const { return out_.size() + (write_in_flight_ ? writing_.size() : 0); }
  size_t pause_limit() const { return std::min(limits_.pause_output, limits_.max_output); }
  // Runs the commands left in the input by an output pause once the peer drained.
  void resume_input();
  // The kernel would take more bytes now (the peer has read some).
  bool socket_writable() const;
  // Drops a client whose replies are not being read (counted, logged).
  void drop_for_output(const char* why);
  // Sizes the input buffer for the next read (on_alloc); false: no room may be had.
  bool reserve_input();
  // Gives a grown input buffer back once little of it is in use.
  void shrink_input();
  // The input buffer's bytes beyond kInitialInput are charged to the budget.
  bool charge_input(size_t new_size);
  // Arms the release timer for the first held reply, or stops it.
  void arm_release_timer(Nanos now, uint64_t durable);
  // Publishes this connection in limits_.clients (open) and the batch's facts to its record.
  void register_client(int fd);
  void publish_batch(uint64_t now_ms);

  uv_pipe_t handle_;
  uv_timer_t release_timer_;
  uv_write_t write_req_;
  Worker& worker_;
  Service& service_;
  const ConnectionLimits& limits_;
  Session session_;
  ConnectionSlot slot_;
  resp::Parser parser_;
  std::string in_;         // bytes read; [0, in_len_) valid
  size_t in_len_ = 0;
  std::string out_;        // replies not yet handed to the kernel
  std::string writing_;    // replies in the in-flight uv_write
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool close_when_flushed_ = false;
  bool input_waiting_ = false;  // complete commands wait in in_ for the output to drain
  bool in_batch_ = false;       // inside process()
  OutputBarriers barriers_;                          // held replies in out_
  Nanos timer_armed_for_ = OutputBarriers::kNone;    // release_timer_'s target
  Nanos close_deadline_ = OutputBarriers::kNone;     // shutdown: drop replies held past this
  int open_handles_ = 0;                             // handles whose close callback is pending
  bool stalled_ = false;                             // over pause_output with a write pending...
  uint64_t stall_since_ms_ = 0;                      // ...since this loop time, without progress
  size_t stall_queue_ = 0;                           // libuv's write queue size then
  static constexpr Nanos kArmedForStall = INT64_MIN; // timer_armed_for_ while the stall clock runs
  uint64_t last_read_ms_ = 0;                        // loop time of the last bytes read (or open)
  uint64_t partial_since_ms_ = 0;                    // an incomplete request waits since then; 0: none
};

}  // namespace tollgate
