// RedisTarget for storage.redis.cluster: a Redis Cluster, routed by us
// (Debian's hiredis has none): a slot table from CLUSTER SLOTS, one
// RedisConnection per node, MOVED and ASK followed (redis_target.h has the
// protocol; redis_slot.h the key-to-slot rule). Also the blocking slot map
// the store's start-up load and final flush use.
// Thread-safety and ownership: as RedisTarget (loop thread only; owns one
// connection per node it ever reached, kept until destruction).
#pragma once

#include <uv.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "persist/redis/redis_slot.h"
#include "persist/redis/redis_target.h"

namespace tollgate::persist {

class ClusterTarget final : public RedisTarget {
 public:
  ClusterTarget(RedisConfig config, const Clock& clock, Events events);
  ~ClusterTarget() override;

  void start(uv_loop_t* loop) override;
  void send(std::string_view routing_key, const std::vector<std::string>& argv, ReplyHandler on_reply) override;
  void check_timeouts(Nanos now) override;
  void close() override;
  bool ready() const override { return ready_; }
  bool ever_ready() const override { return ever_ready_; }
  std::string describe() const override;

  // For INFO and tests.
  uint64_t map_reads() const { return map_reads_; }     // CLUSTER SLOTS answers applied
  uint64_t moved() const override { return moved_; }
  uint64_t asked() const override { return asked_; }
  size_t primaries() const { return primaries_.size(); }
  // The address owning `slot` in the map ("" while unknown).
  std::string owner(int slot) const;

 private:
  struct Node {
    std::string address;
    std::unique_ptr<RedisConnection> connection;
  };
  struct Command;

  size_t node(const std::string& address);  // get or create (and start) the node's connection
  void issue(const std::shared_ptr<Command>& command, size_t node_index, bool asking);
  void on_reply(const std::shared_ptr<Command>& command, size_t node_index, const redisReply* reply, bool current);
  void refresh_map();
  void on_slots(size_t from, const redisReply* reply);
  void update_ready(const std::string& why);
  bool is_primary(size_t node_index) const;

  uv_loop_t* loop_ = nullptr;
  bool closing_ = false;
  std::vector<std::unique_ptr<Node>> nodes_;  // never removed (closed at close())
  std::unordered_map<std::string, size_t> by_address_;
  std::vector<int32_t> slots_;    // slot -> node index, -1: unknown
  std::vector<size_t> primaries_;  // node indices owning a slot
  bool ready_ = false;
  bool ever_ready_ = false;
  bool refreshing_ = false;       // a CLUSTER SLOTS is in flight
  bool refresh_wanted_ = true;    // re-read the map as soon as a node is ready
  Nanos last_refresh_ = 0;
  uint64_t map_reads_ = 0;
  uint64_t moved_ = 0;
  uint64_t asked_ = 0;
};

// The slot map read with blocking connections: per slot, the primary's
// address. For the start-up load and the final flush.
struct ClusterMapSync {
  std::vector<std::string> owner;  // slot -> "host:port"
  std::vector<std::string> primaries;
};
std::expected<ClusterMapSync, std::string> read_cluster_map_sync(const RedisConfig& config);

}  // namespace tollgate::persist
