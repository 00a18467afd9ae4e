#include "engine/limits/sliding_window.h"

#include <algorithm>
#include <array>

namespace tollgate {

using limits_detail::floor_div;
using limits_detail::kNanosMax;
using limits_detail::kNanosMin;

namespace {

constexpr int64_t kStale = INT64_MIN;  // a slot index that cannot be represented
constexpr uint64_t kWindowCountMask = 0xFFFF'FFFF;

// Whether slice `index` lies in the n-slice window ending at slice `top`.
bool in_window(int64_t index, int64_t top, int64_t n) {
  int64_t age;
  return index != kStale && index <= top && !__builtin_sub_overflow(top, index, &age) && age < n;
}

uint64_t word_of(uint32_t window_number, int64_t count) {
  return (uint64_t{window_number} << 32) | static_cast<uint64_t>(count);
}

}  // namespace

std::expected<SlidingWindow, std::string> SlidingWindow::make(const LimitSpec& spec) {
  return make(spec.limit, spec.window, spec.sub_buckets);
}

std::expected<SlidingWindow, std::string> SlidingWindow::make(int64_t limit, Nanos window,
                                                              int32_t sub_buckets) {
  if (limit < 1 || limit > kMaxLimit) {
    return std::unexpected("sliding_window: limit must be between 1 and " +
                           std::to_string(kMaxLimit));
  }
  if (window < 1) return std::unexpected("sliding_window: window must be at least 1ns");
  int32_t n = sub_buckets == 0 ? kDefaultSubBuckets : sub_buckets;
  if (n < 1 || n > kMaxSubBuckets) {
    return std::unexpected("sliding_window: sub_buckets must be between 1 and " +
                           std::to_string(kMaxSubBuckets));
  }
  if (window % n != 0) {
    return std::unexpected("sliding_window: window must split into " + std::to_string(n) +
                           " whole-nanosecond sub-buckets");
  }
  return SlidingWindow(limit, window / n, n);
}

Nanos SlidingWindow::slice_start(int64_t index) const {
  Nanos t;
  if (__builtin_mul_overflow(index, slice_, &t)) return index < 0 ? kNanosMin : kNanosMax;
  return t;
}

SlidingWindow::Slot SlidingWindow::decode(uint64_t raw, int slot,
                                          int64_t reference_window) const {
  auto stored = static_cast<uint32_t>(raw >> 32);
  // Signed distance in windows, wrap-aware: up to 2^31 ahead or behind.
  const int64_t delta = static_cast<int32_t>(stored - static_cast<uint32_t>(reference_window));
  int64_t window_number, index;
  if (__builtin_add_overflow(reference_window, delta, &window_number) ||
      __builtin_mul_overflow(window_number, int64_t{sub_buckets_}, &index) ||
      __builtin_add_overflow(index, int64_t{slot}, &index)) {
    return {kStale, 0};
  }
  return {index, static_cast<int64_t>(raw & kWindowCountMask)};
}

uint64_t SlidingWindow::encode(int64_t index, int64_t count) const {
  return word_of(static_cast<uint32_t>(floor_div(index, sub_buckets_)), count);
}

SlidingWindow::Scan SlidingWindow::scan(const std::atomic<uint64_t>* w, int64_t reference) const {
  Scan s;
  s.max_index = reference;
  const int64_t reference_window = window_of(reference);
  for (int i = 0; i < sub_buckets_; ++i) {
    uint64_t raw = w[i].load(std::memory_order_seq_cst);
    if (i == 0 && raw == kSealed) {
      s.sealed = true;
      return s;
    }
    Slot slot = decode(raw, i, reference_window);
    if (far_ahead(slot.index, reference)) {
      // A clock step's units: counted as the reference slice's (see header).
      if (slot.count > 0) {
        s.far += slot.count;
        s.newest_used = reference;
        s.sum += slot.count;
      }
      continue;
    }
    s.max_index = std::max(s.max_index, slot.index);
    if (slot.count > 0 && in_window(slot.index, reference, sub_buckets_)) {
      s.newest_used = s.sum == 0 ? slot.index : std::max(s.newest_used, slot.index);
      s.sum += slot.count;
    }
  }
  return s;
}

SlidingWindow::Scan SlidingWindow::scan_latest(const std::atomic<uint64_t>* w,
                                               int64_t* reference) const {
  for (;;) {
    Scan s = scan(w, *reference);
    if (s.sealed || s.max_index <= *reference) return s;
    *reference = s.max_index;  // another caller's clock is ahead: count there
  }
}

SlidingWindow::Bump SlidingWindow::bump(std::atomic<uint64_t>* w, int64_t index,
                                        int64_t cost) const {
  int slot = slot_of(index);
  uint64_t raw = w[slot].load(std::memory_order_seq_cst);
  for (;;) {
    if (slot == 0 && raw == kSealed) return Bump::kSealed;
    Slot s = decode(raw, slot, window_of(index));
    // A clock step's slot: it becomes slice `index`, its count kept.
    const bool stepped = far_ahead(s.index, index);
    if (s.index > index && !stepped) return Bump::kMoved;
    int64_t base = s.index == index || stepped ? s.count : 0;
    if (base + cost > limit_) return Bump::kFull;
    if (w[slot].compare_exchange_weak(raw, encode(index, base + cost), std::memory_order_seq_cst)) {
      return Bump::kOk;
    }
  }
}

void SlidingWindow::unbump(std::atomic<uint64_t>* w, int64_t index, int64_t cost) const {
  int slot = slot_of(index);
  uint64_t raw = w[slot].load(std::memory_order_seq_cst);
  for (;;) {
    if (slot == 0 && raw == kSealed) return;
    Slot s = decode(raw, slot, window_of(index));
    if (s.index != index || s.count == 0) return;  // recycled: the units are gone already
    if (w[slot].compare_exchange_weak(raw, encode(index, s.count - std::min(s.count, cost)),
                                      std::memory_order_seq_cst)) {
      return;
    }
  }
}

bool SlidingWindow::far_ahead(int64_t index, int64_t reference) const {
  int64_t ahead;
  return index != kStale && !__builtin_sub_overflow(index, reference, &ahead) && ahead > ahead_slices_;
}

void SlidingWindow::move_far_ahead(std::atomic<uint64_t>* w, int64_t top) const {
  const int64_t reference_window = window_of(top);
  const int top_slot = slot_of(top);
  const uint64_t empty = word_of(static_cast<uint32_t>(reference_window) - 1u, 0);
  for (int i = 0; i < sub_buckets_; ++i) {
    uint64_t raw = w[i].load(std::memory_order_seq_cst);
    if (i == 0 && raw == kSealed) return;
    const Slot s = decode(raw, i, reference_window);
    if (!far_ahead(s.index, top) || s.count == 0) continue;
    if (i == top_slot) {  // the slot of `top` itself: one CAS makes it slice `top`
      w[i].compare_exchange_strong(raw, encode(top, std::min(limit_, s.count)), std::memory_order_seq_cst);
      continue;  // lost a race: the caller's next scan looks again
    }
    // Add to slice `top` first, then empty the far slot: a racing scan sees
    // the units twice (under-admits), never zero times (over-admits).
    uint64_t top_raw = w[top_slot].load(std::memory_order_seq_cst);
    int64_t added = -1;
    for (;;) {
      if (top_slot == 0 && top_raw == kSealed) return;
      const Slot t = decode(top_raw, top_slot, reference_window);
      const bool stepped = far_ahead(t.index, top);
      if (t.index > top && !stepped) break;  // the state moved on to a later slice: rescan decides
      const int64_t base = t.index == top || stepped ? t.count : 0;
      const int64_t next = std::min(limit_, base + s.count);
      if (w[top_slot].compare_exchange_weak(top_raw, encode(top, next), std::memory_order_seq_cst)) {
        added = next - base;
        break;
      }
    }
    if (added < 0) return;
    if (!w[i].compare_exchange_strong(raw, empty, std::memory_order_seq_cst)) unbump(w, top, added);
  }
}

LimitResult SlidingWindow::allowed(int64_t top, int64_t sum_after, int64_t newest_used,
                                   Nanos now) const {
  LimitResult r;
  r.allowed = true;
  r.remaining = limit_ - sum_after;
  if (sum_after > 0) {
    r.reset_after = std::max<Nanos>(0, limits_detail::saturating_sub(
                                           slice_start(newest_used + sub_buckets_), now));
  }
  r.recorded_at = top == slice_of(now) ? now : slice_start(top);
  return r;
}

LimitResult SlidingWindow::denied(const std::atomic<uint64_t>* w, int64_t top, int64_t others,
                                  int64_t cost, Nanos now) const {
  LimitResult r;
  r.remaining = std::max<int64_t>(0, limit_ - others);
  bool can_fit = cost >= 0 && cost <= limit_;
  Nanos retry_at = slice_start(top + sub_buckets_);  // everything expired
  int64_t dropped = 0, newest_used = kStale;
  bool found = false;
  // Walk the window oldest slice first: at the start of slice j+n, slice j
  // and all older ones have left the window.
  for (int64_t j = top - sub_buckets_ + 1; j <= top; ++j) {
    uint64_t raw = w[slot_of(j)].load(std::memory_order_seq_cst);
    if (raw == kSealed && slot_of(j) == 0) return LimitResult{.sealed = true};
    Slot s = decode(raw, slot_of(j), window_of(j));
    if (s.index != j || s.count == 0) continue;
    newest_used = j;
    dropped += s.count;
    if (can_fit && !found && others - dropped + cost <= limit_) {
      retry_at = slice_start(j + sub_buckets_);
      found = true;
    }
  }
  using limits_detail::saturating_sub;
  r.retry_after = can_fit ? std::max<Nanos>(1, saturating_sub(retry_at, now)) : -1;
  if (newest_used != kStale) {
    r.reset_after =
        std::max<Nanos>(0, saturating_sub(slice_start(newest_used + sub_buckets_), now));
  }
  return r;
}

bool SlidingWindow::at_rest(const std::atomic<uint64_t>* w, uint64_t word0,
                            int64_t current) const {
  const int64_t current_window = window_of(current);
  for (int i = 0; i < sub_buckets_; ++i) {
    uint64_t raw = i == 0 ? word0 : w[i].load(std::memory_order_seq_cst);
    Slot s = decode(raw, i, current_window);
    if (s.count > 0 && (s.index > current || in_window(s.index, current, sub_buckets_))) {
      return false;
    }
  }
  return true;
}

void SlidingWindow::init(std::atomic<uint64_t>* w, Nanos now) const {
  // Every slot one window back: empty, and not ahead of `now`.
  uint32_t previous = static_cast<uint32_t>(floor_div(slice_of(now), sub_buckets_)) - 1u;
  for (int i = 0; i < sub_buckets_; ++i) w[i].store(word_of(previous, 0), std::memory_order_relaxed);
}

LimitResult SlidingWindow::try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
  int64_t top = slice_of(now);
  for (;;) {
    Scan s = scan_latest(w, &top);
    if (s.sealed) return LimitResult{.sealed = true};
    if (s.far > 0) {  // a clock step's units: into the current slice, then decide
      move_far_ahead(w, top);
      continue;
    }
    if (cost < 0 || cost > limit_ || s.sum + cost > limit_) return denied(w, top, s.sum, cost, now);
    if (cost == 0) return allowed(top, s.sum, s.newest_used, now);
    Bump b = bump(w, top, cost);
    if (b == Bump::kSealed) return LimitResult{.sealed = true};
    if (b != Bump::kOk) continue;  // full or moved on: rescan decides
    // Verify after the increment: any racer that incremented before us is
    // in this sum, so of two admitted racers the later one saw the other.
    Scan v = scan(w, top);
    if (!v.sealed && v.max_index <= top && v.sum <= limit_) {
      return allowed(top, v.sum, top, now);
    }
    unbump(w, top, cost);
    if (v.sealed) return LimitResult{.sealed = true};
    if (v.max_index > top) {
      top = v.max_index;
      continue;
    }
    return denied(w, top, v.sum - cost, cost, now);
  }
}

LimitResult SlidingWindow::peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
  int64_t top = slice_of(now);
  Scan s = scan_latest(w, &top);
  if (s.sealed) return LimitResult{.sealed = true};
  if (s.far > 0) {
    // What try_charge sees once it has moved a clock step's units.
    std::array<std::atomic<uint64_t>, kMaxSubBuckets> moved;
    for (int i = 0; i < sub_buckets_; ++i) moved[i].store(w[i].load(std::memory_order_seq_cst), std::memory_order_relaxed);
    move_far_ahead(moved.data(), top);
    return peek(moved.data(), cost, now);
  }
  if (cost < 0 || cost > limit_ || s.sum + cost > limit_) return denied(w, top, s.sum, cost, now);
  LimitResult r = allowed(top, s.sum + cost, cost > 0 ? top : s.newest_used, now);
  return r;
}

void SlidingWindow::refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at,
                           Nanos /*now*/) const {
  // Slot 0 carries the seal; a sealed state takes no refunds.
  if (cost > 0 && w[0].load(std::memory_order_seq_cst) != kSealed) {
    unbump(w, slice_of(charged_at), cost);
  }
}

bool SlidingWindow::try_seal(std::atomic<uint64_t>* w, Nanos now) const {
  int64_t current = slice_of(now);
  uint64_t word0 = w[0].load(std::memory_order_seq_cst);
  if (word0 == kSealed || !at_rest(w, word0, current)) return false;
  if (!w[0].compare_exchange_strong(word0, kSealed, std::memory_order_seq_cst)) return false;
  // A charger that bumped another slot before our CAS and read slot 0 before
  // it is admitted; its bump is visible now, so check again.
  if (!at_rest(w, word0, current)) {
    w[0].store(word0, std::memory_order_seq_cst);  // nobody writes a sealed slot 0
    return false;
  }
  return true;
}

void SlidingWindow::reset(std::atomic<uint64_t>* w, Nanos now) const {
  int64_t current = slice_of(now);
  uint32_t previous = static_cast<uint32_t>(floor_div(current, sub_buckets_)) - 1u;
  for (int i = 0; i < sub_buckets_; ++i) {
    uint64_t raw = w[i].load(std::memory_order_seq_cst);
    for (;;) {
      if (i == 0 && raw == kSealed) return;
      Slot s = decode(raw, i, window_of(current));
      // Zero the count; keep recent epochs so slots never move backwards.
      bool recent = (s.index > current && !far_ahead(s.index, current)) || in_window(s.index, current, sub_buckets_);
      uint64_t fresh = recent ? encode(s.index, 0) : word_of(previous, 0);
      if (w[i].compare_exchange_weak(raw, fresh, std::memory_order_seq_cst)) break;
    }
  }
}

}  // namespace tollgate
