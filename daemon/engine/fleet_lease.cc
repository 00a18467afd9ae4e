#include "engine/fleet_lease.h"

#include <algorithm>

namespace tollgate {

bool FleetLease::take(size_t i, uint32_t tag, int64_t cost) {
  Pool& p = pools_[i];
  uint64_t w = p.word.load(std::memory_order_acquire);
  for (;;) {
    if (tag_in(w) != tag || units_in(w) < cost) return false;
    if (p.word.compare_exchange_weak(w, pack(tag, units_in(w) - cost), std::memory_order_acq_rel)) {
      p.taken.fetch_add(static_cast<uint64_t>(cost), std::memory_order_relaxed);
      return true;
    }
  }
}

void FleetLease::give_back(size_t i, uint32_t tag, int64_t cost) {
  Pool& p = pools_[i];
  uint64_t w = p.word.load(std::memory_order_acquire);
  for (;;) {
    if (tag_in(w) != tag) return;  // the period moved on: the unit stays spent (and counted taken)
    if (p.word.compare_exchange_weak(w, pack(tag, units_in(w) + cost), std::memory_order_acq_rel)) {
      p.taken.fetch_sub(static_cast<uint64_t>(cost), std::memory_order_relaxed);
      return;
    }
  }
}

bool FleetLease::take_local(size_t i, uint32_t tag, int64_t cost, int64_t budget) {
  Pool& p = pools_[i];
  uint64_t w = p.local_word.load(std::memory_order_acquire);
  for (;;) {
    const int64_t used = tag_in(w) == tag ? units_in(w) : 0;
    if (used + cost > budget) return false;
    if (p.local_word.compare_exchange_weak(w, pack(tag, used + cost), std::memory_order_acq_rel)) return true;
  }
}

void FleetLease::give_back_local(size_t i, uint32_t tag, int64_t cost) {
  Pool& p = pools_[i];
  uint64_t w = p.local_word.load(std::memory_order_acquire);
  for (;;) {
    if (tag_in(w) != tag) return;
    if (p.local_word.compare_exchange_weak(w, pack(tag, std::max<int64_t>(0, units_in(w) - cost)),
                                           std::memory_order_acq_rel))
      return;
  }
}

void FleetLease::note_short(size_t i) {
  pools_[i].short_takes.fetch_add(1, std::memory_order_relaxed);
  if (wake_ != nullptr && !wake_pending_.exchange(true, std::memory_order_acq_rel)) wake_(wake_arg_);
}

int64_t FleetLease::add(size_t i, uint32_t tag, int64_t units) {
  Pool& p = pools_[i];
  uint64_t w = p.word.load(std::memory_order_acquire);
  for (;;) {
    const bool same = tag_in(w) == tag;
    const uint64_t next = pack(tag, (same ? units_in(w) : 0) + units);
    if (p.word.compare_exchange_weak(w, next, std::memory_order_acq_rel)) return same ? 0 : units_in(w);
  }
}

int64_t FleetLease::drain(size_t i, uint32_t tag, int64_t max) {
  Pool& p = pools_[i];
  uint64_t w = p.word.load(std::memory_order_acquire);
  for (;;) {
    if (tag_in(w) != tag) return 0;
    const int64_t n = std::min(max, units_in(w));
    if (n <= 0) return 0;
    if (p.word.compare_exchange_weak(w, pack(tag, units_in(w) - n), std::memory_order_acq_rel)) return n;
  }
}

int64_t FleetLease::units(size_t i, uint32_t tag) const {
  const uint64_t w = pools_[i].word.load(std::memory_order_acquire);
  return tag_in(w) == tag ? units_in(w) : 0;
}

int64_t FleetLease::roll(size_t i, uint32_t tag) {
  Pool& p = pools_[i];
  uint64_t w = p.word.load(std::memory_order_acquire);
  for (;;) {
    if (tag_in(w) == tag) return 0;
    if (p.word.compare_exchange_weak(w, pack(tag, 0), std::memory_order_acq_rel)) return units_in(w);
  }
}

}  // namespace tollgate
