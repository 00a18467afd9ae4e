#include "client.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cli/error_messages.h"

namespace tollgate::cli {
namespace {

// A daemon that stops answering should not hang an operator's shell forever.
constexpr timeval kReplyTimeout{30, 0};

Value to_value(const redisReply* reply) {
  switch (reply->type) {
    case REDIS_REPLY_STATUS: return Value::status(std::string(reply->str, reply->len));
    case REDIS_REPLY_ERROR: return Value::error(std::string(reply->str, reply->len));
    case REDIS_REPLY_INTEGER: return Value::number(reply->integer);
    case REDIS_REPLY_STRING: return Value::bulk(std::string(reply->str, reply->len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Value> elements;
      elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) elements.push_back(to_value(reply->element[i]));
      return Value::array(std::move(elements));
    }
    default: return Value::nil();
  }
}

struct FreeReply {
  void operator()(void* reply) const { freeReplyObject(reply); }
};

}  // namespace

std::expected<Client, std::string> Client::connect(const std::string& path, bool admin, unsigned uid) {
  // Our own connect() so the errno (ENOENT vs ECONNREFUSED) is exact.
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) return std::unexpected(connect_error_message(path, ENAMETOOLONG));
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(connect_error_message(path, errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(fd);
    return std::unexpected(connect_error_message(path, error));
  }
  redisContext* context = redisConnectFd(fd);
  if (context == nullptr) {
    ::close(fd);
    return std::unexpected("out of memory");
  }
  if (context->err != 0) {
    std::string why = fmt::format("cannot use the connection to {}: {}", path, context->errstr);
    redisFree(context);
    return std::unexpected(std::move(why));
  }
  (void)redisSetTimeout(context, kReplyTimeout);
  return Client(context, path, admin, uid);
}

std::expected<Value, std::string> Client::read_unsolicited_error() {
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK) return std::unexpected(broken_connection_message());
  std::unique_ptr<void, FreeReply> reply(raw);
  return to_value(static_cast<redisReply*>(raw));
}

std::string Client::broken_connection_message() {
  // The admin socket refuses a peer by writing one error line and closing;
  // if our write raced the close, the line may still be waiting unread.
  char buffer[512];
  const ssize_t n = ::recv(context_->fd, buffer, sizeof(buffer) - 1, MSG_DONTWAIT);
  if (n > 1 && buffer[0] == '-') {
    std::string_view line(buffer + 1, static_cast<size_t>(n - 1));
    line = line.substr(0, line.find("\r\n"));
    return daemon_error_message(line, uid_);
  }
  const int error = context_->err;
  if (error == REDIS_ERR_EOF || (error == REDIS_ERR_IO && (errno == EPIPE || errno == ECONNRESET)))
    return closed_early_message(path_, admin_, uid_);
  return fmt::format("lost the connection to tollgated at {}: {}", path_, context_->errstr);
}

std::expected<Value, std::string> Client::call(const Arguments& arguments) {
  // Something to read before we asked anything is the daemon refusing us.
  pollfd ready{.fd = context_->fd, .events = POLLIN, .revents = 0};
  if (::poll(&ready, 1, 0) == 1 && (ready.revents & (POLLIN | POLLHUP)) != 0) {
    auto early = read_unsolicited_error();
    if (!early) return early;
    if (early->is_error()) return early;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& argument : arguments) {
    argv.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  void* raw = redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (raw == nullptr) return std::unexpected(broken_connection_message());
  std::unique_ptr<void, FreeReply> reply(raw);
  return to_value(static_cast<redisReply*>(raw));
}

std::expected<Value, std::string> Client::next_push() {
  (void)redisSetTimeout(context_.get(), timeval{0, 0});  // no limit: events come when they come
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK) return std::unexpected(broken_connection_message());
  std::unique_ptr<void, FreeReply> reply(raw);
  return to_value(static_cast<redisReply*>(raw));
}

}  // namespace tollgate::cli
