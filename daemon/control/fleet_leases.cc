#include "control/fleet_leases.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <unordered_map>

#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"
#include "persist/redis/fleet_scripts.h"
#include "persist/redis/redis_sync.h"
#include "persist/state_codec.h"

namespace tollgate {

namespace {

constexpr size_t kLatencyRing = 1024;
// A pool with no takes for this long gives its lease back (at least 20 refills).
constexpr Nanos kIdleReturn = kNanosPerSecond;
// How often the monitors' counts go to Redis and come back (the monitors tick each second).
constexpr Nanos kCountsEvery = 250 * kNanosPerMilli;

int64_t to_i64(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  return out;
}

int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

FleetLeases::FleetLeases(FleetOptions options, RuntimeState& state)
    : options_(std::move(options)),
      state_(state),
      clock_(*options_.clock),
      keys_(options_.redis.prefix, options_.redis.kind() == RedisKind::kCluster),
      redis_(options_.redis, *options_.clock,
             persist::RedisConnection::Events{
                 .ready =
                     [this](bool) {
                       {
                         std::lock_guard lock(mutex_);
                         counters_.connected = true;
                         counters_.partition_since = 0;
                       }
                       load_scripts();
                     },
                 .lost =
                     [this](const std::string& why, bool was_ready) {
                       std::lock_guard lock(mutex_);
                       if (was_ready) spdlog::warn("fleet: lost Redis ({}); deciding from the leases held", why);
                       counters_.connected = false;
                       if (counters_.partition_since == 0) counters_.partition_since = clock_.now();
                     },
                 .connect_failed = {},
                 .refused = {},
                 .command_timeout = {}}) {
  std::random_device rd;
  run_ = fmt::format("{:08x}{:08x}", rd(), rd());
}

FleetLeases::~FleetLeases() = default;

// The pools a contract's policy needs (attach's layout): credits at index
// 0 when it is priced, then its enforced quota, token-bucket and
// sliding-window limits at their limit index + 1.
std::array<FleetLeases::PoolTrack, FleetLease::kMaxPools> FleetLeases::pools_of(const Policy& policy) {
  std::array<PoolTrack, FleetLease::kMaxPools> pools{};
  if (policy.rules->pricing) {
    pools[FleetLease::kCredits].active = true;
    pools[FleetLease::kCredits].credits = true;
  }
  const size_t limits = std::min(policy.enforced_count, kMaxLimitsPerPolicy);
  for (size_t l = 0; l < limits; ++l) {
    const CompiledLimit& limit = *policy.limits[l];
    if (limit.spec.shadow) continue;
    const Quota* quota = limit.spec.type == LimitType::kQuota ? limit.limiter.get<Quota>() : nullptr;
    const TokenBucket* bucket =
        limit.spec.type == LimitType::kTokenBucket ? limit.limiter.get<TokenBucket>() : nullptr;
    const SlidingWindow* window =
        limit.spec.type == LimitType::kSlidingWindow ? limit.limiter.get<SlidingWindow>() : nullptr;
    if (quota == nullptr && bucket == nullptr && window == nullptr) continue;
    PoolTrack& track = pools[l + 1];
    track.active = true;
    track.limit = limit.spec.name;
    if (quota != nullptr) {
      track.cap = quota->capacity();
      track.calendar = quota->calendar();
    } else if (bucket != nullptr) {
      track.bucket = true;
      track.cap = bucket->capacity();
      track.interval = bucket->emission_interval();
    } else {
      track.window = true;
      track.cap = window->capacity();
      track.slice_length = window->slice_length();
      track.slices = window->words();
    }
  }
  return pools;
}

// The same pool in Redis: same resource (credits, or a limit of the same
// name and kind; a window of the same slicing, since its slice tags number
// the resource's fields).
bool FleetLeases::same_pool(const PoolTrack& a, const PoolTrack& b) {
  return a.active && b.active && a.credits == b.credits && a.limit == b.limit && a.bucket == b.bucket &&
         a.window == b.window && (!a.window || (a.slice_length == b.slice_length && a.slices == b.slices));
}

void FleetLeases::attach(const Engine& engine) {
  next_change_ = engine.next_change_at();
  const Nanos now = clock_.now();
  for (const auto& base : engine.contracts()) {
    // The terms in force now (a scheduled change's chain may start earlier:
    // engine/contract_schedule.h); their limits are the pools.
    const Policy* policy = &base->terms_at(now);
    if (policy->state->fleet() != nullptr) {
      // Leased already: a reload may have changed its limits. The new
      // layout is applied by the loop once no sync of the contract is on
      // its way (relayout), since a sync's answer names pools by index.
      for (auto& t : tracked_) {
        if (t->state != policy->state) continue;
        std::lock_guard lock(mutex_);
        t->pending_layout = pools_of(*policy);
        lower_caps(*t, *t->pending_layout);
      }
      continue;
    }
    auto t = std::make_unique<Tracked>();
    t->contract = base->name;
    t->pool_key = persist::fleet::pool_key(options_.redis.prefix, base->name);
    t->state = policy->state;
    t->lease = std::make_unique<FleetLease>();
    t->lease->short_retry_ms = std::max<int64_t>(1, options_.fleet.refill_ms);
    t->lease->idle_retry_ms = idle_return() / kNanosPerMilli;
    t->pools = pools_of(*policy);
    for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
      if (!t->pools[i].active) continue;
      t->lease->pool(i).active = true;
      t->lease->pool(i).limit = t->pools[i].limit;
    }
    t->lease->set_wake(&FleetLeases::wake, this);
    policy->state->set_fleet(t->lease.get());
    std::lock_guard lock(mutex_);
    tracked_.push_back(std::move(t));
  }
}

// A reload lowered a pool's limit (or a bucket's burst): every unit this node
// holds of it goes back with the next sync, and the next sync asks under the
// new cap. Done at once (before the new engine is published, mutex_ held),
// not at the relayout: at tens of thousands of calls a second a refill's
// delay is enough to spend a whole lease granted under the old cap. A grant
// already on its way was computed under the old cap: the pool's epoch moves
// on, and apply_sync_reply sends such a grant back instead of leasing it.
void FleetLeases::lower_caps(Tracked& t, const std::array<PoolTrack, FleetLease::kMaxPools>& wanted) {
  for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
    PoolTrack& p = t.pools[i];
    if (!p.active || p.credits) continue;
    for (const PoolTrack& w : wanted) {
      if (!same_pool(p, w) || w.cap >= p.cap) continue;
      if (p.tag_set) p.to_return += t.lease->drain(i, p.tag, FleetLease::kUnitMask);
      p.cap = w.cap;
      p.epoch++;
      break;
    }
  }
}

// A reload changed a leased contract's limits (loop thread, no sync of the
// contract in flight or unanswered). Same pools at the same indices: only
// their caps and periods change, and the next sync sends them (the script
// takes a quota's cap, a bucket's burst and rate, from each sync). Else a
// new lease with the new layout replaces the old one: a pool that stays
// (same_pool) moves to its new index with its accounting and the units on
// lease; a pool that went gives its units back and reports what was spent
// with the next sync (a leftover, as a period that ended); a new pool
// starts empty and is filled by that sync. Races with the workers: the old
// lease's words are drained before the new lease is published, so a unit is
// either taken from the old word before the drain (counted spent) or moved;
// a give-back into the old word after the drain is lost to the pool
// (counted spent: under-admission, never a unit twice). A worker deciding
// with a policy whose limits the published lease does not cover is denied
// short (engine/fleet_gate.cc) until this has run: never local-only.
void FleetLeases::relayout(Tracked& t) {
  std::array<PoolTrack, FleetLease::kMaxPools> wanted = std::move(*t.pending_layout);
  t.pending_layout.reset();
  std::lock_guard lock(mutex_);
  bool same = true;
  for (size_t i = 0; i < FleetLease::kMaxPools; ++i)
    if (t.pools[i].active != wanted[i].active || (wanted[i].active && !same_pool(t.pools[i], wanted[i])))
      same = false;
  // A lowered cap was drained by lower_caps at attach (same matching).
  auto take_terms = [](PoolTrack& into, const PoolTrack& from) {
    if (into.credits) return;  // credits: Σ lots (refresh_caps)
    into.cap = from.cap;
    into.calendar = from.calendar;
    into.interval = from.interval;
  };
  if (same) {
    for (size_t i = 0; i < FleetLease::kMaxPools; ++i)
      if (t.pools[i].active) take_terms(t.pools[i], wanted[i]);
    return;
  }
  FleetLease& old = *t.lease;
  auto fresh = std::make_unique<FleetLease>();
  fresh->short_retry_ms = old.short_retry_ms;
  fresh->idle_retry_ms = old.idle_retry_ms;
  std::array<PoolTrack, FleetLease::kMaxPools> next{};
  std::array<bool, FleetLease::kMaxPools> kept{};
  for (size_t j = 0; j < FleetLease::kMaxPools; ++j) {
    if (!wanted[j].active) continue;
    fresh->pool(j).active = true;
    fresh->pool(j).limit = wanted[j].limit;
    size_t i = 0;
    while (i < FleetLease::kMaxPools && (kept[i] || !same_pool(t.pools[i], wanted[j]))) ++i;
    if (i == FleetLease::kMaxPools) {
      next[j] = std::move(wanted[j]);
      continue;
    }
    kept[i] = true;
    take_terms(t.pools[i], wanted[j]);
    next[j] = t.pools[i];
    next[j].last_taken = 0;  // the new pool's counters start at 0
    next[j].last_short = 0;
    if (next[j].tag_set) {
      fresh->roll(j, next[j].tag);
      const int64_t units = old.drain(i, next[j].tag, FleetLease::kUnitMask);
      if (units > 0) fresh->add(j, next[j].tag, units);
    }
    fresh->pool(j).local_word.store(old.pool(i).local_word.load(std::memory_order_acquire),
                                    std::memory_order_release);
  }
  for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
    PoolTrack& p = t.pools[i];
    if (!p.active || kept[i] || !p.tag_set) continue;
    const int64_t left = old.drain(i, p.tag, FleetLease::kUnitMask) + p.to_return;
    const uint64_t w = old.pool(i).local_word.load(std::memory_order_acquire);
    const int64_t local = FleetLease::tag_in(w) == p.tag ? FleetLease::units_in(w) : 0;
    t.leftovers.push_back({res_name(p, p.tag), p.granted - p.returned - left - p.reported, left,
                           std::max<int64_t>(0, local - p.local_reported)});
  }
  t.pools = std::move(next);
  t.lots_seen = UINT32_MAX;  // a credits pool that is new learns its cap now
  fresh->set_wake(&FleetLeases::wake, this);
  t.state->set_fleet(fresh.get());
  retired_.push_back(std::move(t.lease));  // workers may still hold it: freed with this object
  t.lease = std::move(fresh);
  counters_.relayouts++;
  spdlog::info("fleet: contract '{}' re-leased with its reloaded limits", t.contract);
}

void FleetLeases::start(uv_loop_t* loop) {
  loop_ = loop;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  uv_async_init(loop, &wake_, &FleetLeases::on_wake);
  wake_.data = this;
  handles_open_ = true;
  redis_.start(loop);
  const auto every = static_cast<uint64_t>(std::max<int64_t>(1, options_.fleet.refill_ms));
  uv_timer_start(&timer_, &FleetLeases::on_timer, every, every);
  spdlog::info("fleet: node '{}' (run {}), lease_ttl {} ms, refill every {} ms, {} contracts leased",
               options_.fleet.node, run_, options_.fleet.lease_ttl / kNanosPerMilli, options_.fleet.refill_ms,
               tracked_.size());
}

void FleetLeases::wake(void* self) { uv_async_send(&static_cast<FleetLeases*>(self)->wake_); }

void FleetLeases::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<FleetLeases*>(timer->data);
  self->tick(self->clock_.now(), false);
}

void FleetLeases::on_wake(uv_async_t* async) {
  auto* self = static_cast<FleetLeases*>(async->data);
  if (self->halted_) return;
  self->tick(self->clock_.now(), true);
}

Nanos FleetLeases::idle_return() const {
  return std::max<Nanos>(kIdleReturn, options_.fleet.refill_ms * 20 * kNanosPerMilli);
}

std::string FleetLeases::res_name(const PoolTrack& p, uint32_t tag) const {
  if (p.credits) return "cr";
  if (p.window) return fmt::format("sw:{}:{}", p.limit, tag);
  return p.bucket ? fmt::format("tb:{}", p.limit) : fmt::format("q:{}:{}", p.limit, tag);
}

// Σ credits of every lot this node knows: the credits pool's cap (Redis keeps the max any node reported).
void FleetLeases::refresh_caps(Tracked& t) {
  if (!t.pools[FleetLease::kCredits].active) return;
  const Account* account = t.state->account();
  if (account == nullptr) return;
  const uint32_t lots = account->lot_count();
  if (lots == t.lots_seen) return;
  int64_t sum = 0;
  for (uint32_t i = 0; i < lots; ++i)
    if (auto lot = account->lot(i)) sum += lot->credits;
  t.pools[FleetLease::kCredits].cap = sum;
  t.lots_seen = lots;
}

void FleetLeases::tick(Nanos now, bool woken) {
  if (woken) {
    for (auto& t : tracked_) t->lease->wake_done();
  }
  if (change_due_ && now >= next_change_) change_due_(now);  // attaches the rebuilt engine (or retries next tick)
  redis_.check_timeouts(now);
  if (!redis_.ready()) return;
  const Nanos heartbeat_every = std::max<Nanos>(options_.fleet.refill_ms * kNanosPerMilli, options_.fleet.lease_ttl / 5);
  if (!woken && !heartbeat_in_flight_ && now - last_heartbeat_ >= heartbeat_every) {
    last_heartbeat_ = now;
    heartbeat();
  }
  if (!woken && !status_in_flight_) poll_statuses();
  if (!woken && !actions_in_flight_ && actions_ != nullptr) poll_actions();
  if (!woken && monitor_counts_ != nullptr && now - last_counts_ >= kCountsEvery) {
    last_counts_ = now;
    report_monitor_counts();
  }
  for (auto& t : tracked_) {
    if (t->in_flight) continue;
    if (t->unanswered) {
      Sent again = std::move(*t->unanswered);
      t->unanswered.reset();
      send_sync(*t, std::move(again));
      continue;
    }
    if (t->pending_layout) relayout(*t);
    if (auto sent = build_sync(*t, now, woken, false)) send_sync(*t, std::move(*sent));
  }
}

std::optional<FleetLeases::Sent> FleetLeases::build_sync(Tracked& t, Nanos now, bool woken, bool final) {
  std::lock_guard lock(mutex_);
  refresh_caps(t);
  FleetLease& lease = *t.lease;
  const double refill_s = static_cast<double>(std::max<int64_t>(1, options_.fleet.refill_ms)) / 1000.0;
  std::vector<std::string> res;  // name, kind, cap, spent, ret, want, local per resource
  std::vector<SentResource> resources;
  bool say = t.fresh || !t.leftovers.empty();
  bool short_demand = false;
  for (const auto& left : t.leftovers) {
    res.insert(res.end(), {left.res, "q", "0", std::to_string(left.spent), std::to_string(left.returned), "0",
                           std::to_string(left.local)});
    resources.push_back({0, 0, false});
  }
  // The fail: local units of period `tag` the workers took since the last
  // report. A unit given back after it was reported (a call denied later)
  // stays reported: the pool counts one unit too many, never one too few.
  auto local_delta = [&lease](size_t i, PoolTrack& p, uint32_t tag) {
    const uint64_t w = lease.pool(i).local_word.load(std::memory_order_acquire);
    const int64_t local = FleetLease::tag_in(w) == tag ? FleetLease::units_in(w) : 0;
    const int64_t delta = std::max<int64_t>(0, local - p.local_reported);
    p.local_reported += delta;
    return delta;
  };
  int64_t local_units = 0;
  t.leftovers.clear();
  for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
    PoolTrack& p = t.pools[i];
    if (!p.active) continue;
    const uint32_t tag = p.credits || p.bucket ? 0
                         : p.window         ? FleetLease::slice_tag(now, p.slice_length)
                                            : FleetLease::tag_of(p.calendar->bounds(now).start);
    if (!p.tag_set || tag != p.tag) {
      if (p.tag_set) {  // the period ended: what is left of its lease goes back, what was spent is reported
        const int64_t left = lease.roll(i, tag) + p.to_return;
        p.to_return = 0;
        const int64_t spent = p.granted - p.returned - left - p.reported;
        const int64_t local = local_delta(i, p, p.tag);
        local_units += local;
        res.insert(res.end(), {res_name(p, p.tag), "q", "0", std::to_string(spent), std::to_string(left), "0",
                               std::to_string(local)});
        resources.push_back({i, p.tag, false});
        say = true;
      } else {
        lease.roll(i, tag);
      }
      p.tag = tag;
      p.tag_set = true;
      p.granted = p.returned = p.reported = p.local_reported = 0;
      p.global_free = -1;
    }
    FleetLease::Pool& pool = lease.pool(i);
    const uint64_t taken = pool.taken.load(std::memory_order_relaxed);
    const uint64_t shorts = pool.short_takes.load(std::memory_order_relaxed);
    const auto used_now = static_cast<double>(taken - std::min(taken, p.last_taken));
    const bool shorted = shorts != p.last_short;
    if (!woken || used_now > 0) {
      // Rate: units per second over the last interval, smoothed.
      p.rate = 0.7 * p.rate + 0.3 * (used_now / refill_s);
    }
    if (used_now > 0) p.last_used = now;
    p.last_taken = taken;
    p.last_short = shorts;
    int64_t units = lease.units(i, tag);
    int64_t ret = 0;
    int64_t want = 0;
    if (final || (units > 0 && !shorted && now - p.last_used > idle_return())) {
      ret = lease.drain(i, tag, units);  // idle (or stopping): the units go back to the pool
      units -= ret;
    } else {
      const auto per_refill = static_cast<int64_t>(std::ceil(p.rate * refill_s));
      // Refill when less than two refills' worth is left, up to four: a sync
      // answered late (a loaded Redis or host) still finds units here.
      const int64_t target = std::max<int64_t>(shorted ? 1 : 0, 4 * per_refill + (shorted ? 1 : 0));
      const int64_t low_watermark = std::max<int64_t>(shorted ? 1 : 0, 2 * per_refill);
      if (units < low_watermark || (shorted && units == 0)) want = std::max<int64_t>(1, target - units);
      if (shorted) short_demand = true;
      want = std::min<int64_t>(want, int64_t{1} << 38);
    }
    ret += p.to_return;  // taken out by a relayout: returned now
    p.to_return = 0;
    const int64_t spent = p.granted - p.returned - ret - units - p.reported;
    const int64_t local = local_delta(i, p, tag);
    if (spent == 0 && ret == 0 && want == 0 && local == 0) {
      if (!t.fresh) continue;
    }
    p.reported += spent;
    p.returned += ret;
    local_units += local;
    res.insert(res.end(), {res_name(p, tag), p.credits ? "c" : (p.bucket ? "t" : (p.window ? "w" : "q")),
                           p.bucket   ? fmt::format("{}/{}", p.cap, p.interval)
                           : p.window ? fmt::format("{}/{}", p.cap, p.slices)
                                      : std::to_string(p.cap),
                           std::to_string(spent), std::to_string(ret), std::to_string(want), std::to_string(local)});
    resources.push_back({i, tag, true, p.epoch});
    say = true;
    if (ret > 0) {
      counters_.returns++;
      counters_.returned_units += static_cast<uint64_t>(ret);
    }
  }
  if (!say || resources.empty()) return std::nullopt;
  if (short_demand) counters_.short_syncs++;
  counters_.local_reconciled_units += static_cast<uint64_t>(local_units);
  Sent sent;
  sent.argv = {"EVAL",
               persist::fleet::sync(),
               "1",
               t.pool_key,
               options_.fleet.node,
               run_,
               std::to_string(++t.seq),
               t.fresh ? "1" : "0",
               std::to_string(live_nodes_),
               std::to_string(resources.size())};
  sent.argv.insert(sent.argv.end(), res.begin(), res.end());
  sent.resources = std::move(resources);
  return sent;
}

void FleetLeases::send_sync(Tracked& t, Sent sent) {
  t.in_flight = true;
  sent.sent_at = clock_.now();
  auto shared = std::make_shared<Sent>(std::move(sent));
  {
    std::lock_guard lock(mutex_);
    counters_.redis_commands++;
  }
  Tracked* tp = &t;
  t.sending = shared;
  send_script(t.pool_key, shared->argv, [this, tp, shared](const redisReply* reply, bool) {
    tp->in_flight = false;
    tp->sending.reset();
    const bool ok = reply != nullptr && reply->type == REDIS_REPLY_STRING;
    if (!ok) {
      std::lock_guard lock(mutex_);
      counters_.sync_failures++;
      if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        const std::string error(reply->str, reply->len);
        if (error.starts_with("SUPERSEDED")) counters_.superseded++;
        spdlog::error("fleet: sync of '{}' refused: {}", tp->contract, error);
      }
      tp->unanswered = std::move(*shared);  // sent again as it is (same seq: applied at most once)
      return;
    }
    apply_sync_reply(*tp, *shared, reply);
  });
}

void FleetLeases::apply_sync_reply(Tracked& t, const Sent& sent, const redisReply* reply) {
  on_sync_reply(t, reply);
  std::lock_guard lock(mutex_);
  counters_.syncs++;
  auto& ring = counters_.latencies_us;
  const int64_t us = (clock_.now() - sent.sent_at) / 1000;
  if (ring.size() < kLatencyRing) ring.push_back(us);
  else ring[counters_.latency_next++ % kLatencyRing] = us;
  // Grants go where the sync asked for them.
  const auto parts = split(std::string_view(reply->str, reply->len), ';');
  for (size_t r = 0; r < sent.resources.size() && r < parts.size(); ++r) {
    const SentResource& sr = sent.resources[r];
    if (!sr.current) continue;
    const auto f = split(parts[r], ',');
    if (f.size() < 5) continue;
    PoolTrack& p = t.pools[sr.pool];
    const int64_t grant = to_i64(f[0]);
    if (grant > 0 && p.tag == sr.tag && p.epoch != sr.epoch) {
      // Granted under a cap a reload has lowered since (lower_caps): back with the next sync.
      p.granted += grant;
      p.to_return += grant;
    } else if (grant > 0 && p.tag == sr.tag) {
      t.lease->add(sr.pool, sr.tag, grant);
      p.granted += grant;
      counters_.grants++;
      counters_.granted_units += static_cast<uint64_t>(grant);
    } else if (grant > 0) {
      // The period rolled while the grant was on its way: it goes back with the next sync.
      t.leftovers.push_back({res_name(p, sr.tag), 0, grant, 0});
    }
    p.global_free = to_i64(f[1]);
    p.global_used = to_i64(f[2]);
    p.global_leased = to_i64(f[3]);
    p.doubt = to_i64(f[4]);
    FleetLease::Pool& pool = t.lease->pool(sr.pool);
    // What Redis counts on lease here after this sync (granted, less what
    // was returned and reported spent): the rest of `leased` is elsewhere.
    const int64_t here = p.granted - p.returned - p.reported;
    pool.global_elsewhere.store(std::max<int64_t>(0, p.global_leased - here), std::memory_order_release);
    pool.global_tag.store(sr.tag, std::memory_order_release);
    pool.global_free.store(p.global_free, std::memory_order_release);
  }
}

void FleetLeases::on_sync_reply(Tracked& t, const redisReply*) { t.fresh = false; }

// The hot scripts (sync, heartbeat) are loaded once per connection and sent
// as EVALSHA; until the SHA is known, or when Redis forgot it (NOSCRIPT: a
// restarted or flushed Redis), the same call goes as EVAL.
void FleetLeases::load_scripts() {
  shas_.clear();
  for (const std::string* script : {&persist::fleet::sync(), &persist::fleet::heartbeat()}) {
    redis_.send("", {"SCRIPT", "LOAD", *script}, [this, script](const redisReply* reply, bool current) {
      if (current && reply != nullptr && reply->type == REDIS_REPLY_STRING)
        shas_[script->data()] = std::string(reply->str, reply->len);
    });
  }
}

void FleetLeases::send_script(std::string_view routing_key, const std::vector<std::string>& argv,
                              persist::RedisConnection::ReplyHandler on_reply) {
  auto sha = argv.size() > 1 && argv[0] == "EVAL" ? shas_.find(argv[1].data()) : shas_.end();
  if (sha == shas_.end()) {
    redis_.send(routing_key, argv, std::move(on_reply));
    return;
  }
  std::vector<std::string> by_sha = argv;
  by_sha[0] = "EVALSHA";
  by_sha[1] = sha->second;
  auto eval = std::make_shared<std::vector<std::string>>(argv);
  const std::string key(routing_key);
  redis_.send(routing_key, by_sha,
              [this, eval, key, on_reply = std::move(on_reply)](const redisReply* reply, bool current) mutable {
                if (reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
                    std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
                  load_scripts();
                  redis_.send(key, *eval, std::move(on_reply));  // the script text this time
                  return;
                }
                on_reply(reply, current);
              });
}

// Admin status changes (SUSPEND, RESUME, TERMINATE) made on any daemon are
// in Redis' status hash (the store's write-ahead): each refill tick reads it
// and applies what differs here, so every daemon follows within about one
// refill_ms plus a round trip (a daemon that was cut off catches up on its
// first tick back: the hash is the whole state, not a stream of changes).
void FleetLeases::poll_statuses() {
  status_in_flight_ = true;
  const std::string key = keys_.status();
  {
    std::lock_guard lock(mutex_);
    counters_.redis_commands++;
  }
  redis_.send(key, {"HGETALL", key}, [this](const redisReply* reply, bool) {
    status_in_flight_ = false;
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
      const std::string contract(reply->element[i]->str, reply->element[i]->len);
      ContractState* st = state_.find(contract);
      if (st == nullptr) continue;
      auto image = persist::decode_contract(std::string_view(reply->element[i + 1]->str, reply->element[i + 1]->len));
      if (!image) continue;
      if (st->overridden() && st->status() == image->status && st->reason() == image->reason) continue;
      st->restore_status(image->status, true, image->reason);
      std::lock_guard lock(mutex_);
      counters_.status_changes++;
      spdlog::info("fleet: contract '{}' is now {} (changed on another daemon)", contract,
                   yaml_name(image->status));
    }
  });
}

// Monitor actions in force on any daemon (P actions, the store's
// write-ahead): read each refill tick and reconciled with this daemon's by
// FleetActions, which states why a read can neither apply a change twice
// nor undo a newer local one (the version taken here, before the read).
void FleetLeases::poll_actions() {
  actions_in_flight_ = true;
  const std::string key = keys_.actions();
  {
    std::lock_guard lock(mutex_);
    counters_.redis_commands++;
  }
  const uint64_t seen = actions_->version();
  redis_.send(key, {"HGETALL", key}, [this, seen](const redisReply* reply, bool current) {
    actions_in_flight_ = false;
    if (!current || halted_ || reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return;
    std::vector<std::pair<std::string, std::string>> hash;
    hash.reserve(reply->elements / 2);
    for (size_t i = 0; i + 1 < reply->elements; i += 2)
      hash.emplace_back(std::string(reply->element[i]->str, reply->element[i]->len),
                        std::string(reply->element[i + 1]->str, reply->element[i + 1]->len));
    actions_->on_read(seen, hash, clock_.now());
  });
}

// The monitors' counts: this node's deltas added to each sampled
// contract's fleet sums, the sums read back, and for a priced contract the
// fleet's credits left read from its pool (one script per contract, its
// own slot: both keys carry the contract's hash tag).
void FleetLeases::report_monitor_counts() {
  for (FleetMonitorCounts::Report& report : monitor_counts_->take_reports()) {
    const std::string key = persist::fleet::monitor_key(options_.redis.prefix, report.contract);
    std::vector<std::string> argv{"EVAL", persist::fleet::monitor_counts(), report.priced ? "2" : "1", key};
    if (report.priced) argv.push_back(persist::fleet::pool_key(options_.redis.prefix, report.contract));
    for (const auto& [field, delta] : report.deltas) {
      argv.push_back(field);
      argv.push_back(std::to_string(delta));
    }
    {
      std::lock_guard lock(mutex_);
      counters_.redis_commands++;
    }
    auto shared = std::make_shared<FleetMonitorCounts::Report>(std::move(report));
    redis_.send(key, argv, [this, shared](const redisReply* reply, bool) {
      std::vector<std::pair<std::string, int64_t>> totals;
      // {credits left, {field, total, ...}}
      const bool answered = reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
                            reply->element[0]->type == REDIS_REPLY_INTEGER &&
                            reply->element[1]->type == REDIS_REPLY_ARRAY;
      int64_t credits_left = -1;
      if (answered) {
        credits_left = reply->element[0]->integer;
        const redisReply* hash = reply->element[1];
        for (size_t i = 0; i + 1 < hash->elements; i += 2)
          totals.emplace_back(std::string(hash->element[i]->str, hash->element[i]->len),
                              to_i64(std::string_view(hash->element[i + 1]->str, hash->element[i + 1]->len)));
      }
      monitor_counts_->on_reply(*shared, answered, totals, credits_left);
    });
    if (shared->subjects_period == 0) continue;
    // The distinct-user registers that rose here, merged into the period's union, which comes back.
    const std::string subj = persist::fleet::subjects_key(options_.redis.prefix, shared->contract,
                                                          shared->subjects_period / kNanosPerMilli);
    std::vector<std::string> words{"EVAL", persist::fleet::subject_registers(), "1", subj,
                                   std::to_string(3 * 24 * 3600)};
    for (const auto& [index, word] : shared->subject_words) {
      words.push_back(std::to_string(index));
      std::string hex;
      for (int k = 0; k < 8; ++k) hex += fmt::format("{:02x}", (word >> (8 * k)) & 0xff);
      words.push_back(std::move(hex));
    }
    {
      std::lock_guard lock(mutex_);
      counters_.redis_commands++;
    }
    redis_.send(subj, words, [this, shared](const redisReply* reply, bool) {
      const bool answered = reply != nullptr && reply->type == REDIS_REPLY_STRING;
      monitor_counts_->on_subjects_reply(*shared, answered,
                                         answered ? std::string_view(reply->str, reply->len) : std::string_view());
    });
  }
}

void FleetLeases::heartbeat() {
  heartbeat_in_flight_ = true;
  const std::string key = persist::fleet::nodes_key(options_.redis.prefix);
  {
    std::lock_guard lock(mutex_);
    counters_.redis_commands++;
    counters_.heartbeats++;
  }
  send_script(key,
              {"EVAL", persist::fleet::heartbeat(), "1", key, options_.fleet.node,
               std::to_string(options_.fleet.lease_ttl / kNanosPerMilli)},
              [this](const redisReply* reply, bool) {
                heartbeat_in_flight_ = false;
                if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return;
                live_nodes_ = std::max<int64_t>(1, reply->element[0]->integer);
                if (monitor_counts_ != nullptr && reply->elements >= 2 && reply->element[1]->type == REDIS_REPLY_STRING)
                  monitor_counts_->set_leader(std::string_view(reply->element[1]->str, reply->element[1]->len) ==
                                              options_.fleet.node);
                std::vector<std::string> dead;
                for (size_t i = 2; i < reply->elements; ++i)
                  if (reply->element[i]->type == REDIS_REPLY_STRING)
                    dead.emplace_back(reply->element[i]->str, reply->element[i]->len);
                if (!dead.empty()) reclaim_dead(dead);
              });
}

// A node silent for lease_ttl: its leases leave every contract's pool (quota
// units as spent, credits in doubt), then it leaves the live set. Every node
// that notices does it; the scripts are idempotent.
void FleetLeases::reclaim_dead(const std::vector<std::string>& dead) {
  for (const std::string& node : dead) {
    if (node == options_.fleet.node) continue;
    auto remaining = std::make_shared<size_t>(tracked_.size());
    auto moved = std::make_shared<int64_t>(0);
    for (auto& t : tracked_) {
      {
        std::lock_guard lock(mutex_);
        counters_.redis_commands++;
      }
      redis_.send(t->pool_key, {"EVAL", persist::fleet::reclaim(), "1", t->pool_key, node},
                  [this, node, remaining, moved](const redisReply* reply, bool) {
                    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) *moved += reply->integer;
                    if (--*remaining > 0) return;
                    const std::string key = persist::fleet::nodes_key(options_.redis.prefix);
                    redis_.send(key, {"EVAL", persist::fleet::forget(), "1", key, node},
                                [](const redisReply*, bool) {});
                    std::lock_guard lock(mutex_);
                    counters_.reclaimed_nodes++;
                    counters_.reclaimed_units += static_cast<uint64_t>(*moved);
                    spdlog::warn("fleet: node '{}' silent for lease_ttl: {} leased units reclaimed (quota units "
                                 "counted spent, credits in doubt)",
                                 node, *moved);
                  });
    }
  }
}

void FleetLeases::halt() {
  if (handles_open_ && !halted_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    // Workers may still wake it while they drain: it stays open (unreferenced,
    // so the loop can end) until stop(), after the workers stopped.
    uv_unref(reinterpret_cast<uv_handle_t*>(&wake_));
    halted_ = true;
  }
  redis_.close();
}

std::expected<void, std::string> FleetLeases::stop() {
  halt();
  if (handles_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    handles_open_ = false;
  }
  // The final report: every unit back, what was spent reported, with a blocking connection.
  auto sync = persist::RedisSync::open(options_.redis);
  if (!sync) return std::unexpected("fleet: leases not returned (" + sync.error() + "); they return after lease_ttl");
  std::string failed;
  const Nanos now = clock_.now();
  for (auto& t : tracked_) {
    // A sync still in flight when the loop stopped (its answer never read)
    // or unanswered goes again first, as it is: Redis applies a seq once and
    // answers a resend with the stored answer, so a grant it made is taken
    // into the lease here and returned by the final sync below, instead of
    // staying leased to this node in Redis.
    std::vector<Sent> earlier;
    if (t->sending) earlier.push_back(*t->sending);
    if (t->unanswered) earlier.push_back(std::move(*t->unanswered));
    t->sending.reset();
    t->in_flight = false;
    t->unanswered.reset();
    for (const Sent& s : earlier) {
      auto r = sync->command(s.argv);
      if (!r) failed += (failed.empty() ? "" : "; ") + t->contract + ": " + r.error();
      else if (*r && (*r)->type == REDIS_REPLY_STRING) apply_sync_reply(*t, s, r->get());
    }
    if (auto last = build_sync(*t, now, false, true)) {
      auto r = sync->command(last->argv);
      if (!r) failed += (failed.empty() ? "" : "; ") + t->contract + ": " + r.error();
    }
  }
  const std::string key = persist::fleet::nodes_key(options_.redis.prefix);
  if (failed.empty()) (void)sync->command({"EVAL", persist::fleet::forget(), "1", key, options_.fleet.node});
  if (!failed.empty()) return std::unexpected("fleet: " + failed);
  return {};
}

void FleetLeases::info(const std::function<void(std::string_view, std::string_view)>& visit) const {
  std::lock_guard lock(mutex_);
  const Counters& c = counters_;
  uint64_t decisions = 0;
  for (const auto& t : tracked_)
    for (int code = 0; code < kCodeCount; ++code) decisions += t->state->decisions(static_cast<Code>(code));
  visit("fleet_node", options_.fleet.node);
  visit("fleet_run", run_);
  visit("fleet_live_nodes", std::to_string(live_nodes_));
  visit("fleet_redis_connected", c.connected ? "1" : "0");
  visit("fleet_partition", c.connected ? "0" : "1");
  visit("fleet_partition_ms",
        std::to_string(c.partition_since == 0 ? 0 : (clock_.now() - c.partition_since) / kNanosPerMilli));
  visit("fleet_lease_ttl_ms", std::to_string(options_.fleet.lease_ttl / kNanosPerMilli));
  visit("fleet_refill_ms", std::to_string(options_.fleet.refill_ms));
  visit("fleet_contracts", std::to_string(tracked_.size()));
  visit("fleet_syncs", std::to_string(c.syncs));
  visit("fleet_sync_failures", std::to_string(c.sync_failures));
  visit("fleet_short_syncs", std::to_string(c.short_syncs));
  visit("fleet_grants", std::to_string(c.grants));
  visit("fleet_granted_units", std::to_string(c.granted_units));
  visit("fleet_returns", std::to_string(c.returns));
  visit("fleet_returned_units", std::to_string(c.returned_units));
  visit("fleet_heartbeats", std::to_string(c.heartbeats));
  visit("fleet_status_changes", std::to_string(c.status_changes));
  visit("fleet_relayouts", std::to_string(c.relayouts));
  visit("fleet_local_reconciled_units", std::to_string(c.local_reconciled_units));
  if (monitor_counts_ != nullptr) visit("fleet_monitor_leader", monitor_counts_->leader() ? "1" : "0");
  if (actions_ != nullptr) {
    const FleetActions::Counters a = actions_->counters();
    visit("fleet_action_changes", std::to_string(a.changes));
    visit("fleet_action_reads_skipped", std::to_string(a.skipped));
    visit("fleet_action_refused", std::to_string(a.refused));
  }
  visit("fleet_reclaimed_nodes", std::to_string(c.reclaimed_nodes));
  visit("fleet_reclaimed_units", std::to_string(c.reclaimed_units));
  visit("fleet_superseded", std::to_string(c.superseded));
  visit("fleet_refill_p50_us", std::to_string(percentile(c.latencies_us, 0.5)));
  visit("fleet_refill_p99_us", std::to_string(percentile(c.latencies_us, 0.99)));
  visit("fleet_redis_commands", std::to_string(c.redis_commands));
  visit("fleet_decisions", std::to_string(decisions));
  visit("fleet_commands_per_1000_decisions",
        decisions == 0 ? "0" : fmt::format("{:.2f}", 1000.0 * static_cast<double>(c.redis_commands) /
                                                          static_cast<double>(decisions)));
  int64_t on_lease = 0;
  for (const auto& t : tracked_) {
    for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
      const PoolTrack& p = t->pools[i];
      if (!p.active) continue;
      const int64_t units = t->lease->units(i, p.tag);
      on_lease += units;
      const std::string name = fmt::format("fleet_lease:{}:{}", t->contract, p.credits ? "credits" : p.limit);
      visit(name, fmt::format("units={},global_free={},global_leased={},rate={:.0f}", units, p.global_free,
                              p.global_leased, p.rate));
    }
  }
  // What this node holds is what other nodes may be refused meanwhile (the under-admission bound).
  visit("fleet_units_on_lease", std::to_string(on_lease));
}

void FleetLeases::contract_info(std::string_view contract,
                                const std::function<void(std::string_view, std::string_view)>& visit) const {
  // The global figures are read from Redis now (the admin thread may block);
  // when it cannot be reached, the figures of the latest sync are shown, marked stale.
  std::unordered_map<std::string, int64_t> pool;
  bool live = false;
  if (auto sync = persist::RedisSync::open(options_.redis)) {
    auto r = sync->command({"HGETALL", persist::fleet::pool_key(options_.redis.prefix, contract)});
    if (r && (*r)->type == REDIS_REPLY_ARRAY) {
      live = true;
      for (size_t i = 0; i + 1 < (*r)->elements; i += 2) {
        const redisReply* k = (*r)->element[i];
        const redisReply* v = (*r)->element[i + 1];
        pool[std::string(k->str, k->len)] = to_i64(std::string_view(v->str, v->len));
      }
    }
  }
  auto get = [&](const std::string& field) {
    auto it = pool.find(field);
    return it == pool.end() ? int64_t{0} : it->second;
  };
  std::lock_guard lock(mutex_);
  for (const auto& t : tracked_) {
    if (t->contract != contract) continue;
    visit("fleet.node", options_.fleet.node);
    visit("fleet.figures", live ? "live" : "stale (Redis unreachable: as of the latest sync)");
    for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
      const PoolTrack& p = t->pools[i];
      if (!p.active) continue;
      const std::string base = p.credits ? "fleet.credits" : "fleet.limit." + p.limit;
      int64_t used = p.global_used, leased = p.global_leased, doubt = p.doubt, free = p.global_free;
      if (live) {
        const std::string res = res_name(p, p.tag);
        used = get(res + "|used");
        leased = get(res + "|leased");
        doubt = p.credits ? get("cr|doubt") : 0;
        const int64_t cap = p.credits ? std::max(p.cap, get("cr|in")) : p.cap;
        // A bucket's free tokens depend on Redis' clock: the latest sync's answer.
        free = p.bucket || p.window ? p.global_free : cap - doubt - used - leased;
      }
      visit(base + ".lease", std::to_string(t->lease->units(i, p.tag)));
      visit(base + ".global_remaining", std::to_string(free < 0 && !live ? -1 : free + leased));
      visit(base + ".global_free", std::to_string(free));
      visit(base + ".global_leased", std::to_string(leased));
      visit(base + ".global_used", std::to_string(used));
      if (p.credits) visit("fleet.credits.in_doubt", std::to_string(doubt));
    }
  }
}

std::expected<int64_t, std::string> FleetLeases::resolve(std::string_view contract, bool spent) const {
  auto sync = persist::RedisSync::open(options_.redis);
  if (!sync) return std::unexpected(sync.error());
  const std::string key = persist::fleet::pool_key(options_.redis.prefix, contract);
  auto r = sync->command({"EVAL", persist::fleet::resolve(), "1", key, spent ? "spent" : "returned"});
  if (!r) return std::unexpected(r.error());
  return (*r)->integer;
}

}  // namespace tollgate
