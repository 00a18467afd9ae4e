// A node's lease of one contract's global pools (fleet mode, docs/fleet.md):
// the units the workers may hand out without asking Redis. One pool per
// enforced quota limit of the contract (its units of the current calendar
// period), one per enforced token bucket (tokens of the fleet's one bucket,
// tag 0), one per enforced sliding window (units of the current slice) and
// one for the prepaid credits. The control plane's FleetLeases
// (control/fleet_leases.h) fills pools from the global pool in Redis and
// takes unused units back; the workers only take and give back.
//
// Layout of a pool's word: tag (24 bits) << 40 | units (40 bits). The tag
// names the period the units belong to (period start in minutes since the
// epoch, mod 2^24; credits have tag 0), so units leased for a period that has
// ended are never spent in the next one: a worker asks for the tag of the
// period its own quota limiter just charged, and a word with another tag has
// nothing for it.
//
// Races (workers take/give back with CAS on the word; the control plane adds
// grants and drains returns with CAS on the same word; nothing else writes it):
//  - take vs take: a CAS loop; the word never goes below 0 units, so two
//    workers can never spend the same unit.
//  - take vs add (a grant lands): both CAS; the grant is either seen or the
//    take fails and retries on the fresh word; a take that failed before the
//    grant landed is a denial the caller reports as short (under-admission,
//    never over-admission).
//  - take vs drain (an idle return or a period roll): drain takes at most the
//    units in the word at its CAS; a unit is either taken by a worker or
//    drained, never both. The control plane computes what was spent as
//    granted − drained − units left, so every unit is counted exactly once.
//  - give_back (a call that took units and was then denied by something
//    else) vs roll: give_back adds only when the tag still matches; after a
//    roll the unit stays counted as spent (conservative: the global pool
//    loses it, never gains one).
//  - local_word (fail: local, Redis away): workers take and give back with
//    CAS; the control plane only reads it and reports what rose since its
//    last report as used (control/fleet_leases.cc, local_delta). A give-back
//    after that read leaves the unit reported: the pool counts it spent
//    (under-admission, never a unit spent twice).
// The other fields are relaxed counters and hints (demand, last known global
// remaining): a stale read makes a refill earlier or later, never an overshoot.
//
// Thread-safety: every member is safe from any thread. Ownership: created and
// owned by FleetLeases, published to workers through ContractState::fleet();
// it outlives every engine (never freed while the daemon runs).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "engine/limits/limiter.h"
#include "tollgate/time.h"

namespace tollgate {

class FleetLease {
 public:
  static constexpr int kUnitBits = 40;
  static constexpr uint64_t kUnitMask = (uint64_t{1} << kUnitBits) - 1;
  static constexpr uint32_t kTagMask = (uint32_t{1} << 24) - 1;
  static constexpr size_t kCredits = 0;  // pool index of the credits; limit i is pool i + 1
  static constexpr size_t kMaxPools = kMaxLimitsPerPolicy + 1;

  struct alignas(64) Pool {
    std::atomic<uint64_t> word{0};        // tag << 40 | units on lease here
    std::atomic<uint64_t> local_word{0};  // fail: local — tag << 40 | budget units used in that period
    std::atomic<uint64_t> taken{0};       // units taken by workers (the rate the control plane observes)
    std::atomic<uint64_t> short_takes{0};  // takes refused for want of units (demand; wakes a refill)
    // Global units not on lease at the last sync (per the tag below); -1 unknown.
    std::atomic<int64_t> global_free{-1};
    // Units on lease at other nodes at the last sync (same tag): with the
    // global pool spent they may still come back (an idle return), so a
    // denial then says retry after idle_retry_ms, not at the period's end.
    std::atomic<int64_t> global_elsewhere{0};
    std::atomic<uint32_t> global_tag{0};
    bool active = false;  // set before the lease is published, never changed after
    std::string limit;    // the quota limit's name (empty for credits)
  };

  // The tag of a quota period starting at `period_start`.
  static uint32_t tag_of(Nanos period_start) {
    return static_cast<uint32_t>(period_start / (60 * kNanosPerSecond)) & kTagMask;
  }
  // The tag of a sliding window's slice at `now` (its index mod 2^24).
  static uint32_t slice_tag(Nanos now, Nanos slice_length) {
    return static_cast<uint32_t>(now / slice_length) & kTagMask;
  }
  static uint64_t pack(uint32_t tag, int64_t units) {
    return (uint64_t{tag} << kUnitBits) | (static_cast<uint64_t>(units) & kUnitMask);
  }
  static uint32_t tag_in(uint64_t word) { return static_cast<uint32_t>(word >> kUnitBits); }
  static int64_t units_in(uint64_t word) { return static_cast<int64_t>(word & kUnitMask); }

  Pool& pool(size_t i) { return pools_[i]; }
  const Pool& pool(size_t i) const { return pools_[i]; }

  // Worker side. Takes `cost` units of period `tag` iff the lease holds them.
  bool take(size_t i, uint32_t tag, int64_t cost);
  // Gives back units take() took (the call was denied later); dropped when
  // the pool has moved to another period.
  void give_back(size_t i, uint32_t tag, int64_t cost);
  // fail: local while Redis is away: takes `cost` of the per-period `budget`.
  bool take_local(size_t i, uint32_t tag, int64_t cost, int64_t budget);
  // Gives back what take_local took (a call denied later).
  void give_back_local(size_t i, uint32_t tag, int64_t cost);
  // A refused take: counts the demand and asks the control plane to refill now.
  void note_short(size_t i);

  // Control side. Adds a grant of period `tag`; a word of another tag is
  // replaced by this one (its units drained first: returns them). Returns the
  // units drained from the old period (0 normally).
  int64_t add(size_t i, uint32_t tag, int64_t units);
  // Takes back up to `max` units of period `tag` (an idle return); returns them.
  int64_t drain(size_t i, uint32_t tag, int64_t max);
  // Units on lease now for `tag` (0 when the word holds another period).
  int64_t units(size_t i, uint32_t tag) const;
  // Moves the pool to period `tag` with no units; returns the units the old
  // period still had (0 if it already was `tag`).
  int64_t roll(size_t i, uint32_t tag);

  // retry_after_ms of a denial for want of lease while the global pool still
  // has units (about one refill). Set before publication.
  int64_t short_retry_ms = 50;
  // retry_after_ms of a denial while the global pool is spent but other
  // nodes hold units on lease (about the time an idle lease takes to come
  // back). Set before publication.
  int64_t idle_retry_ms = 1000;

  // The control plane's wake-up (uv_async_send on its loop), called by a
  // worker after a refused take. Set before publication.
  void set_wake(void (*wake)(void*), void* arg) {
    wake_ = wake;
    wake_arg_ = arg;
  }

 private:
  std::array<Pool, kMaxPools> pools_{};
  void (*wake_)(void*) = nullptr;
  void* wake_arg_ = nullptr;
  std::atomic<bool> wake_pending_{false};

 public:
  // The control plane clears this once it has run the refill a wake asked for.
  void wake_done() { wake_pending_.store(false, std::memory_order_release); }
};

}  // namespace tollgate
