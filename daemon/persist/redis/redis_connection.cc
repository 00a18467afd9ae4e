#include "persist/redis/redis_connection.h"

#include <fmt/format.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "persist/redis/redis_sync.h"

namespace tollgate::persist {

// The privdata of one async command (owned by its reply callback).
struct RedisConnection::Pending {
  RedisConnection* connection = nullptr;
  uint64_t generation = 0;  // which connection it was sent on
  ReplyHandler handler;
};

RedisConnection::RedisConnection(RedisConfig config, const Clock& clock, Events events)
    : config_(std::move(config)), clock_(clock), events_(std::move(events)) {}

RedisConnection::~RedisConnection() = default;

void RedisConnection::start(uv_loop_t* loop) {
  loop_ = loop;
  uv_timer_init(loop_, &reconnect_timer_);
  reconnect_timer_.data = this;
  timer_open_ = true;
  connect();
}

void RedisConnection::connect() {
  if (closing_ || ctx_ != nullptr) return;
  connect_started_ = clock_.now();
  redisAsyncContext* c = config_.socket.empty() ? redisAsyncConnect(config_.host.c_str(), config_.port)
                                                : redisAsyncConnectUnix(config_.socket.c_str());
  if (c == nullptr || c->err != 0) {
    const std::string why = c != nullptr ? std::string(c->errstr) : "cannot allocate a context";
    if (c != nullptr) redisAsyncFree(c);
    if (events_.connect_failed) events_.connect_failed(why);
    schedule_reconnect();
    return;
  }
  c->data = this;
  redisLibuvAttach(c, loop_);
  redisAsyncSetConnectCallback(c, on_connect_cb);
  redisAsyncSetDisconnectCallback(c, on_disconnect_cb);
  ctx_ = c;
  ++generation_;
  if (!config_.password.empty())
    send({"AUTH", config_.password},
         [this](const redisReply* reply, bool current) { on_handshake_reply("AUTH", reply, current); });
  send({"PING"}, [this](const redisReply* reply, bool current) { on_handshake_reply("PING", reply, current); });
}

void RedisConnection::schedule_reconnect() {
  if (closing_) return;
  backoff_ = backoff_ == 0 ? kBackoffFirst : std::min(kBackoffMax, backoff_ * 2);
  uv_timer_start(
      &reconnect_timer_, [](uv_timer_t* t) { static_cast<RedisConnection*>(t->data)->connect(); },
      static_cast<uint64_t>(backoff_ / kNanosPerMilli), 0);
}

void RedisConnection::on_connect_cb(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisConnection*>(c->data);
  if (status != REDIS_OK && self->ctx_ == c) {
    // hiredis frees the context after this callback.
    if (self->events_.connect_failed) self->events_.connect_failed(c->errstr);
    self->lost(fmt::format("connect failed: {}", c->errstr));
  }
}

void RedisConnection::on_disconnect_cb(const redisAsyncContext* c, int) {
  auto* self = static_cast<RedisConnection*>(c->data);
  if (self->ctx_ == c) self->lost(c->err != 0 ? std::string(c->errstr) : "connection closed");
}

// The handshake: AUTH's error is reported (the PING behind it then fails
// too); PING's answer on the live connection makes it ready, or drops it.
void RedisConnection::on_handshake_reply(std::string_view command, const redisReply* reply, bool current) {
  const bool error = reply == nullptr || reply->type == REDIS_REPLY_ERROR;
  if (error) {
    if (reply == nullptr) return;  // the connection is gone: `lost` tells
    if (command == "PING" && !current) return;  // an older connection's
    if (events_.refused) events_.refused(command, std::string(reply->str, reply->len));
    if (command == "PING") redisAsyncDisconnect(ctx_);  // a callback may only ask for the disconnect
    return;
  }
  if (command != "PING" || !current) return;
  ready_ = true;
  backoff_ = 0;
  const bool reconnected = ever_ready_;
  ever_ready_ = true;
  if (events_.ready) events_.ready(reconnected);
}

// The connection is gone (or being dropped): forget it and try again later.
void RedisConnection::lost(const std::string& why) {
  const bool was_ready = ready_;
  ctx_ = nullptr;
  ready_ = false;
  sent_at_.clear();
  if (events_.lost) events_.lost(why, was_ready);
  schedule_reconnect();
}

void RedisConnection::send(const std::vector<std::string>& argv, ReplyHandler on_reply) {
  auto* pending = new Pending{this, generation_, std::move(on_reply)};
  ArgvView view(argv);  // hiredis 0.14 takes a non-const argv
  if (ctx_ == nullptr || redisAsyncCommandArgv(ctx_, on_reply_cb, pending, view.argc(), view.args.data(),
                                               view.lengths.data()) != REDIS_OK) {
    std::unique_ptr<Pending> owned(pending);
    owned->handler(nullptr, false);
    return;
  }
  sent_at_.push_back(clock_.now());
}

void RedisConnection::on_reply_cb(redisAsyncContext*, void* reply, void* privdata) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
  RedisConnection& self = *pending->connection;
  const bool current = pending->generation == self.generation_ && self.ctx_ != nullptr;
  if (current && !self.sent_at_.empty()) self.sent_at_.pop_front();
  pending->handler(static_cast<const redisReply*>(reply), current);
}

void RedisConnection::check_timeouts(Nanos now) {
  if (ctx_ == nullptr) return;
  std::string why;
  if (!ready_ && now - connect_started_ > config_.connect_timeout) {
    why = fmt::format("no connection within connect_timeout ({} ms)", config_.connect_timeout / kNanosPerMilli);
  } else if (!sent_at_.empty() && now - sent_at_.front() > config_.command_timeout) {
    why = fmt::format("no reply within command_timeout ({} ms)", config_.command_timeout / kNanosPerMilli);
    if (events_.command_timeout) events_.command_timeout();
  }
  if (why.empty()) return;
  redisAsyncContext* c = ctx_;
  lost(why);
  redisAsyncFree(c);  // answers what is in flight with null replies
}

void RedisConnection::close() {
  closing_ = true;
  if (ctx_ != nullptr) {
    redisAsyncContext* c = ctx_;
    lost("shutting down");
    redisAsyncFree(c);
  }
  if (timer_open_) {
    uv_timer_stop(&reconnect_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&reconnect_timer_), nullptr);
    timer_open_ = false;
  }
}

std::string_view reply_string(const redisReply* reply) { return {reply->str, reply->len}; }

}  // namespace tollgate::persist
