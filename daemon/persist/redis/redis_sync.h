// A blocking Redis connection (hiredis' synchronous API) for what runs before
// the control loop starts (the start-up load) or after it stopped (the final
// flush): connect with connect_timeout, commands with command_timeout, AUTH.
// Not thread-safe; owns its hiredis context.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

struct redisContext;
struct redisReply;

namespace tollgate::persist {

struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// An argument vector as hiredis takes it (views into the strings, which must
// outlive it).
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv);
  int argc() const { return static_cast<int>(args.size()); }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
};

// Where the config points: "unix socket <path>", "<host>:<port>", "sentinel
// master '<name>' via <nodes>" or "cluster via <nodes>", for messages.
std::string redis_address(const RedisConfig& config);

class RedisSync {
 public:
  // Connects and authenticates; the error says which step failed and why.
  static std::expected<RedisSync, std::string> open(const RedisConfig& config);
  RedisSync(RedisSync&& other) noexcept : context_(other.context_) { other.context_ = nullptr; }
  RedisSync& operator=(RedisSync&&) = delete;
  ~RedisSync();

  // One command; a Redis error reply is an error too.
  std::expected<ReplyPtr, std::string> command(const std::vector<std::string>& argv);
  // Pipelining: append any number, then read one reply per appended command.
  std::expected<void, std::string> append(const std::vector<std::string>& argv);
  std::expected<ReplyPtr, std::string> reply();

 private:
  explicit RedisSync(redisContext* context) : context_(context) {}
  redisContext* context_ = nullptr;
};

}  // namespace tollgate::persist
