// Engine::take_fleet / give_back_fleet: a fleet contract's call takes its
// units from this node's lease (engine/fleet_lease.h) once every local check
// allowed it. See docs/fleet.md for the protocol and its bounds.
#include <algorithm>

#include "engine/engine.h"
#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"

namespace tollgate {

namespace {

void deny(Decision& out, Code code, std::string_view limit, int64_t retry_after_ms) {
  out = Decision{};
  out.allowed = false;
  out.code = code;
  out.limit = limit;
  out.remaining = 0;
  out.retry_after_ms = retry_after_ms;
}

}  // namespace

bool Engine::take_fleet(const Policy& p, FleetLease& lease, const CheckRequest& request, Nanos now, Decision& out,
                        Provisional& taken) {
  const int64_t cost = request.cost;
  if (cost <= 0) return true;
  taken.fleet = &lease;
  const bool redis_up = state_.storage_available();
  const int64_t budget = p.rules->fail_local_budget;
  // The pools this call needs, in a fixed order (credits, then limits by index).
  auto try_pool = [&](size_t i, uint32_t tag, Code code, std::string_view limit, Nanos period_end) -> bool {
    if (lease.take(i, tag, cost)) {
      taken.fleet_mask |= uint64_t{1} << i;
      taken.fleet_tags[i] = tag;
      return true;
    }
    if (!redis_up) {
      // Redis is away and the lease is spent: the contract's fail: policy.
      switch (p.rules->fail) {
        case FailPolicy::kLocal:
          if (budget < 0 || lease.take_local(i, tag, cost, budget)) {
            taken.fleet_local_mask |= uint64_t{1} << i;
            taken.fleet_tags[i] = tag;
            return true;
          }
          deny(out, code, limit, period_end > now ? ceil_millis(period_end - now) : -1);
          return false;
        case FailPolicy::kOpen:
        case FailPolicy::kClosed: decide_unavailable(p, out, true); return false;
      }
    }
    lease.note_short(i);
    const FleetLease::Pool& pool = lease.pool(i);
    const bool current = pool.global_tag.load(std::memory_order_acquire) == tag;
    const bool exhausted = current && pool.global_free.load(std::memory_order_acquire) < cost;
    if (exhausted && pool.global_elsewhere.load(std::memory_order_acquire) < cost)
      deny(out, code, limit, period_end > now ? ceil_millis(period_end - now) : -1);  // spent fleet-wide
    else if (exhausted)
      deny(out, code, limit, lease.idle_retry_ms);  // the last units sit on other nodes' leases
    else
      deny(out, code, limit, lease.short_retry_ms);
    return false;
  };
  if (lease.pool(FleetLease::kCredits).active && taken.reserved &&
      !try_pool(FleetLease::kCredits, 0, Code::kBalance, "balance", 0)) {
    if (out.code == Code::kBalance && p.state->account() != nullptr) out.remaining = 0;
    return false;
  }
  const size_t limits = std::min(p.enforced_count, kMaxLimitsPerPolicy);
  for (size_t l = 0; l < limits; ++l) {
    if (!(taken.mask & (uint32_t{1} << l))) continue;
    const CompiledLimit& limit = *p.limits[l];
    FleetLease::Pool& pool = lease.pool(l + 1);
    if (limit.spec.shadow) continue;
    const LimitType type = limit.spec.type;
    if (type != LimitType::kQuota && type != LimitType::kTokenBucket && type != LimitType::kSlidingWindow) continue;
    if (!pool.active || pool.limit != limit.spec.name) {
      // The published lease does not cover this limit yet: a reload changed
      // the contract's limits and the control plane has not re-leased it
      // (FleetLeases::relayout, about one refill). Denied short, as a lease
      // that ran dry, rather than decided by this node alone (which could
      // admit the whole limit once per node); with Redis away, fail: open
      // and closed decide as for any pool.
      if (!redis_up && p.rules->fail != FailPolicy::kLocal) {
        decide_unavailable(p, out, true);
        return false;
      }
      lease.note_short(l + 1);
      deny(out, type == LimitType::kQuota ? Code::kQuota : type == LimitType::kTokenBucket ? Code::kRate : Code::kWindow,
           limit.spec.name, lease.short_retry_ms);
      return false;
    }
    if (limit.spec.type == LimitType::kTokenBucket) {
      // No period: tag 0; a bucket the fleet has emptied refills one token per interval.
      const TokenBucket* bucket = limit.limiter.get<TokenBucket>();
      if (bucket == nullptr) continue;
      if (!try_pool(l + 1, 0, Code::kRate, limit.spec.name, now + bucket->emission_interval() * cost)) return false;
      continue;
    }
    if (limit.spec.type == LimitType::kSlidingWindow) {
      // Units of the current slice; the fleet's window frees room when its oldest slice leaves.
      const SlidingWindow* window = limit.limiter.get<SlidingWindow>();
      if (window == nullptr) continue;
      const Nanos slice = window->slice_length();
      if (!try_pool(l + 1, FleetLease::slice_tag(now, slice), Code::kWindow, limit.spec.name,
                    (now / slice + 1) * slice))
        return false;
      continue;
    }
    if (limit.spec.type != LimitType::kQuota) continue;
    const Quota* quota = limit.limiter.get<Quota>();
    if (quota == nullptr) continue;
    const PeriodBounds period = quota->calendar().bounds(now);
    if (!try_pool(l + 1, FleetLease::tag_of(period.start), Code::kQuota, limit.spec.name, period.end)) return false;
  }
  return true;
}

void Engine::give_back_fleet(Provisional& taken) {
  FleetLease& lease = *taken.fleet;
  for (size_t i = 0; i < FleetLease::kMaxPools; ++i) {
    if (taken.fleet_mask & (uint64_t{1} << i)) lease.give_back(i, taken.fleet_tags[i], taken.cost);
    if (taken.fleet_local_mask & (uint64_t{1} << i))
      lease.give_back_local(i, taken.fleet_tags[i], taken.cost);
  }
  taken.fleet = nullptr;
  taken.fleet_mask = 0;
  taken.fleet_local_mask = 0;
}

}  // namespace tollgate
