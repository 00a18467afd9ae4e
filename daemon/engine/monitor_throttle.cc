#include "engine/monitor_throttle.h"

#include <fmt/format.h>

#include "engine/limits/token_bucket.h"

namespace tollgate {
namespace {

// The slot's terms read consistently (see MonitorThrottles); false: empty.
bool read_slot(const MonitorThrottleSlot& slot, ThrottleTerms& t) {
  for (;;) {
    const uint64_t before = slot.seq.load(std::memory_order_acquire);
    if (before == 0) return false;
    if ((before & 1) != 0) continue;  // a writer is in the middle: its section is a few stores
    t.channel = slot.channel.load(std::memory_order_relaxed);
    t.rate = slot.rate.load(std::memory_order_relaxed);
    t.per = slot.per.load(std::memory_order_relaxed);
    t.burst = slot.burst.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.seq.load(std::memory_order_relaxed) == before) return t.rate > 0;
  }
}

// Rewrites a slot (caller holds the policy's monitor_mutex): `t`, or empty.
void write_slot(MonitorThrottleSlot& slot, const ThrottleTerms* t) {
  const uint64_t seq = slot.seq.load(std::memory_order_relaxed);
  slot.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  slot.channel.store(t != nullptr ? t->channel : ThrottleTerms::kWholeContract, std::memory_order_relaxed);
  slot.rate.store(t != nullptr ? t->rate : 0, std::memory_order_relaxed);
  slot.per.store(t != nullptr ? t->per : 0, std::memory_order_relaxed);
  slot.burst.store(t != nullptr ? t->burst : 0, std::memory_order_relaxed);
  slot.tat.store(0, std::memory_order_relaxed);  // a full bucket at any `now`
  slot.seq.store(seq + 2, std::memory_order_release);
}

// The limits[] index of a shadow counter limit named `name`, or -1.
int shadow_index(const Policy& p, std::string_view name) {
  for (size_t i = p.enforced_count; i < p.limits.size() && i < 32; ++i)
    if (p.limits[i]->spec.name == name && p.limits[i]->spec.shadow) return static_cast<int>(i);
  return -1;
}

}  // namespace

bool sync_monitor_actions(const Policy& p, const std::vector<ActiveAction>& actions, bool shadow_mode) {
  if (!p.rules) return false;
  std::lock_guard lock(p.monitor_mutex);
  uint32_t promoted = 0;
  if (!shadow_mode)
    for (const ActiveAction& a : actions)
      if (a.kind == MonitorActionKind::kEnforce)
        if (const int i = shadow_index(p, a.limit); i >= 0) promoted |= uint32_t{1} << i;
  p.promoted.store(promoted, std::memory_order_relaxed);

  const std::vector<ThrottleTerms> wanted = throttle_terms(actions, p.rules->channels, kMaxThrottles);
  MonitorThrottles* slots = p.throttles.load(std::memory_order_relaxed);
  if (slots == nullptr) {
    if (wanted.empty()) return false;
    p.throttles_owned = std::make_unique<MonitorThrottles>();
    slots = p.throttles_owned.get();
    p.throttles.store(slots, std::memory_order_release);
  }
  std::vector<bool> placed(wanted.size(), false);
  for (MonitorThrottleSlot& slot : slots->slots) {  // keep what is still wanted, empty the rest
    ThrottleTerms t;
    if (!read_slot(slot, t)) continue;
    bool keep = false;
    for (size_t i = 0; i < wanted.size() && !keep; ++i)
      if (!placed[i] && wanted[i] == t) keep = placed[i] = true;
    if (!keep) write_slot(slot, nullptr);
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (placed[i]) continue;
    for (MonitorThrottleSlot& slot : slots->slots) {
      ThrottleTerms t;
      if (read_slot(slot, t)) continue;
      write_slot(slot, &wanted[i]);
      break;
    }
  }
  return !wanted.empty();
}

bool throttled_by_monitor(const Policy& p, int channel, Nanos now, bool charge, Decision& out) {
  MonitorThrottles* slots = p.throttles.load(std::memory_order_acquire);
  if (slots == nullptr) return false;
  std::array<std::pair<size_t, Nanos>, kMaxThrottles> charged;  // slot, recorded_at
  size_t charged_count = 0;
  for (size_t s = 0; s < slots->slots.size(); ++s) {
    MonitorThrottleSlot& slot = slots->slots[s];
    ThrottleTerms t;
    if (!read_slot(slot, t)) continue;
    if (t.channel != ThrottleTerms::kWholeContract && t.channel != channel) continue;
    auto bucket = TokenBucket::make(t.rate, t.per, t.burst);
    if (!bucket) continue;  // the config loader and ContractAdmin refuse such terms
    const LimitResult r = charge ? bucket->try_charge(&slot.tat, 1, now) : bucket->peek(&slot.tat, 1, now);
    if (r.allowed) {
      if (charge) charged[charged_count++] = {s, r.recorded_at};
      continue;
    }
    for (size_t i = 0; i < charged_count; ++i) {  // a denied call takes nothing from the others
      const MonitorThrottleSlot& back = slots->slots[charged[i].first];
      ThrottleTerms bt;
      if (!read_slot(back, bt)) continue;
      if (auto b = TokenBucket::make(bt.rate, bt.per, bt.burst))
        b->refund(&slots->slots[charged[i].first].tat, 1, charged[i].second, now);
    }
    out = Decision{};
    out.allowed = false;
    out.code = Code::kRate;
    out.limit = kMonitorLimit;
    out.remaining = 0;
    out.retry_after_ms = r.retry_after < 0 ? -1 : ceil_millis(r.retry_after);
    out.reset_after_ms = ceil_millis(r.reset_after);
    return true;
  }
  return false;
}

std::string action_problem(const Policy& p, const ActiveAction& a) {
  if (!p.rules) return {};
  if (a.kind == MonitorActionKind::kEnforce) {
    if (shadow_index(p, a.limit) >= 0) return {};
    for (const auto& l : p.limits)
      if (l->spec.name == a.limit) return fmt::format("limit '{}' is no longer a shadow limit", a.limit);
    return fmt::format("limit '{}' is no longer configured", a.limit);
  }
  if ((a.kind == MonitorActionKind::kThrottle || a.kind == MonitorActionKind::kBlockChannel) && !a.channel.empty()) {
    for (const std::string& c : p.rules->channels)
      if (c == a.channel) return {};
    return fmt::format("channel '{}' is no longer configured", a.channel);
  }
  return {};
}

std::string action_refusal(const Policy& p, const ActiveAction& a) {
  if (std::string problem = action_problem(p, a); !problem.empty())
    return fmt::format("{} cannot apply: {}", action_name(a.kind), problem);
  if (a.kind != MonitorActionKind::kThrottle) return {};
  if (auto bucket = TokenBucket::make(a.rate, a.per, a.burst); !bucket)
    return fmt::format("throttle cannot apply: {}", bucket.error());
  std::vector<ActiveAction> after;
  if (p.state != nullptr)
    for (const ActiveAction& o : p.state->actions())
      if (!o.same_target(a)) after.push_back(o);
  after.push_back(a);
  if (throttle_terms(after, p.rules->channels, SIZE_MAX).size() > kMaxThrottles)
    return fmt::format("throttle cannot apply: at most {} throttles at a time per contract", kMaxThrottles);
  return {};
}

}  // namespace tollgate
