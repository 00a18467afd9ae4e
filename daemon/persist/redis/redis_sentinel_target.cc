#include "persist/redis/redis_sentinel_target.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "persist/redis/redis_sync.h"

namespace tollgate::persist {
namespace {

bool is_error(const redisReply* r, std::string_view prefix) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR && reply_string(r).starts_with(prefix);
}

// "host:port" from get-master-addr-by-name's [host, port]; empty when the
// sentinel does not know the master (nil) or answered something else.
std::string master_address(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return {};
  const redisReply* host = r->element[0];
  const redisReply* port = r->element[1];
  if (host->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_STRING) return {};
  const std::string h(reply_string(host));
  return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::string(reply_string(port));
}

// ROLE's first element is "master" on a primary.
bool is_primary_role(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
         r->element[0]->type == REDIS_REPLY_STRING && reply_string(r->element[0]) == "master";
}

}  // namespace

SentinelTarget::SentinelTarget(RedisConfig config, const Clock& clock, Events events)
    : RedisTarget(std::move(config), clock, std::move(events)) {}

SentinelTarget::~SentinelTarget() = default;

void SentinelTarget::start(uv_loop_t* loop) {
  loop_ = loop;
  uv_timer_init(loop_, &retry_timer_);
  retry_timer_.data = this;
  timer_open_ = true;
  connect_sentinel();
}

// The timer's work: the next sentinel, or another question to the current one.
void SentinelTarget::connect_sentinel() {
  if (closing_) return;
  if (sentinel_ != nullptr) {
    if (want_discovery_ && sentinel_->ready() && !asking_) ask_sentinel();
    return;
  }
  const std::string& address = config_.sentinel.nodes[sentinel_index_ % config_.sentinel.nodes.size()];
  RedisConfig c = node_config(config_, address);
  c.password = config_.sentinel.password;
  const uint64_t id = ++sentinel_id_;
  Events ev;
  ev.ready = [this, id](bool) {
    if (id == sentinel_id_ && want_discovery_ && !asking_) ask_sentinel();
  };
  ev.lost = [this, id, address](const std::string& why, bool) {
    if (id == sentinel_id_) rotate_sentinel(fmt::format("sentinel {}: {}", address, why));
  };
  ev.connect_failed = [this, id, address](const std::string& why) {
    if (id != sentinel_id_) return;
    if (events_.connect_failed) events_.connect_failed(fmt::format("sentinel {}: {}", address, why));
  };
  ev.refused = [this, id, address](std::string_view command, const std::string& error) {
    if (id != sentinel_id_) return;
    if (events_.refused) events_.refused(fmt::format("{} (sentinel {})", command, address), error);
  };
  sentinel_ = std::make_unique<RedisConnection>(std::move(c), clock_, std::move(ev));
  sentinel_->start(loop_);
}

// The sentinel failed or does not know the master: try the next one after a
// backoff. The connection is closed from the timer, never inside its own callback.
void SentinelTarget::rotate_sentinel(const std::string& why) {
  (void)why;
  asking_ = false;
  ++sentinel_id_;
  ++sentinel_index_;
  if (sentinel_ != nullptr) retired_.push_back(std::move(sentinel_));
  arm_timer(next_backoff());
}

Nanos SentinelTarget::next_backoff() {
  backoff_ = backoff_ == 0 ? RedisConnection::kBackoffFirst : std::min(RedisConnection::kBackoffMax, backoff_ * 2);
  return backoff_;
}

// The timer closes retired connections (never inside their own callbacks)
// and then connects to the next sentinel or asks the current one again.
void SentinelTarget::arm_timer(Nanos delay) {
  if (closing_ || !timer_open_) return;
  uv_timer_start(
      &retry_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<SentinelTarget*>(t->data);
        self->closed_.clear();  // closed by an earlier run: libuv is done with their timers
        for (auto& c : self->retired_) {
          c->close();
          self->closed_.push_back(std::move(c));
        }
        self->retired_.clear();
        self->connect_sentinel();
      },
      static_cast<uint64_t>(delay / kNanosPerMilli), 0);
}

void SentinelTarget::ask_sentinel() {
  if (sentinel_ == nullptr || !sentinel_->ready() || asking_) return;
  asking_ = true;
  last_poll_ = clock_.now();
  const uint64_t id = sentinel_id_;
  sentinel_->send({"SENTINEL", "get-master-addr-by-name", config_.sentinel.master},
                  [this, id](const redisReply* reply, bool) {
                    if (id != sentinel_id_) return;
                    asking_ = false;
                    if (reply == nullptr) return;  // the connection is gone: `lost` rotates
                    on_master_address(reply);
                  });
}

void SentinelTarget::on_master_address(const redisReply* reply) {
  const std::string address = master_address(reply);
  if (address.empty()) {
    const std::string why =
        reply->type == REDIS_REPLY_ERROR
            ? std::string(reply_string(reply))
            : fmt::format("does not know master '{}' (SENTINEL get-master-addr-by-name answered nil)",
                          config_.sentinel.master);
    if (events_.connect_failed) events_.connect_failed(why);
    rotate_sentinel(why);
    return;
  }
  backoff_ = 0;
  want_discovery_ = false;
  if (address == primary_address_ && primary_ != nullptr) return;  // unchanged (it reconnects by itself)
  if (primary_ != nullptr)
    drop_primary(fmt::format("failover: the sentinels name {} as primary of '{}' (was {})", address,
                             config_.sentinel.master, primary_address_));
  use_primary(address);
}

void SentinelTarget::use_primary(const std::string& address) {
  primary_address_ = address;
  const uint64_t id = ++primary_id_;
  Events ev;
  ev.ready = [this, id](bool) {
    if (id == primary_id_) verify_role();
  };
  ev.lost = [this, id](const std::string& why, bool) {
    if (id != primary_id_) return;
    const bool was_ready = ready_;
    ready_ = false;
    want_discovery_ = true;  // a failover loses the primary first: ask where it went
    if (events_.lost) events_.lost(why, was_ready);
    ask_sentinel();
  };
  ev.connect_failed = [this, id](const std::string& why) {
    if (id == primary_id_ && events_.connect_failed) events_.connect_failed(why);
  };
  ev.refused = [this, id](std::string_view command, const std::string& error) {
    if (id == primary_id_ && events_.refused) events_.refused(command, error);
  };
  ev.command_timeout = [this, id] {
    if (id == primary_id_ && events_.command_timeout) events_.command_timeout();
  };
  primary_ = std::make_unique<RedisConnection>(node_config(config_, address), clock_, std::move(ev));
  primary_->start(loop_);
}

// A connection to the named address is up: only a primary makes us ready
// (a sentinel's answer may be a moment stale during a failover).
void SentinelTarget::verify_role() {
  const uint64_t id = primary_id_;
  primary_->send({"ROLE"}, [this, id](const redisReply* reply, bool current) {
    if (id != primary_id_ || !current || reply == nullptr) return;
    if (is_primary_role(reply)) {
      became_ready();
      return;
    }
    drop_primary(fmt::format("{} is not the primary (ROLE: {})", primary_address_,
                             reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                                     reply->element[0]->type == REDIS_REPLY_STRING
                                 ? std::string(reply_string(reply->element[0]))
                                 : std::string("unexpected reply")));
    want_discovery_ = true;
    arm_timer(next_backoff());  // ask again: the sentinels may not have switched yet
  });
}

void SentinelTarget::became_ready() {
  ready_ = true;
  if (!last_ready_address_.empty() && last_ready_address_ != primary_address_) ++switches_;
  last_ready_address_ = primary_address_;
  const bool again = ever_ready_;
  ever_ready_ = true;
  if (events_.ready) events_.ready(again);
}

// Stops using the primary (its connection is closed from the timer, never
// inside one of its callbacks); what it had in flight is answered with null.
void SentinelTarget::drop_primary(const std::string& why) {
  if (primary_ == nullptr) return;
  const bool was_ready = ready_;
  ready_ = false;
  ++primary_id_;
  retired_.push_back(std::move(primary_));
  primary_address_.clear();
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&retry_timer_))) arm_timer(0);
  if (events_.lost) events_.lost(why, was_ready);
}

void SentinelTarget::send(std::string_view, const std::vector<std::string>& argv, ReplyHandler on_reply) {
  if (primary_ == nullptr) {
    on_reply(nullptr, false);
    return;
  }
  const uint64_t id = primary_id_;
  primary_->send(argv, [this, id, on_reply = std::move(on_reply)](const redisReply* reply, bool current) {
    const bool live = current && id == primary_id_;
    if (live && is_error(reply, "READONLY")) {
      // A demoted primary: the failover happened without dropping us.
      drop_primary(fmt::format("{} answered READONLY (now a replica)", primary_address_));
      want_discovery_ = true;
      ask_sentinel();
    }
    on_reply(reply, live);
  });
}

void SentinelTarget::check_timeouts(Nanos now) {
  if (closing_) return;
  if (RedisConnection* s = sentinel_.get()) s->check_timeouts(now);
  if (RedisConnection* p = primary_.get()) p->check_timeouts(now);
  if (sentinel_ != nullptr && !asking_ && (want_discovery_ || now - last_poll_ >= kSentinelPoll)) {
    want_discovery_ = want_discovery_ || !ready_;
    ask_sentinel();
  }
}

void SentinelTarget::close() {
  if (closing_) return;
  closing_ = true;
  const bool was_ready = ready_;
  const bool had_primary = primary_ != nullptr;
  ready_ = false;
  ++primary_id_;
  ++sentinel_id_;
  if (sentinel_ != nullptr) retired_.push_back(std::move(sentinel_));
  if (primary_ != nullptr) retired_.push_back(std::move(primary_));
  for (auto& c : retired_) c->close();
  if (timer_open_) {
    uv_timer_stop(&retry_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), nullptr);
    timer_open_ = false;
  }
  if (had_primary && events_.lost) events_.lost("shutting down", was_ready);
}

std::string SentinelTarget::describe() const {
  return fmt::format("sentinel master '{}' (primary {})", config_.sentinel.master,
                     primary_address_.empty() ? std::string("not yet known") : primary_address_);
}

std::expected<RedisConfig, std::string> discover_primary_sync(const RedisConfig& config) {
  std::string errors;
  for (const std::string& node : config.sentinel.nodes) {
    RedisConfig s = node_config(config, node);
    s.password = config.sentinel.password;
    auto sentinel = RedisSync::open(s);
    if (!sentinel) {
      errors += fmt::format("{}sentinel {}: {}", errors.empty() ? "" : "; ", node, sentinel.error());
      continue;
    }
    auto reply = sentinel->command({"SENTINEL", "get-master-addr-by-name", config.sentinel.master});
    const std::string address = reply ? master_address(reply->get()) : std::string();
    if (address.empty()) {
      errors += fmt::format("{}sentinel {}: {}", errors.empty() ? "" : "; ", node,
                            reply ? fmt::format("does not know master '{}'", config.sentinel.master) : reply.error());
      continue;
    }
    RedisConfig primary = node_config(config, address);
    auto redis = RedisSync::open(primary);
    if (!redis) {
      errors += fmt::format("{}primary {} (from sentinel {}): {}", errors.empty() ? "" : "; ", address, node,
                            redis.error());
      continue;
    }
    auto role = redis->command({"ROLE"});
    if (!role || !is_primary_role(role->get())) {
      errors += fmt::format("{}{} (from sentinel {}) is not a primary", errors.empty() ? "" : "; ", address, node);
      continue;
    }
    return primary;
  }
  return std::unexpected(fmt::format("no primary for sentinel master '{}': {}", config.sentinel.master, errors));
}

}  // namespace tollgate::persist
