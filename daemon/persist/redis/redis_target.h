// One logical Redis for the daemon's Redis clients (the write-behind store,
// the fleet's leases): a standalone server, the primary of a Sentinel-managed
// group, or a Redis Cluster — behind the calls of RedisConnection, except
// that send() names the key whose hash slot the command goes to.
//
//   - Standalone (storage.redis.socket / host): one RedisConnection; the
//     routing key is ignored.
//   - Sentinel (storage.redis.sentinel): asks the sentinels, one at a time
//     and in turn, `SENTINEL get-master-addr-by-name <master>`, connects to
//     that address and checks with ROLE that it is the primary before it
//     calls itself ready. It follows a failover three ways: the primary's
//     connection is lost (Sentinel kills the clients of a demoted primary),
//     a reply is READONLY (we reached a replica), or the sentinel it polls
//     every kSentinelPoll names another address. Then it reports `lost`,
//     connects to the new primary and reports `ready` again. (No pub/sub:
//     polling one sentinel every kSentinelPoll is simpler and also catches
//     missed +switch-master messages.)
//   - Cluster (storage.redis.cluster): reads the slot map (CLUSTER SLOTS)
//     from any node it reaches, keeps one RedisConnection per primary and
//     sends each command to the owner of its routing key's slot
//     (redis_slot.h). MOVED updates that slot, re-reads the map and re-sends;
//     ASK sends ASKING + the command to the named node once; at most
//     kMaxRedirects redirects per command, then the last error is handed
//     back. It is ready while the map covers every slot and every primary's
//     connection is ready; losing a primary reports `lost` and re-reads the
//     map (a replica may have been promoted).
//
// Replies: as RedisConnection — every send's handler runs exactly once, with
// the final reply (after redirects), or null when it could not be sent or
// its connection went away first; `current`: it came on a connection that is
// still the live one for its target. Nothing is re-sent after a lost
// connection; the owner decides.
//
// send_replicated(): when storage.redis.wait_replicas is n > 0, the command
// is followed on the same connection by WAIT n wait_timeout, and its reply is
// handed over only when WAIT counted n replicas; otherwise the handler gets
// an error reply "NOREPLICAS <command> reached k of n replicas within
// wait_timeout" (the command did run on the primary: resend only what is
// idempotent). With 0 it is send(). Only n = every replica makes a failover
// lose nothing confirmed (docs/redis.md).
//
// Thread-safety: not thread-safe; as RedisConnection, everything runs on the
// loop's thread, callbacks possibly from inside send(), check_timeouts() or
// close(). Ownership: owns its connections (and keeps those it stopped using
// until it is destroyed, so libuv can finish closing their timers); close()
// must run on the loop before destruction, and the loop must then run.
// Borrows the loop and the clock.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "persist/redis/redis_connection.h"
#include "tollgate/time.h"

struct redisReply;

namespace tollgate::persist {

class RedisTarget {
 public:
  using Events = RedisConnection::Events;
  using ReplyHandler = RedisConnection::ReplyHandler;

  // How often the sentinel is asked again: a failover's loss without WAIT is
  // about this long of writes to the demoted primary (docs/redis.md).
  static constexpr Nanos kSentinelPoll = 100 * kNanosPerMilli;
  static constexpr Nanos kClusterMapRefresh = 10 * kNanosPerSecond;  // slot map re-read even without MOVED
  static constexpr int kMaxRedirects = 5;                            // MOVED/ASK followed per command

  // The kind storage.redis names (RedisConfig::kind()).
  static std::unique_ptr<RedisTarget> make(RedisConfig config, const Clock& clock, Events events);

  RedisTarget(const RedisTarget&) = delete;
  RedisTarget& operator=(const RedisTarget&) = delete;
  virtual ~RedisTarget();

  // Starts connecting on `loop`. Call once.
  virtual void start(uv_loop_t* loop) = 0;
  // Sends one command to the node that owns `routing_key`'s slot (cluster),
  // else to the server / primary. Not connected: `on_reply` runs at once with
  // null, not current.
  virtual void send(std::string_view routing_key, const std::vector<std::string>& argv, ReplyHandler on_reply) = 0;
  // send(), then waits for storage.redis.wait_replicas replicas (see above).
  void send_replicated(std::string_view routing_key, const std::vector<std::string>& argv, ReplyHandler on_reply);
  // Connection timeouts of every connection, and the periodic re-discovery
  // (Sentinel poll, cluster map refresh). Call periodically.
  virtual void check_timeouts(Nanos now) = 0;
  // Stops for good (every connection). Idempotent.
  virtual void close() = 0;
  // Commands can be sent and answered: the server, the verified primary, or
  // every primary of a complete slot map.
  virtual bool ready() const = 0;
  // It has been ready at least once.
  virtual bool ever_ready() const = 0;
  // Where it points now, for logs and INFO ("unix socket /x", "127.0.0.1:6379",
  // "sentinel master mymaster (primary 10.0.0.5:6379)", "cluster of 3 primaries").
  virtual std::string describe() const = 0;

  // For INFO (0 where they do not apply).
  virtual uint64_t moved() const { return 0; }      // cluster: MOVED redirects followed
  virtual uint64_t asked() const { return 0; }      // cluster: ASK redirects followed
  virtual uint64_t failovers() const { return 0; }  // sentinel: primaries switched to after the first

  RedisKind kind() const { return config_.kind(); }
  const RedisConfig& config() const { return config_; }

 protected:
  RedisTarget(RedisConfig config, const Clock& clock, Events events)
      : config_(std::move(config)), clock_(clock), events_(std::move(events)) {}

  RedisConfig config_;
  const Clock& clock_;
  Events events_;
};

// A copy of `reply` that outlives hiredis' callback (freeReplyObject frees it),
// and an error reply with `text`. For handlers that must answer later.
redisReply* copy_reply(const redisReply* reply);
redisReply* make_error_reply(std::string_view text);

// "host:port" split (the port is after the last ':'; brackets of an IPv6
// host are removed). The config loader has checked the form.
RedisConfig node_config(const RedisConfig& base, std::string_view address);

}  // namespace tollgate::persist
