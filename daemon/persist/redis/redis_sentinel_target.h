// RedisTarget for storage.redis.sentinel: the primary of a group managed by
// Redis Sentinel, discovered from the sentinels and followed across
// failovers (redis_target.h has the protocol). Also the blocking discovery
// the store's start-up load and final flush use.
// Thread-safety and ownership: as RedisTarget (loop thread only; owns its
// connections and its retry timer, closed by close()).
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "persist/redis/redis_target.h"

namespace tollgate::persist {

class SentinelTarget final : public RedisTarget {
 public:
  SentinelTarget(RedisConfig config, const Clock& clock, Events events);
  ~SentinelTarget() override;

  void start(uv_loop_t* loop) override;
  void send(std::string_view routing_key, const std::vector<std::string>& argv, ReplyHandler on_reply) override;
  void check_timeouts(Nanos now) override;
  void close() override;
  bool ready() const override { return ready_; }
  bool ever_ready() const override { return ever_ready_; }
  std::string describe() const override;

  uint64_t failovers() const override { return switches_; }
  // The address of the primary in use ("" before the first discovery).
  const std::string& primary_address() const { return primary_address_; }

 private:
  void connect_sentinel();
  void rotate_sentinel(const std::string& why);
  void ask_sentinel();
  void on_master_address(const redisReply* reply);
  void use_primary(const std::string& address);
  void verify_role();
  void drop_primary(const std::string& why);
  void became_ready();
  Nanos next_backoff();
  void arm_timer(Nanos delay);

  uv_loop_t* loop_ = nullptr;
  uv_timer_t retry_timer_{};  // the next sentinel after a failed one (backoff)
  bool timer_open_ = false;
  bool closing_ = false;
  Nanos backoff_ = 0;

  size_t sentinel_index_ = 0;
  uint64_t sentinel_id_ = 0;  // events of older sentinel connections are ignored
  std::unique_ptr<RedisConnection> sentinel_;
  bool asking_ = false;  // a get-master-addr-by-name is in flight
  bool want_discovery_ = true;
  Nanos last_poll_ = 0;

  uint64_t primary_id_ = 0;  // events and replies of older primaries are not current
  std::unique_ptr<RedisConnection> primary_;
  std::string primary_address_;
  uint64_t switches_ = 0;        // ready on a primary other than the previous one
  std::string last_ready_address_;
  bool ready_ = false;
  bool ever_ready_ = false;
  std::vector<std::unique_ptr<RedisConnection>> retired_;  // no longer used; closed by the timer
  std::vector<std::unique_ptr<RedisConnection>> closed_;   // closed; freed at the next timer run or destruction
};

// The primary's address named by the first sentinel that answers, checked
// with ROLE on the primary itself; blocking (connect_timeout and
// command_timeout per step). For the start-up load and the final flush.
std::expected<RedisConfig, std::string> discover_primary_sync(const RedisConfig& config);

}  // namespace tollgate::persist
