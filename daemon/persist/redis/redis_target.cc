#include "persist/redis/redis_target.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "persist/redis/redis_cluster_target.h"
#include "persist/redis/redis_sentinel_target.h"
#include "persist/redis/redis_sync.h"

namespace tollgate::persist {
namespace {

// storage.redis.socket / host: one connection, the routing key ignored.
class StandaloneTarget final : public RedisTarget {
 public:
  StandaloneTarget(RedisConfig config, const Clock& clock, Events events)
      : RedisTarget(config, clock, events), connection_(std::move(config), clock, std::move(events)) {}

  void start(uv_loop_t* loop) override { connection_.start(loop); }
  void send(std::string_view, const std::vector<std::string>& argv, ReplyHandler on_reply) override {
    connection_.send(argv, std::move(on_reply));
  }
  void check_timeouts(Nanos now) override { connection_.check_timeouts(now); }
  void close() override { connection_.close(); }
  bool ready() const override { return connection_.ready(); }
  bool ever_ready() const override { return connection_.ever_ready(); }
  std::string describe() const override { return redis_address(config_); }

 private:
  RedisConnection connection_;
};

char* copy_chars(const char* s, size_t n) {
  auto* out = static_cast<char*>(std::malloc(n + 1));
  if (n > 0) std::memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

// What WAIT's bookkeeping holds between the command's reply and WAIT's.
struct Replicated {
  RedisTarget::ReplyHandler handler;
  std::string command;
  int replicas = 0;
  redisReply* reply = nullptr;  // the command's, copied (null: none / lost)
  bool current = false;
  bool command_done = false;
  bool wait_done = false;
  long long acknowledged = -1;  // WAIT's count (-1: no answer)
  ~Replicated() {
    if (reply != nullptr) freeReplyObject(reply);
  }
  void finish(int64_t timeout_ms) {
    if (!command_done || !wait_done) return;
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR || acknowledged >= replicas) {
      handler(reply, current);
      return;
    }
    redisReply* error = make_error_reply(
        fmt::format("NOREPLICAS {} reached {} of {} replicas within wait_timeout ({} ms)", command,
                    std::max<long long>(0, acknowledged), replicas, timeout_ms));
    handler(error, current);
    freeReplyObject(error);
  }
};

}  // namespace

RedisTarget::~RedisTarget() = default;

std::unique_ptr<RedisTarget> RedisTarget::make(RedisConfig config, const Clock& clock, Events events) {
  switch (config.kind()) {
    case RedisKind::kSentinel:
      return std::make_unique<SentinelTarget>(std::move(config), clock, std::move(events));
    case RedisKind::kCluster:
      return std::make_unique<ClusterTarget>(std::move(config), clock, std::move(events));
    case RedisKind::kStandalone:
      break;
  }
  return std::make_unique<StandaloneTarget>(std::move(config), clock, std::move(events));
}

void RedisTarget::send_replicated(std::string_view routing_key, const std::vector<std::string>& argv,
                                  ReplyHandler on_reply) {
  if (config_.wait_replicas <= 0) return send(routing_key, argv, std::move(on_reply));
  auto state = std::make_shared<Replicated>();
  state->handler = std::move(on_reply);
  state->command = argv.empty() ? std::string() : argv.front();
  state->replicas = config_.wait_replicas;
  const int64_t timeout_ms = std::max<int64_t>(1, config_.wait_timeout / kNanosPerMilli);
  send(routing_key, argv, [state, timeout_ms](const redisReply* reply, bool current) {
    state->reply = reply != nullptr ? copy_reply(reply) : nullptr;
    state->current = current;
    state->command_done = true;
    state->finish(timeout_ms);
  });
  send(routing_key, {"WAIT", std::to_string(config_.wait_replicas), std::to_string(timeout_ms)},
       [state, timeout_ms](const redisReply* reply, bool) {
         if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) state->acknowledged = reply->integer;
         state->wait_done = true;
         state->finish(timeout_ms);
       });
}

redisReply* copy_reply(const redisReply* reply) {
  auto* out = static_cast<redisReply*>(std::calloc(1, sizeof(redisReply)));
  out->type = reply->type;
  out->integer = reply->integer;
  if (reply->str != nullptr) {
    out->str = copy_chars(reply->str, reply->len);
    out->len = reply->len;
  }
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
    out->elements = reply->elements;
    out->element = static_cast<redisReply**>(std::calloc(reply->elements, sizeof(redisReply*)));
    for (size_t i = 0; i < reply->elements; ++i) out->element[i] = copy_reply(reply->element[i]);
  }
  return out;
}

redisReply* make_error_reply(std::string_view text) {
  auto* out = static_cast<redisReply*>(std::calloc(1, sizeof(redisReply)));
  out->type = REDIS_REPLY_ERROR;
  out->str = copy_chars(text.data(), text.size());
  out->len = text.size();
  return out;
}

RedisConfig node_config(const RedisConfig& base, std::string_view address) {
  RedisConfig c = base;
  c.socket.clear();
  c.sentinel = {};
  c.cluster = {};
  const size_t colon = address.rfind(':');
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  c.host = std::string(host);
  c.port = colon == std::string_view::npos ? ConfigDefaults::kRedisPort : std::atoi(std::string(address.substr(colon + 1)).c_str());
  return c;
}

}  // namespace tollgate::persist
