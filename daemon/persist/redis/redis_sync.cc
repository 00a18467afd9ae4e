#include "persist/redis/redis_sync.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

namespace tollgate::persist {
namespace {

timeval to_timeval(Nanos t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t / kNanosPerSecond);
  tv.tv_usec = static_cast<suseconds_t>((t % kNanosPerSecond) / 1000);
  return tv;
}

std::string context_error(redisContext* c) {
  return c->errstr[0] != '\0' ? std::string(c->errstr) : std::string("connection error");
}

}  // namespace

void ReplyDeleter::operator()(redisReply* r) const {
  if (r != nullptr) freeReplyObject(r);
}

std::string redis_address(const RedisConfig& config) {
  if (config.kind() == RedisKind::kSentinel)
    return fmt::format("sentinel master '{}' via {}", config.sentinel.master, fmt::join(config.sentinel.nodes, ","));
  if (config.kind() == RedisKind::kCluster) return fmt::format("cluster via {}", fmt::join(config.cluster.nodes, ","));
  return config.socket.empty() ? fmt::format("{}:{}", config.host, config.port)
                               : fmt::format("unix socket {}", config.socket);
}

std::expected<RedisSync, std::string> RedisSync::open(const RedisConfig& config) {
  redisContext* c = config.socket.empty()
                        ? redisConnectWithTimeout(config.host.c_str(), config.port, to_timeval(config.connect_timeout))
                        : redisConnectUnixWithTimeout(config.socket.c_str(), to_timeval(config.connect_timeout));
  if (c == nullptr) return std::unexpected("cannot allocate a Redis context");
  RedisSync sync(c);
  if (c->err != 0)
    return std::unexpected(fmt::format("cannot connect to Redis at {}: {}", redis_address(config), context_error(c)));
  redisSetTimeout(c, to_timeval(config.command_timeout));
  if (!config.password.empty()) {
    auto auth = sync.command({"AUTH", config.password});
    if (!auth) return std::unexpected(fmt::format("Redis at {} refused AUTH: {}", redis_address(config), auth.error()));
  }
  return sync;
}

RedisSync::~RedisSync() {
  if (context_ != nullptr) redisFree(context_);
}

ArgvView::ArgvView(const std::vector<std::string>& argv) {
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
}

std::expected<void, std::string> RedisSync::append(const std::vector<std::string>& argv) {
  ArgvView view(argv);  // hiredis 0.14 takes a non-const argv
  if (redisAppendCommandArgv(context_, view.argc(), view.args.data(), view.lengths.data()) != REDIS_OK)
    return std::unexpected(context_error(context_));
  return {};
}

std::expected<ReplyPtr, std::string> RedisSync::reply() {
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return std::unexpected(context_error(context_));
  ReplyPtr r(static_cast<redisReply*>(raw));
  if (r->type == REDIS_REPLY_ERROR) return std::unexpected(std::string(r->str, r->len));
  return r;
}

std::expected<ReplyPtr, std::string> RedisSync::command(const std::vector<std::string>& argv) {
  if (auto a = append(argv); !a) return std::unexpected(a.error());
  return reply();
}

}  // namespace tollgate::persist
