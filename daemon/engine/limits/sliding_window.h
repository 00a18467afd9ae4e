// Sliding window: at most `limit` units in any `window`, counted in
// `sub_buckets` slices of window/sub_buckets ns each. State = one atomic word
// per slice slot: (window number mod 2^32) << 32 | count. Slot i holds slice
// indices ≡ i (mod n), so only the window number needs storing, which makes
// the 32-bit epoch wrap after 2^32 windows (136 years for a 1 s window)
// instead of 2^32 slices. The object is immutable and shared; the words are
// owned by the caller.
//
// Algorithm (lock-free, sequentially consistent): scan the slots, increment
// the current slice's slot with a CAS (never past `limit`, so the 32-bit count
// cannot overflow), then re-scan and roll back if the window sum exceeds
// `limit` or the state moved to a later slice. Racers can only under-admit.
//
// Guarantees (with "recorded slice" = the slice the units were counted in,
// which is the caller's own slice unless another caller's clock was ahead, in
// which case the later slice is used, as quotas keep counting against the
// later period):
//   * in every window aligned to slice boundaries (n consecutive slices) the
//     admitted units recorded there never exceed `limit`, under any
//     interleaving of threads;
//   * in an arbitrary interval of length `window` (which touches n+1 slices)
//     the admitted units are at most `limit` + the units of one slice: at
//     worst 2×limit when a whole window's limit falls into a single slice,
//     about limit×(1+1/n) for evenly spread traffic. The effective window is
//     between (n−1)/n×window and window long.
// Clock skew: a slot up to kAheadLimit ahead of the caller's clock — one
// window, or one second if that is longer — counts as "ahead": another
// thread's clock is later, and the caller's units go to the later slice.
// Clock steps: a slot farther ahead was written while the clock stood later
// (stepped forward, then corrected back). Its units are treated as the
// current slice's, with their count kept, and the next charge attempt moves
// them there (the units stay in the window, so the step creates no capacity;
// they leave it one window later, so the lockout lasts at most one window
// instead of until the wrong clock's time comes round). The 32-bit epoch is
// read wrap-aware as up to 2^31 windows ahead or behind; a slot idle for more
// than 2^31 windows (25 days for a 1 ms window, 68 years for 1 s) reads as
// ahead and is moved too: it then under-admits for one window, never
// over-admits.
// Cost: each call reads all n slots twice, so keep sub_buckets small.
//
// Not paced: try_reserve is try_charge (delay 0). Units can only be counted
// in the newest slice: a slot holding a future slice is read by every caller
// as "another clock is ahead" and moves them all into that slice, so a
// reservation there would let callers at the real time be judged against a
// window that has already dropped slices still inside their real window
// (over-admission). A WAIT call denied by a window gets its normal denial;
// one allowed by a window while a bucket delays it is counted in the slice of
// the reservation, not of its slot.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <expected>
#include <string>

#include "engine/limits/limit_result.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

class SlidingWindow {
 public:
  static constexpr int32_t kDefaultSubBuckets = 10;
  static constexpr int32_t kMaxSubBuckets = 3600;
  // The count field is 32 bits and must never equal the sealed pattern.
  static constexpr int64_t kMaxLimit = 0xFFFF'FFFE;
  // Slot 0 holds this when the state is sealed (count 2^32−1 > kMaxLimit).
  static constexpr uint64_t kSealed = ~uint64_t{0};

  // One slot's word read as data, for persistence (which must not know the
  // layout): the window number (mod 2^32) and the units of its slice, or
  // sealed (only ever slot 0: the whole state is sealed). encode_word is its
  // inverse for an unsealed word (count 0..kMaxLimit). Pure; thread-safe.
  struct SlotWord {
    bool sealed = false;
    uint32_t window = 0;  // when !sealed
    int64_t count = 0;    // when !sealed
  };
  static constexpr SlotWord decode_word(uint64_t word) {
    if (word == kSealed) return SlotWord{.sealed = true};
    return SlotWord{.window = static_cast<uint32_t>(word >> 32), .count = static_cast<int64_t>(word & 0xFFFF'FFFF)};
  }
  static constexpr uint64_t encode_word(uint32_t window, int64_t count) {
    return (uint64_t{window} << 32) | static_cast<uint64_t>(count);
  }
  // The least a slot may lie ahead of the caller before it counts as a
  // clock step's (the limit is max(window, kAheadLimit)).
  static constexpr Nanos kAheadLimit = kNanosPerSecond;

  // Validates spec.limit (1..kMaxLimit), spec.window (≥ 1 ns) and
  // spec.sub_buckets (0 = default 10, else 1..3600, dividing window exactly).
  static std::expected<SlidingWindow, std::string> make(const LimitSpec& spec);
  static std::expected<SlidingWindow, std::string> make(int64_t limit, Nanos window,
                                                        int32_t sub_buckets);

  int words() const { return sub_buckets_; }
  int64_t capacity() const { return limit_; }
  Nanos slice_length() const { return slice_; }

  // Fresh state: all slots empty. Not thread-safe (no racing user).
  void init(std::atomic<uint64_t>* w, Nanos now) const;
  // Charges `cost` iff the window has room. cost > limit (or < 0) is denied
  // with retry_after −1. Thread-safe (CAS + verify + rollback).
  [[nodiscard]] LimitResult try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const;
  // Pacing entry point shared with TokenBucket: exactly try_charge (a window
  // never reserves future slices, see above); delay is always 0. Thread-safe.
  [[nodiscard]] LimitResult try_reserve(std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                        Nanos /*max_delay*/) const {
    return try_charge(w, cost, now);
  }
  // What try_charge would answer now; changes nothing. Thread-safe.
  [[nodiscard]] LimitResult peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now) const;
  // Gives back `cost` units counted in the slice of `charged_at` (pass
  // LimitResult::recorded_at); nothing if that slice's slot was recycled.
  // `now` is unused (a refund only removes units). Thread-safe.
  void refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at, Nanos now) const;
  // Seals slot 0 iff every slot is empty or out of the window; re-checks the
  // other slots after sealing and unseals if a racing charge slipped in (that
  // charger then sees no seal and keeps its units). True iff this call
  // sealed. Thread-safe.
  [[nodiscard]] bool try_seal(std::atomic<uint64_t>* w, Nanos now) const;
  // Admin RESET: all counts to zero (slot epochs never move backwards). A
  // sealed state stays sealed. Thread-safe.
  void reset(std::atomic<uint64_t>* w, Nanos now) const;

 private:
  SlidingWindow(int64_t limit, Nanos slice, int32_t sub_buckets)
      : limit_(limit),
        slice_(slice),
        sub_buckets_(sub_buckets),
        ahead_slices_(std::max<int64_t>(sub_buckets, (kAheadLimit + slice - 1) / slice)) {}

  struct Slot {
    int64_t index;  // absolute slice index (kStale if unrepresentable)
    int64_t count;
  };
  struct Scan {
    bool sealed = false;
    int64_t max_index = 0;   // newest slot index seen
    int64_t sum = 0;         // units in the window ending at the reference slice
    int64_t newest_used = 0; // newest slice in that window with units (valid if sum > 0)
    int64_t far = 0;         // units in slots a clock step left far ahead (counted in sum, at the reference)
  };
  enum class Bump { kOk, kFull, kMoved, kSealed };

  int64_t slice_of(Nanos t) const { return limits_detail::floor_div(t, slice_); }
  Nanos slice_start(int64_t index) const;
  int slot_of(int64_t index) const {
    return static_cast<int>(limits_detail::floor_mod(index, sub_buckets_));
  }
  int64_t window_of(int64_t index) const { return limits_detail::floor_div(index, sub_buckets_); }
  // Reads a slot word; `reference_window` = window_of(the caller's slice).
  Slot decode(uint64_t raw, int slot, int64_t reference_window) const;
  uint64_t encode(int64_t index, int64_t count) const;

  Scan scan(const std::atomic<uint64_t>* w, int64_t reference) const;
  // Scans with the reference moved forward to the newest slice in the state.
  Scan scan_latest(const std::atomic<uint64_t>* w, int64_t* reference) const;
  Bump bump(std::atomic<uint64_t>* w, int64_t index, int64_t cost) const;
  // Whether slice `index` lies farther ahead of `reference` than skew explains.
  bool far_ahead(int64_t index, int64_t reference) const;
  // Moves the units of every far-ahead slot into slice `top` (saturating at
  // the limit), each exactly once under races (a racing mover may count them
  // twice for an instant: under-admission only).
  void move_far_ahead(std::atomic<uint64_t>* w, int64_t top) const;
  void unbump(std::atomic<uint64_t>* w, int64_t index, int64_t cost) const;
  bool at_rest(const std::atomic<uint64_t>* w, uint64_t word0, int64_t current) const;
  LimitResult denied(const std::atomic<uint64_t>* w, int64_t top, int64_t others, int64_t cost,
                     Nanos now) const;
  LimitResult allowed(int64_t top, int64_t sum_after, int64_t newest_used, Nanos now) const;

  int64_t limit_;
  Nanos slice_;
  int32_t sub_buckets_;
  int64_t ahead_slices_;  // max(window, kAheadLimit) in slices
};

}  // namespace tollgate
