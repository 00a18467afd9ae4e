#include "persist/redis/redis_cluster_target.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "persist/redis/redis_sync.h"

namespace tollgate::persist {
namespace {

// A redirect: "MOVED <slot> <host:port>" / "ASK <slot> <host:port>".
struct Redirect {
  bool ask = false;
  int slot = -1;
  std::string address;
};

std::optional<Redirect> parse_redirect(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return std::nullopt;
  const std::string_view t = reply_string(r);
  Redirect out;
  std::string_view rest;
  if (t.starts_with("MOVED ")) {
    rest = t.substr(6);
  } else if (t.starts_with("ASK ")) {
    out.ask = true;
    rest = t.substr(4);
  } else {
    return std::nullopt;
  }
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  out.slot = std::atoi(std::string(rest.substr(0, space)).c_str());
  out.address = std::string(rest.substr(space + 1));
  if (out.slot < 0 || out.slot >= kClusterSlots || out.address.empty()) return std::nullopt;
  return out;
}

// The host of "host:port" (for endpoints a node reports without a host).
std::string host_of(const std::string& address) { return address.substr(0, address.rfind(':')); }

// One CLUSTER SLOTS entry's primary as "host:port" (an empty or "?" host: the
// node asked).
std::string slot_primary(const redisReply* entry, const std::string& asked) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 3) return {};
  const redisReply* primary = entry->element[2];
  if (primary->type != REDIS_REPLY_ARRAY || primary->elements < 2 || primary->element[1]->type != REDIS_REPLY_INTEGER)
    return {};
  std::string host = primary->element[0]->type == REDIS_REPLY_STRING ? std::string(reply_string(primary->element[0])) : "";
  if (host.empty() || host == "?") host = host_of(asked);
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return fmt::format("{}:{}", host, primary->element[1]->integer);
}

// Applies CLUSTER SLOTS' ranges: `assign(first, last, address)`. False when malformed.
template <typename Assign>
bool for_each_range(const redisReply* reply, const std::string& asked, Assign&& assign) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return false;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
        e->element[1]->type != REDIS_REPLY_INTEGER)
      return false;
    const long long first = e->element[0]->integer, last = e->element[1]->integer;
    const std::string address = slot_primary(e, asked);
    if (address.empty() || first < 0 || last >= kClusterSlots || first > last) return false;
    assign(static_cast<int>(first), static_cast<int>(last), address);
  }
  return true;
}

}  // namespace

struct ClusterTarget::Command {
  std::vector<std::string> argv;
  ReplyHandler handler;
  int slot = 0;
  int redirects = 0;
};

ClusterTarget::ClusterTarget(RedisConfig config, const Clock& clock, Events events)
    : RedisTarget(std::move(config), clock, std::move(events)), slots_(kClusterSlots, -1) {}

ClusterTarget::~ClusterTarget() = default;

void ClusterTarget::start(uv_loop_t* loop) {
  loop_ = loop;
  for (const std::string& seed : config_.cluster.nodes) node(seed);
}

size_t ClusterTarget::node(const std::string& address) {
  if (auto it = by_address_.find(address); it != by_address_.end()) return it->second;
  const size_t index = nodes_.size();
  auto n = std::make_unique<Node>();
  n->address = address;
  Events ev;
  ev.ready = [this](bool) {
    if (refresh_wanted_) refresh_map();
    update_ready("");
  };
  ev.lost = [this, index, address](const std::string& why, bool) {
    if (closing_) return;
    refresh_wanted_ = true;  // a replica may be promoted: read the map again
    if (is_primary(index)) {
      const bool was_ready = ready_;
      ready_ = false;
      if (events_.lost) events_.lost(fmt::format("primary {}: {}", address, why), was_ready);
    }
    refresh_map();
  };
  ev.connect_failed = [this, address](const std::string& why) {
    if (events_.connect_failed) events_.connect_failed(fmt::format("{}: {}", address, why));
  };
  ev.refused = [this](std::string_view command, const std::string& error) {
    if (events_.refused) events_.refused(command, error);
  };
  ev.command_timeout = [this] {
    if (events_.command_timeout) events_.command_timeout();
  };
  n->connection = std::make_unique<RedisConnection>(node_config(config_, address), clock_, std::move(ev));
  nodes_.push_back(std::move(n));
  by_address_.emplace(address, index);
  if (loop_ != nullptr && !closing_) nodes_[index]->connection->start(loop_);
  return index;
}

bool ClusterTarget::is_primary(size_t node_index) const {
  return std::find(primaries_.begin(), primaries_.end(), node_index) != primaries_.end();
}

std::string ClusterTarget::owner(int slot) const {
  const int32_t n = slots_[static_cast<size_t>(slot & (kClusterSlots - 1))];
  return n < 0 ? std::string() : nodes_[static_cast<size_t>(n)]->address;
}

void ClusterTarget::send(std::string_view routing_key, const std::vector<std::string>& argv, ReplyHandler on_reply) {
  const int slot = key_slot(routing_key);
  const int32_t n = slots_[static_cast<size_t>(slot)];
  if (closing_ || n < 0) {
    on_reply(nullptr, false);
    return;
  }
  auto command = std::make_shared<Command>();
  command->argv = argv;
  command->handler = std::move(on_reply);
  command->slot = slot;
  issue(command, static_cast<size_t>(n), false);
}

void ClusterTarget::issue(const std::shared_ptr<Command>& command, size_t node_index, bool asking) {
  RedisConnection& c = *nodes_[node_index]->connection;
  if (asking) c.send({"ASKING"}, [](const redisReply*, bool) {});
  c.send(command->argv, [this, command, node_index](const redisReply* reply, bool current) {
    on_reply(command, node_index, reply, current);
  });
}

// Follows MOVED (the slot has a new owner: note it, re-read the whole map)
// and ASK (this one command goes to the importing node, after ASKING).
void ClusterTarget::on_reply(const std::shared_ptr<Command>& command, size_t node_index, const redisReply* reply,
                             bool current) {
  auto redirect = parse_redirect(reply);
  if (redirect && !closing_ && current && command->redirects < kMaxRedirects) {
    ++command->redirects;
    std::string address = redirect->address;
    if (address.front() == ':') address = host_of(nodes_[node_index]->address) + address;
    const size_t target = node(address);
    if (redirect->ask) {
      ++asked_;
    } else {
      ++moved_;
      slots_[static_cast<size_t>(redirect->slot)] = static_cast<int32_t>(target);
      refresh_wanted_ = true;
      refresh_map();
    }
    issue(command, target, redirect->ask);
    return;
  }
  if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && reply_string(reply).starts_with("CLUSTERDOWN")) {
    refresh_wanted_ = true;
    refresh_map();
  }
  command->handler(reply, current);
}

// Reads CLUSTER SLOTS from a ready node (a primary first); at most one in flight.
void ClusterTarget::refresh_map() {
  if (refreshing_ || closing_) return;
  std::vector<size_t> order = primaries_;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!is_primary(i)) order.push_back(i);
  for (size_t i : order) {
    RedisConnection& c = *nodes_[i]->connection;
    if (!c.ready()) continue;
    refreshing_ = true;
    refresh_wanted_ = false;
    last_refresh_ = clock_.now();
    c.send({"CLUSTER", "SLOTS"}, [this, i](const redisReply* reply, bool) {
      refreshing_ = false;
      on_slots(i, reply);
    });
    return;
  }
  refresh_wanted_ = true;  // when a node becomes ready
}

void ClusterTarget::on_slots(size_t from, const redisReply* reply) {
  if (closing_) return;
  std::vector<int32_t> table(kClusterSlots, -1);
  std::vector<std::pair<int, std::pair<int, std::string>>> ranges;
  const bool ok = for_each_range(reply, nodes_[from]->address, [&](int first, int last, const std::string& address) {
    ranges.push_back({first, {last, address}});
  });
  if (!ok) {
    refresh_wanted_ = true;  // retried from check_timeouts
    if (reply != nullptr && events_.refused)
      events_.refused("CLUSTER SLOTS", reply->type == REDIS_REPLY_ERROR ? std::string(reply_string(reply)) : "malformed reply");
    return;
  }
  std::vector<size_t> primaries;
  for (const auto& [first, rest] : ranges) {
    const size_t n = node(rest.second);
    if (std::find(primaries.begin(), primaries.end(), n) == primaries.end()) primaries.push_back(n);
    for (int s = first; s <= rest.first; ++s) table[static_cast<size_t>(s)] = static_cast<int32_t>(n);
  }
  slots_ = std::move(table);
  primaries_ = std::move(primaries);
  ++map_reads_;
  update_ready("the slot map changed");
}

// Ready: every slot has an owner and every owner's connection is ready.
void ClusterTarget::update_ready(const std::string& why) {
  bool complete = !primaries_.empty() && std::find(slots_.begin(), slots_.end(), -1) == slots_.end();
  std::string waiting;
  for (size_t p : primaries_)
    if (!nodes_[p]->connection->ready()) {
      complete = false;
      waiting = nodes_[p]->address;
    }
  if (complete && !ready_) {
    ready_ = true;
    const bool again = ever_ready_;
    ever_ready_ = true;
    if (events_.ready) events_.ready(again);
  } else if (!complete && ready_) {
    ready_ = false;
    if (events_.lost)
      events_.lost(fmt::format("{}{}", why.empty() ? "cluster not ready" : why,
                               waiting.empty() ? std::string(" (slots without an owner)")
                                               : " (waiting for primary " + waiting + ")"),
                   true);
  }
}

void ClusterTarget::check_timeouts(Nanos now) {
  if (closing_) return;
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->connection->check_timeouts(now);
  if (!refreshing_ && (now - last_refresh_ >= kClusterMapRefresh ||
                       (refresh_wanted_ && now - last_refresh_ >= RedisConnection::kBackoffFirst)))
    refresh_map();
}

void ClusterTarget::close() {
  if (closing_) return;
  const bool was_ready = ready_;
  ready_ = false;
  closing_ = true;
  for (auto& n : nodes_) n->connection->close();
  if (events_.lost) events_.lost("shutting down", was_ready);
}

std::string ClusterTarget::describe() const {
  return fmt::format("cluster of {} primaries (seeds {})", primaries_.size(), fmt::join(config_.cluster.nodes, ","));
}

std::expected<ClusterMapSync, std::string> read_cluster_map_sync(const RedisConfig& config) {
  std::string errors;
  for (const std::string& seed : config.cluster.nodes) {
    auto redis = RedisSync::open(node_config(config, seed));
    if (!redis) {
      errors += fmt::format("{}{}: {}", errors.empty() ? "" : "; ", seed, redis.error());
      continue;
    }
    auto reply = redis->command({"CLUSTER", "SLOTS"});
    if (!reply) {
      errors += fmt::format("{}{}: CLUSTER SLOTS: {}", errors.empty() ? "" : "; ", seed, reply.error());
      continue;
    }
    ClusterMapSync map;
    map.owner.assign(kClusterSlots, "");
    const bool ok = for_each_range(reply->get(), seed, [&](int first, int last, const std::string& address) {
      if (std::find(map.primaries.begin(), map.primaries.end(), address) == map.primaries.end())
        map.primaries.push_back(address);
      for (int s = first; s <= last; ++s) map.owner[static_cast<size_t>(s)] = address;
    });
    if (!ok) {
      errors += fmt::format("{}{}: CLUSTER SLOTS: malformed reply", errors.empty() ? "" : "; ", seed);
      continue;
    }
    if (std::find(map.owner.begin(), map.owner.end(), "") != map.owner.end()) {
      errors += fmt::format("{}{}: some slots have no primary (is the cluster being set up?)", errors.empty() ? "" : "; ", seed);
      continue;
    }
    return map;
  }
  return std::unexpected("cannot read the cluster's slot map: " + errors);
}

}  // namespace tollgate::persist
