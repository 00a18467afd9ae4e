// One asynchronous connection to a Redis server (hiredis' async API on a
// libuv loop), kept up for its owner: connects over TCP or a Unix socket,
// authenticates (AUTH, when a password is set) and checks the link with PING
// before it calls itself ready; after a failed attempt or a lost connection it
// reconnects with capped exponential backoff (kBackoffFirst doubling up to
// kBackoffMax, reset once ready); it drops a connection that is not ready
// within connect_timeout, or that leaves a command unanswered past
// command_timeout, when its owner calls check_timeouts (the owner's periodic
// timer passes `now`; the connection has no clock of its own beyond stamping
// sends). The Redis store uses one for its write-behind; the fleet's Sentinel
// and Cluster clients are meant to reuse it.
//
// Replies: every send's handler runs exactly once — with Redis' reply, or
// with null when the command could not be sent or its connection went away
// first (nothing is re-sent here; the owner decides). `current` says whether
// the reply came on the connection that is still live, so a late answer of an
// older connection is not mistaken for one of the new.
//
// Thread-safety: not thread-safe. Everything after construction runs on the
// loop's thread (the control plane's loop), and every callback (events and
// reply handlers) runs there too, possibly from inside send(), check_timeouts()
// or close(). Ownership: owns its hiredis context and reconnect timer; close()
// must run on the loop before destruction, and the loop must then run so that
// libuv finishes closing the timer. Borrows the loop and the clock.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "tollgate/time.h"

struct redisAsyncContext;
struct redisReply;

namespace tollgate::persist {

class RedisConnection {
 public:
  static constexpr Nanos kBackoffFirst = 100 * kNanosPerMilli;
  static constexpr Nanos kBackoffMax = 5 * kNanosPerSecond;

  // What the owner hears about the link. Any member may be empty.
  struct Events {
    // Connected, authenticated and PING answered. `reconnected`: it had been
    // ready before (not the first connection).
    std::function<void(bool reconnected)> ready;
    // The connection is gone (`was_ready`: it had become ready). Replies still
    // owed are answered with null; a reconnect is scheduled after this returns
    // (unless closing).
    std::function<void(const std::string& why, bool was_ready)> lost;
    // An attempt failed before the link could be used: the context could not
    // be made (then only a reconnect follows) or the connect was refused
    // (then `lost` follows).
    std::function<void(const std::string& why)> connect_failed;
    // Redis answered the handshake's `command` (AUTH or PING) with `error`.
    // A refused PING (e.g. NOAUTH after a refused AUTH) drops the connection.
    std::function<void(std::string_view command, const std::string& error)> refused;
    // A command went unanswered past command_timeout; `lost` follows.
    std::function<void()> command_timeout;
  };

  // `reply` is null when the command was not sent or its connection was lost
  // before the answer; `current`: the answer came on the live connection.
  using ReplyHandler = std::function<void(const redisReply* reply, bool current)>;

  RedisConnection(RedisConfig config, const Clock& clock, Events events);
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
  ~RedisConnection();

  // Initialises the reconnect timer on `loop` and makes the first attempt.
  // Call once.
  void start(uv_loop_t* loop);
  // Sends one command (pipelined behind what is in flight; owners normally
  // wait for ready()). No connection, or the send fails: `on_reply` runs at
  // once with null, not current.
  void send(const std::vector<std::string>& argv, ReplyHandler on_reply);
  // Drops the connection when it is not ready connect_timeout after its
  // attempt began, or the oldest command in flight was sent more than
  // command_timeout before `now`. Call periodically.
  void check_timeouts(Nanos now);
  // Stops for good: drops the connection (`lost` with "shutting down"),
  // stops reconnecting and closes the timer. Idempotent.
  void close();

  // Connected, authenticated and PING answered.
  bool ready() const { return ready_; }
  // It has been ready at least once.
  bool ever_ready() const { return ever_ready_; }
  // Connections made so far (each attempt whose context could be created).
  uint64_t generation() const { return generation_; }
  const RedisConfig& config() const { return config_; }

 private:
  struct Pending;

  void connect();
  void schedule_reconnect();
  void lost(const std::string& why);
  void on_handshake_reply(std::string_view command, const redisReply* reply, bool current);

  static void on_connect_cb(const redisAsyncContext* c, int status);
  static void on_disconnect_cb(const redisAsyncContext* c, int status);
  static void on_reply_cb(redisAsyncContext* c, void* reply, void* privdata);

  RedisConfig config_;
  const Clock& clock_;
  Events events_;
  uv_loop_t* loop_ = nullptr;
  uv_timer_t reconnect_timer_{};
  bool timer_open_ = false;
  redisAsyncContext* ctx_ = nullptr;  // the live connection (null: none)
  bool ready_ = false;
  bool ever_ready_ = false;
  bool closing_ = false;
  uint64_t generation_ = 0;    // replies of older connections are not current
  Nanos connect_started_ = 0;  // when the live connection's attempt began
  Nanos backoff_ = 0;          // the next reconnect's delay (0: first)
  std::deque<Nanos> sent_at_;  // send time of each unanswered command of the live connection, in order
};

// The bytes of a string, status or error reply.
std::string_view reply_string(const redisReply* reply);

}  // namespace tollgate::persist
