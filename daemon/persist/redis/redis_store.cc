#include "persist/redis/redis_store.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <set>

#include "engine/counter_table.h"
#include "engine/policy.h"
#include "log/log_limiter.h"
#include "persist/redis/redis_cluster_target.h"
#include "persist/redis/redis_loader.h"
#include "persist/redis/redis_sentinel_target.h"
#include "persist/redis/redis_scripts.h"
#include "persist/redis/redis_sync.h"
#include "persist/state_codec.h"
#include "persist/state_restorer.h"

namespace tollgate::persist {
namespace {

// A worker may read the clock, be preempted, and charge a little later: keys
// used this many seconds before the previous collection are looked at again.
constexpr uint32_t kDirtyMarginS = 2;
constexpr size_t kBatchKeys = 256;     // counter hashes per EVAL
constexpr size_t kRedisLedgerBatch = 2048;  // ledger entries per EVAL
// Counter batches on the wire at once: more would queue in Redis behind each
// other and the last ones would pass command_timeout (a reconnect storm).
constexpr size_t kMaxBatchesInFlight = 4;
constexpr uint64_t kBaselineSweepTicks = 600;  // drop baselines of evicted keys this often
const SystemClock kRedisStoreClock;

// A Redis that is down, flapping or refusing writes is retried every tick:
// one line per cause per interval, with a count of the suppressed ones.
LogLimiter& redis_log() {
  static LogLimiter limiter;
  return limiter;
}

uint32_t seconds(Nanos t) { return static_cast<uint32_t>(t / kNanosPerSecond); }
int64_t micros(Nanos t) { return t / 1000; }

}  // namespace

RedisStore::RedisStore(RedisStoreOptions options, RuntimeState& state, std::function<Engine&()> engine)
    : options_(std::move(options)),
      keys_(options_.redis.prefix, options_.redis.kind() == RedisKind::kCluster),
      state_(state),
      engine_(std::move(engine)),
      target_(RedisTarget::make(options_.redis, options_.clock != nullptr ? *options_.clock : kRedisStoreClock,
                                connection_events())),
      pending_(static_cast<size_t>(std::max<int64_t>(1, options_.redis.buffer_max)), keys_.cluster()) {
  if (options_.clock == nullptr) options_.clock = &kRedisStoreClock;
}

RedisStore::~RedisStore() = default;

// ---------------------------------------------------------------- start-up load

std::expected<void, std::string> RedisStore::load(Nanos now) {
  std::lock_guard lock(mutex_);
  const Nanos started = options_.clock->now();
  auto opened = open_sync(keys_.runs());
  if (!opened) return std::unexpected(opened.error());
  auto run = opened->command({"INCR", keys_.runs()});
  if (!run) return std::unexpected("INCR " + keys_.runs() + ": " + run.error());
  run_ = static_cast<uint64_t>((*run)->integer);
  StateRestorer restorer(state_, engine_(), now, StateRestorer::Overdraft::kZeroBalance);
  RedisLoader loader(*opened, keys_, restorer);
  auto contracts = loader.contracts(lot_ids_);
  if (!contracts) return std::unexpected(contracts.error());
  if (auto paid = loader.payments(); !paid) return std::unexpected(paid.error());
  auto entries = loader.ledger();
  if (!entries) return std::unexpected(entries.error());
  // What Redis has is this daemon's starting point: only later changes are deltas.
  auto loaded = [this](const Entry& e) { rebase_locked(e); };
  if (keys_.cluster()) {
    // Counters hashes spread over every primary: SCAN each.
    auto map = read_cluster_map_sync(options_.redis);
    if (!map) return std::unexpected(map.error());
    for (const std::string& primary : map->primaries) {
      auto node = RedisSync::open(node_config(options_.redis, primary));
      if (!node) return std::unexpected(node.error());
      RedisLoader node_loader(*node, keys_, restorer);
      if (auto counters = node_loader.counters(engine_(), now, loaded); !counters)
        return std::unexpected(primary + ": " + counters.error());
    }
  } else if (auto counters = loader.counters(engine_(), now, loaded); !counters) {
    return std::unexpected(counters.error());
  }
  restorer.finish();
  // The monitors' learned state is advisory: unreadable, they warm up again.
  loaded_baselines_.clear();
  baselines_error_.clear();
  if (auto read = opened->command({"HGETALL", keys_.baselines()}); !read) {
    baselines_error_ = "HGETALL " + keys_.baselines() + ": " + read.error();
  } else if ((*read)->type != REDIS_REPLY_ARRAY) {
    baselines_error_ = "HGETALL " + keys_.baselines() + ": not a hash";
  } else {
    for (size_t i = 0; i + 1 < (*read)->elements; i += 2)
      loaded_baselines_.emplace_back(reply_string((*read)->element[i]), reply_string((*read)->element[i + 1]));
    for (const auto& [contract, entry] : loaded_baselines_) baseline_fields_.insert(contract);
  }
  dirty_since_s_ = seconds(now);
  ledger_acked_ = state_.ledger().last_seq();  // everything loaded is in Redis
  const RestoreStats& s = restorer.stats();
  std::lock_guard status_lock(status_mutex_);
  counters_.load_ms = static_cast<uint64_t>((options_.clock->now() - started) / kNanosPerMilli);
  counters_.load_keys = s.keys_restored;
  counters_.load_keys_skipped = s.keys_skipped;
  counters_.load_ledger_entries = s.ledger_entries;
  counters_.load_errors = s.errors;
  counters_.redis_connected = 1;
  spdlog::info(
      "storage: loaded from Redis at {} (prefix '{}', run {}) in {} ms: {} contracts with lots or overrides, {} keys "
      "({} no longer configured, {} limits skipped), {} of {} ledger entries, {} errors",
      target_->describe(), keys_.prefix(), run_, counters_.load_ms, *contracts, s.keys_restored,
      s.keys_skipped, s.limits_skipped, s.ledger_entries, *entries, s.errors);
  return {};
}

// ---------------------------------------------------------------- connection

void RedisStore::start(uv_loop_t* loop) {
  loop_ = loop;
  uv_timer_init(loop_, &tick_timer_);
  tick_timer_.data = this;
  uv_async_init(loop_, &admin_async_, [](uv_async_t* a) { static_cast<RedisStore*>(a->data)->run_admin_calls(); });
  admin_async_.data = this;
  loop_thread_ = std::this_thread::get_id();
  handles_open_ = true;
  const auto every = static_cast<uint64_t>(std::max<int64_t>(1, options_.checkpoint_ms));
  uv_timer_start(
      &tick_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<RedisStore*>(t->data);
        self->tick(self->options_.clock->now());
      },
      every, every);
  target_->start(loop_);
}

std::expected<RedisSync, std::string> RedisStore::open_sync(std::string_view key) const {
  switch (options_.redis.kind()) {
    case RedisKind::kStandalone:
      break;
    case RedisKind::kSentinel: {
      auto primary = discover_primary_sync(options_.redis);
      if (!primary) return std::unexpected(primary.error());
      return RedisSync::open(*primary);
    }
    case RedisKind::kCluster: {
      auto map = read_cluster_map_sync(options_.redis);
      if (!map) return std::unexpected(map.error());
      return RedisSync::open(node_config(options_.redis, map->owner[static_cast<size_t>(key_slot(key))]));
    }
  }
  return RedisSync::open(options_.redis);
}

RedisTarget::Events RedisStore::connection_events() {
  RedisTarget::Events events;
  events.ready = [this](bool reconnected) { on_ready(reconnected); };
  events.lost = [this](const std::string& why, bool was_ready) { on_lost(why, was_ready); };
  events.connect_failed = [this](const std::string& why) {
    {
      std::lock_guard lock(status_mutex_);
      ++counters_.redis_connect_failures;
      counters_.last_error = why;
    }
    redis_log().warn("connect", "storage: cannot connect to Redis at {}: {}; retrying",
                     target_->describe(), why);
  };
  events.refused = [this](std::string_view command, const std::string& error) {
    if (command == "AUTH") {
      spdlog::error("storage: Redis refused AUTH: {}", error);
      std::lock_guard lock(status_mutex_);
      counters_.last_error = "AUTH: " + error;
    } else {
      spdlog::error("storage: Redis at {} answered {} with: {}", target_->describe(), command, error);
    }
  };
  events.command_timeout = [this] {
    std::lock_guard lock(status_mutex_);
    ++counters_.redis_command_timeouts;
  };
  return events;
}

void RedisStore::on_ready(bool reconnected) {
  const Nanos now = options_.clock->now();
  if (reconnected) {
    std::lock_guard lock(status_mutex_);
    ++counters_.redis_reconnects;
  }
  {
    std::lock_guard lock(status_mutex_);
    counters_.redis_connected = 1;
  }
  set_available(true, now);
  send_pending(now);
}

// The connection is gone (or being dropped): deciding follows the fail:
// policies. What was in flight is re-sent once its handler has run (with
// null, as every handler runs exactly once): on a cluster the other
// primaries' replies may still come, and a batch is never in flight twice.
void RedisStore::on_lost(const std::string& why, bool was_ready) {
  {
    std::lock_guard lock(status_mutex_);
    counters_.redis_connected = 0;
    counters_.last_error = why;
  }
  const Nanos now = options_.clock->now();
  if (was_ready || !target_->ever_ready())
    redis_log().error(
        "lost connection",
        "storage: lost the connection to Redis at {} ({}); deciding by each contract's fail: policy, "
        "buffering deltas, reconnecting",
        target_->describe(), why);
  set_available(false, now);
}

void RedisStore::set_available(bool up, Nanos now) {
  if (state_.storage_available() == up) return;
  state_.set_storage_available(up);
  if (up) {
    std::lock_guard lock(status_mutex_);
    if (down_since_ != 0) counters_.redis_down_ms_total += static_cast<uint64_t>((now - down_since_) / kNanosPerMilli);
    down_since_ = 0;
    spdlog::info("storage: connected to Redis at {}; flushing buffered deltas", target_->describe());
  } else {
    std::lock_guard lock(status_mutex_);
    down_since_ = now;
  }
}

void RedisStore::send(Request request, std::string_view routing_key, const std::vector<std::string>& argv) {
  target_->send_replicated(routing_key, argv, [this, request = std::move(request)](const redisReply* reply, bool current) {
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && reply_string(reply).starts_with("NOREPLICAS")) {
      std::lock_guard lock(status_mutex_);
      ++counters_.redis_not_replicated;
    }
    on_reply(request, reply, current);
  });
}

void RedisStore::on_reply(const Request& request, const redisReply* reply, bool current) {
  const bool error = reply == nullptr || reply->type == REDIS_REPLY_ERROR;
  const std::string error_text = reply == nullptr ? "the connection to Redis was lost"
                                 : error          ? std::string(reply_string(reply))
                                                  : "";
  switch (request.kind) {
    case Request::Kind::kBatch:
      on_batch_reply(*request.batch, error ? &error_text : nullptr, reply != nullptr, current);
      break;
    case Request::Kind::kLedger:
      on_ledger_reply(request, error ? &error_text : nullptr, reply != nullptr);
      break;
    case Request::Kind::kAdmin: {
      std::lock_guard lock(calls_mutex_);
      AdminCall& call = *request.call;
      call.done = true;
      call.ok = !error;
      call.error = error_text;
      if (!error && reply->type == REDIS_REPLY_INTEGER) call.integer = reply->integer;
      if (!error && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {  // {lot id, known}
        call.integer = reply->element[0]->integer;
        call.known = reply->element[1]->integer == 1;
      }
      calls_cv_.notify_all();
      break;
    }
  }
}

void RedisStore::on_batch_reply(Batch& b, const std::string* error, bool answered, bool current) {
  const Nanos now = options_.clock->now();
  if (error != nullptr) {
    b.in_flight = false;  // re-sent as it is
    std::lock_guard lock(status_mutex_);
    ++counters_.flush_failures;
    if (answered) {
      counters_.last_error = *error;
      redis_log().error("refused batch", "storage: Redis refused a counter batch: {} (re-sent on the next tick)", *error);
    }
    return;
  }
  {
    std::lock_guard lock(status_mutex_);
    ++counters_.flushes;
    counters_.flushed_fields += b.fields;
    const auto took = static_cast<uint64_t>((now - b.sent_at) / 1000);
    counters_.flush_last_us = took;
    counters_.flush_max_us = std::max(counters_.flush_max_us, took);
  }
  batch_fields_ -= b.fields;
  batches_.remove_if([&b](const std::unique_ptr<Batch>& x) { return x.get() == &b; });
  // The next batch takes its place on the wire (if an admin mutation holds
  // the mutex, the next tick does it).
  if (current && !stopping_ && mutex_.try_lock()) {
    std::lock_guard lock(mutex_, std::adopt_lock);
    seal_batches(now, kMaxBatchesInFlight);
  }
  if (current) send_pending(now);
}

void RedisStore::on_ledger_reply(const Request& request, const std::string* error, bool answered) {
  if (ledger_in_flight_ == request.ledger_upto) ledger_in_flight_ = 0;
  std::lock_guard lock(status_mutex_);
  if (error != nullptr) {
    ++counters_.flush_failures;
    if (answered) {
      counters_.last_error = *error;
      redis_log().error("refused ledger", "storage: Redis refused ledger entries: {} (re-sent on the next tick)", *error);
    }
    return;
  }
  ledger_acked_ = std::max(ledger_acked_, request.ledger_upto);
  ++counters_.flushes;
  counters_.flushed_ledger_entries += request.ledger_entries;
}

// ---------------------------------------------------------------- write-behind

void RedisStore::tick(Nanos now) {
  if (stopping_) return;
  target_->check_timeouts(now);
  if (mutex_.try_lock()) {  // held by an admin mutation waiting for this loop: collect next tick
    std::lock_guard lock(mutex_, std::adopt_lock);
    for (ContractState* st : state_.all())
      if (Account* account = st->account()) {
        (void)account->expire_due(now);  // due lots expire even when no call comes
        state_.ledger().flush_debits(*account, st->key(), now);
      }
    collect_counters_locked(now);
    if (target_->ready()) seal_batches(now, kMaxBatchesInFlight);  // the rest waits in pending_, coalescing
    if (target_->ready() && ledger_in_flight_ == 0) {
      uint64_t last = 0;
      auto argv = ledger_command_locked(ledger_acked_, kRedisLedgerBatch, &last);
      if (!argv.empty()) {
        Request r;
        r.kind = Request::Kind::kLedger;
        r.ledger_upto = last;
        r.ledger_entries = (argv.size() - 5) / 3;
        ledger_in_flight_ = last;
        send(std::move(r), keys_.ledger(), argv);
      }
    }
    std::lock_guard status_lock(status_mutex_);
    ++counters_.checkpoints;
    counters_.redis_failovers = target_->failovers();
    counters_.redis_moved = target_->moved();
    counters_.redis_asked = target_->asked();
    counters_.buffered_ledger_entries =
        state_.ledger().last_seq() - std::min(ledger_acked_, state_.ledger().last_seq());
    counters_.buffered_fields = pending_.fields() + batch_fields_;
  }
  send_pending(now);
}

void RedisStore::send_pending(Nanos now) {
  if (!target_->ready()) return;
  size_t in_flight = 0;
  for (auto& b : batches_) in_flight += b->in_flight ? 1 : 0;
  for (auto& b : batches_) {
    if (in_flight >= kMaxBatchesInFlight) return;
    if (b->in_flight) continue;
    ++in_flight;
    b->in_flight = true;
    b->sent_at = now;
    Request r;
    r.kind = Request::Kind::kBatch;
    r.batch = b.get();
    send(std::move(r), b->routing_key, b->argv);
    if (!target_->ready()) return;  // the send failed and dropped the connection
  }
}

void RedisStore::collect_counters_locked(Nanos now) {
  const uint32_t start_s = seconds(now);
  bool deferred = false;
  std::vector<FieldDelta> deltas;
  std::vector<uint64_t> words;
  Engine& engine = engine_();
  engine.table().for_each([&](Entry* e) {
    if (e->last_used_s() + kDirtyMarginS < dirty_since_s_ || !worth_saving(*e, now)) return;
    const Policy& policy = *e->policy();
    words.resize(static_cast<size_t>(e->word_count()));
    for (size_t w = 0; w < words.size(); ++w) words[w] = e->words()[w].load(std::memory_order_acquire);
    auto& key_baseline = baseline_[std::string(e->key())];
    deltas.clear();
    int64_t ttl = 0;
    for (const auto& l : policy.limits) {
      const auto n = static_cast<size_t>(l->limiter.words());
      const auto off = static_cast<size_t>(l->word_offset);
      limit_deltas(l->spec.type, l->spec.name, baseline_of(key_baseline, l->spec, n),
                   std::span<const uint64_t>(words).subspan(off, n), now, deltas);
      ttl = std::max(ttl, counters_ttl_ms(l->spec));
    }
    if (deltas.empty()) return;
    if (!pending_.add(keys_.counters(e->key()), deltas, ttl, batch_fields_)) {
      // Full: the delta stays in the counters (baseline unchanged) and is taken later.
      deferred_keys_.insert(std::string(e->key()));
      deferred = true;
      std::lock_guard lock(status_mutex_);
      ++counters_.buffer_deferred;
      return;
    }
    for (const auto& l : policy.limits) {
      const auto n = static_cast<size_t>(l->limiter.words());
      const auto first = words.begin() + l->word_offset;
      baseline_of(key_baseline, l->spec, n).assign(first, first + static_cast<std::ptrdiff_t>(n));
    }
    deferred_keys_.erase(std::string(e->key()));
  });
  if (!deferred) dirty_since_s_ = start_s;
  // A deferred key evicted meanwhile took its delta with it.
  for (auto it = deferred_keys_.begin(); it != deferred_keys_.end();) {
    if (engine.table().find(*it, CounterTable::hash_key(*it)) == nullptr) {
      std::lock_guard lock(status_mutex_);
      ++counters_.buffer_dropped;
      baseline_.erase(*it);
      it = deferred_keys_.erase(it);
    } else {
      ++it;
    }
  }
  if (++ticks_ % kBaselineSweepTicks == 0) {
    for (auto it = baseline_.begin(); it != baseline_.end();) {
      if (engine.table().find(it->first, CounterTable::hash_key(it->first)) == nullptr)
        it = baseline_.erase(it);
      else
        ++it;
    }
  }
}

void RedisStore::seal_batches(Nanos now, size_t max_batches) {
  while (!pending_.empty() && batches_.size() < max_batches) {
    DeltaBuffer::Batch taken = pending_.take(kBatchKeys, micros(now));
    auto batch = std::make_unique<Batch>();
    batch->fields = taken.fields;
    batch_fields_ += taken.fields;
    batch->routing_key = taken.keys.empty() ? keys_.applied(run_) : taken.keys.front();
    batch->argv = {"EVAL", scripts::counters(), std::to_string(taken.keys.size() + 1),
                   taken.slot >= 0 ? keys_.applied(run_, taken.slot) : keys_.applied(run_)};
    for (auto& k : taken.keys) batch->argv.push_back(std::move(k));
    batch->number = next_batch_++;
    // Every batch below the oldest unconfirmed one is confirmed: never re-sent.
    const uint64_t floor = batches_.empty() ? batch->number : batches_.front()->number;
    batch->argv.push_back(std::to_string(batch->number));
    batch->argv.push_back(std::to_string(micros(now)));
    batch->argv.push_back(std::to_string(floor));
    for (auto& a : taken.args) batch->argv.push_back(std::move(a));
    batches_.push_back(std::move(batch));
  }
}

std::vector<uint64_t>& RedisStore::baseline_of(std::vector<LimitBaseline>& key_baseline, const LimitSpec& limit,
                                               size_t words) {
  for (LimitBaseline& b : key_baseline)
    if (b.name == limit.name && b.type == limit.type && b.words.size() == words) return b.words;
  key_baseline.push_back(LimitBaseline{limit.name, limit.type, std::vector<uint64_t>(words, 0)});
  return key_baseline.back().words;
}

void RedisStore::rebase_locked(const Entry& e) {
  auto& key_baseline = baseline_[std::string(e.key())];
  for (const auto& l : e.policy()->limits) {
    auto& base = baseline_of(key_baseline, l->spec, static_cast<size_t>(l->limiter.words()));
    for (size_t w = 0; w < base.size(); ++w)
      base[w] = e.words()[static_cast<size_t>(l->word_offset) + w].load(std::memory_order_acquire);
  }
}

int64_t RedisStore::lot_id(const std::string& contract, int64_t lot) const {
  if (lot < 0) return -1;
  auto it = lot_ids_.find(contract);
  if (it == lot_ids_.end() || static_cast<size_t>(lot) >= it->second.size()) return -1;
  return it->second[static_cast<size_t>(lot)];
}

std::vector<std::string> RedisStore::ledger_command_locked(uint64_t after, size_t max, uint64_t* last) {
  std::erase_if(skip_ledger_, [after](uint64_t seq) { return seq <= after; });  // confirmed: no longer needed
  std::vector<LedgerEntry> entries = state_.ledger().entries_after(after, max);
  if (entries.empty()) return {};
  std::vector<std::string> argv{"EVAL", scripts::ledger(), "2", keys_.ledger(), keys_.ledger_seq()};
  argv.reserve(5 + 3 * entries.size());
  for (LedgerEntry& e : entries) {
    *last = e.seq;
    if (skip_ledger_.contains(e.seq)) continue;  // Redis has it under another id
    argv.push_back(RedisKeys::ledger_id(run_, e.seq));
    const int64_t id = lot_id(e.contract, e.lot);
    if (e.lot >= 0 && id < 0)
      spdlog::error("storage: ledger entry {} of '{}' names lot {} which has no id in Redis", e.seq, e.contract, e.lot);
    argv.push_back(std::to_string(id));
    argv.push_back(encode_ledger_entries(std::span<const LedgerEntry>(&e, 1)));
  }
  return argv;
}

// ---------------------------------------------------------------- shutdown

std::expected<void, std::string> RedisStore::shutdown(Nanos now) {
  stopping_ = true;
  {
    std::lock_guard lock(calls_mutex_);
    for (auto& call : calls_) {
      call->done = true;
      call->error = "the daemon is stopping";
    }
    calls_.clear();
    calls_cv_.notify_all();
  }
  target_->close();
  if (handles_open_) {
    uv_timer_stop(&tick_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&admin_async_), nullptr);
    handles_open_ = false;
  }
  std::lock_guard lock(mutex_);
  for (ContractState* st : state_.all())
    if (Account* account = st->account()) state_.ledger().flush_debits(*account, st->key(), now);
  dirty_since_s_ = std::min(dirty_since_s_, seconds(now));
  collect_counters_locked(now);
  seal_batches(now, std::numeric_limits<size_t>::max());
  const uint64_t ledger_backlog = state_.ledger().last_seq() - std::min(ledger_acked_, state_.ledger().last_seq());
  auto lost = [&](const std::string& why) -> std::expected<void, std::string> {
    return std::unexpected(
        fmt::format("{}; not written: {} counter fields, {} ledger entries", why, batch_fields_,
                    state_.ledger().last_seq() - std::min(ledger_acked_, state_.ledger().last_seq())));
  };
  if (batches_.empty() && ledger_backlog == 0) return write_final_baselines();
  // One blocking connection per node written to (one in all unless on a cluster).
  std::map<std::string, RedisSync> nodes;
  std::optional<ClusterMapSync> map;
  auto node_for = [&](const std::string& key) -> std::expected<RedisSync*, std::string> {
    std::string node;
    if (keys_.cluster()) {
      if (!map) {
        auto read = read_cluster_map_sync(options_.redis);
        if (!read) return std::unexpected(read.error());
        map = std::move(*read);
      }
      node = map->owner[static_cast<size_t>(key_slot(key))];
    }
    if (auto it = nodes.find(node); it != nodes.end()) return &it->second;
    auto opened = keys_.cluster() ? RedisSync::open(node_config(options_.redis, node)) : open_sync(key);
    if (!opened) return std::unexpected(opened.error());
    return &nodes.emplace(node, std::move(*opened)).first->second;
  };
  while (!batches_.empty()) {
    auto redis = node_for(batches_.front()->routing_key);
    if (!redis) return lost(redis.error());
    auto r = (*redis)->command(batches_.front()->argv);
    if (!r) return lost("counter batch: " + r.error());
    batch_fields_ -= batches_.front()->fields;
    batches_.pop_front();
  }
  if (ledger_backlog > 0) {
    auto ledger_node = node_for(keys_.ledger());
    if (!ledger_node) return lost(ledger_node.error());
    for (;;) {
      uint64_t last = 0;
      auto argv = ledger_command_locked(ledger_acked_, kRedisLedgerBatch, &last);
      if (argv.empty()) break;
      auto r = (*ledger_node)->command(argv);
      if (!r) return lost("ledger entries: " + r.error());
      ledger_acked_ = last;
    }
  }
  return write_final_baselines();
}

std::expected<void, std::string> RedisStore::write_final_baselines() {
  if (!final_baselines_) return {};
  BaselineEntries entries = std::move(*final_baselines_);
  final_baselines_.reset();
  auto redis = open_sync(keys_.baselines());
  if (!redis) return std::unexpected("monitor baselines not written: " + redis.error());
  std::vector<std::string> gone{"HDEL", keys_.baselines()};
  std::set<std::string> now_saved;
  for (const auto& [contract, entry] : entries) now_saved.insert(contract);
  for (const std::string& field : baseline_fields_)
    if (!now_saved.contains(field)) gone.push_back(field);
  if (gone.size() > 2) {
    if (auto r = redis->command(gone); !r) return std::unexpected("monitor baselines not written: " + r.error());
  }
  baseline_fields_ = std::move(now_saved);
  if (entries.empty()) return {};
  std::vector<std::string> argv{"HSET", keys_.baselines()};
  for (auto& [contract, entry] : entries) {
    argv.push_back(std::move(contract));
    argv.push_back(std::move(entry));
  }
  if (auto r = redis->command(argv); !r) return std::unexpected("monitor baselines not written: " + r.error());
  return {};
}

// ---------------------------------------------------------------- monitor baselines

std::expected<RedisStore::BaselineEntries, std::string> RedisStore::loaded_baselines() const {
  if (!baselines_error_.empty()) return std::unexpected(baselines_error_);
  return loaded_baselines_;
}

void RedisStore::save_baselines(BaselineEntries entries, std::function<void(std::expected<void, std::string>)> done) {
  if (stopping_ || !target_->ready()) {
    done(std::unexpected("Redis is not reachable"));
    return;
  }
  constexpr size_t kBatchBytes = 1 << 20;
  struct Pending {
    size_t left = 0;
    std::string error;
    std::function<void(std::expected<void, std::string>)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  std::vector<std::vector<std::string>> batches;
  // Fields this daemon loaded or wrote that the new set no longer has (a
  // contract left without monitors) go, so they are not restored later.
  std::set<std::string> now_saved;
  for (const auto& [contract, entry] : entries) now_saved.insert(contract);
  std::vector<std::string> gone{"HDEL", keys_.baselines()};
  for (const std::string& field : baseline_fields_)
    if (!now_saved.contains(field)) gone.push_back(field);
  if (gone.size() > 2) batches.push_back(std::move(gone));
  baseline_fields_ = std::move(now_saved);
  size_t bytes = kBatchBytes;
  for (auto& [contract, entry] : entries) {
    if (bytes >= kBatchBytes) {
      batches.push_back({"HSET", keys_.baselines()});
      bytes = 0;
    }
    bytes += contract.size() + entry.size();
    batches.back().push_back(std::move(contract));
    batches.back().push_back(std::move(entry));
  }
  if (batches.empty()) {
    pending->done({});
    return;
  }
  pending->left = batches.size();
  for (const auto& argv : batches) {
    target_->send(keys_.baselines(), argv, [pending](const redisReply* reply, bool) {
      if (pending->error.empty() && (reply == nullptr || reply->type == REDIS_REPLY_ERROR))
        pending->error = reply == nullptr ? "the connection to Redis was lost" : std::string(reply_string(reply));
      if (--pending->left > 0) return;
      if (pending->error.empty()) pending->done({});
      else pending->done(std::unexpected("HSET baselines: " + pending->error));
    });
  }
}

RedisStatus RedisStore::status() const {
  std::lock_guard lock(status_mutex_);
  RedisStatus s = counters_;
  s.fail_open_allowed = state_.fail_open_allowed().load(std::memory_order_relaxed);
  s.fail_closed_denied = state_.fail_closed_denied().load(std::memory_order_relaxed);
  if (down_since_ != 0)
    s.redis_down_ms_total += static_cast<uint64_t>((options_.clock->now() - down_since_) / kNanosPerMilli);
  return s;
}

}  // namespace tollgate::persist
