#include "engine/dedup_table.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

#include "engine/limits/limit_result.h"

namespace tollgate {

namespace {
size_t capacity_for(size_t max_entries) { return std::bit_ceil(std::max<size_t>(DedupTable::kProbe, max_entries)); }
}  // namespace

bool DedupTable::reusable(Nanos expires_at, Nanos now) const {
  // Past its deadline, or a deadline more than a window beyond the latest
  // one a record made now could have: a clock step's, which must not pin
  // the slot until the wrong clock's time comes round.
  return expires_at <= now || limits_detail::saturating_sub(expires_at, now) > limits_detail::saturating_add(window_, window_);
}

DedupTable::DedupTable(size_t max_entries, Nanos window) : window_(window), dirty_(capacity_for(max_entries)) {
  size_t capacity = capacity_for(max_entries);
  // calloc: zero pages are not resident until a slot is touched. An all-zero
  // Slot is a valid empty slot (atomics of integers are zero-initializable).
  slots_ = static_cast<Slot*>(std::calloc(capacity, sizeof(Slot)));
  if (slots_ == nullptr) throw std::bad_alloc();
  mask_ = capacity - 1;
}

DedupTable::~DedupTable() { std::free(slots_); }

uint64_t DedupTable::memory_for(uint64_t max_entries) {
  const uint64_t entries = std::min<uint64_t>(max_entries, uint64_t{1} << 62);
  const unsigned __int128 capacity = std::bit_ceil(std::max<uint64_t>(kProbe, entries));
  const unsigned __int128 bytes = capacity * sizeof(Slot) + capacity / 8;  // slots + dirty bits
  return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

// Scan the window: a slot holding this hash decides (replay or in progress);
// otherwise claim the first free or expired slot, or the one expiring first.
// After claiming, a second scan resolves a race with a concurrent claim of
// the same hash in another slot: the lower slot index wins.
DedupTable::Claim DedupTable::begin(uint64_t hash, Nanos now) {
  const uint64_t t = tag(hash);
  for (int attempt = 0; attempt < 4; ++attempt) {
    size_t reuse = SIZE_MAX, oldest = SIZE_MAX;
    uint64_t reuse_key = 0, oldest_key = 0;  // the key word seen there: the CAS expects exactly it
    int64_t oldest_expiry = INT64_MAX;
    for (size_t i = 0; i < kProbe; ++i) {
      size_t idx = (hash + i) & mask_;
      Slot& s = slots_[idx];
      uint64_t k = s.key.load(std::memory_order_acquire);
      if ((k & ~uint64_t{3}) == t) {
        int64_t expires = s.expires_at.load(std::memory_order_acquire);
        if ((k & 3) == kPending) return Claim{Lookup::kInProgress, 0, {}};
        if (expires > now) {
          Claim c{Lookup::kReplay, idx, {}};
          c.stored.remaining = s.remaining.load(std::memory_order_relaxed);
          c.stored.reset_after_ms = s.reset_after_ms.load(std::memory_order_relaxed);
          c.stored.balance = s.balance.load(std::memory_order_relaxed);
          c.stored.limit_index = static_cast<int32_t>(s.limit_index.load(std::memory_order_relaxed));
          // The slot was not replaced while we read it.
          if (s.key.load(std::memory_order_acquire) == k) return c;
          continue;
        }
      }
      bool free = k == 0 || ((k & 3) == kReady && reusable(s.expires_at.load(std::memory_order_relaxed), now));
      if (free && reuse == SIZE_MAX) reuse = idx, reuse_key = k;
      if ((k & 3) == kReady) {
        int64_t e = s.expires_at.load(std::memory_order_relaxed);
        if (e < oldest_expiry) oldest_expiry = e, oldest = idx, oldest_key = k;
      }
    }
    size_t target = reuse != SIZE_MAX ? reuse : oldest;
    if (target == SIZE_MAX) return Claim{Lookup::kInProgress, 0, {}};  // every slot pending: overload
    Slot& s = slots_[target];
    // Expect the key word the scan judged: if the slot changed since (say a
    // concurrent call with this very ID claimed and finished it), rescan
    // rather than overwrite a live entry and charge the call twice.
    uint64_t expected = reuse != SIZE_MAX ? reuse_key : oldest_key;
    if (!s.key.compare_exchange_strong(expected, t | kPending, std::memory_order_seq_cst)) continue;
    if (reuse == SIZE_MAX) early_evictions_.fetch_add(1, std::memory_order_relaxed);
    // Another thread may have claimed the same hash elsewhere meanwhile.
    for (size_t i = 0; i < kProbe; ++i) {
      size_t idx = (hash + i) & mask_;
      if (idx == target) continue;
      uint64_t k = slots_[idx].key.load(std::memory_order_seq_cst);
      if ((k & ~uint64_t{3}) == t && (idx < target || (k & 3) == kReady)) {
        s.key.store(0, std::memory_order_release);
        return Claim{Lookup::kInProgress, 0, {}};
      }
    }
    return Claim{Lookup::kClaimed, target, {}};
  }
  return Claim{Lookup::kInProgress, 0, {}};
}

DedupTable::Claim DedupTable::peek(uint64_t hash, Nanos now) const {
  const uint64_t t = tag(hash);
  for (int attempt = 0; attempt < 4; ++attempt) {
    bool claimable = false, moved = false;
    for (size_t i = 0; i < kProbe && !moved; ++i) {
      const Slot& s = slots_[(hash + i) & mask_];
      const uint64_t k = s.key.load(std::memory_order_acquire);
      if ((k & ~uint64_t{3}) == t) {
        if ((k & 3) == kPending) return Claim{Lookup::kInProgress, 0, {}};
        if (s.expires_at.load(std::memory_order_acquire) > now) {
          Claim c{Lookup::kReplay, 0, {}};
          c.stored.remaining = s.remaining.load(std::memory_order_relaxed);
          c.stored.reset_after_ms = s.reset_after_ms.load(std::memory_order_relaxed);
          c.stored.balance = s.balance.load(std::memory_order_relaxed);
          c.stored.limit_index = static_cast<int32_t>(s.limit_index.load(std::memory_order_relaxed));
          if (s.key.load(std::memory_order_acquire) == k) return c;
          moved = true;  // replaced while read: look again
          continue;
        }
      }
      // begin() can claim a free, reusable or (evicting early) any ready slot.
      claimable = claimable || k == 0 || (k & 3) == kReady;
    }
    if (!moved) return Claim{claimable ? Lookup::kClaimed : Lookup::kInProgress, 0, {}};
  }
  return Claim{Lookup::kInProgress, 0, {}};
}

void DedupTable::finish(size_t slot, uint64_t hash, bool allowed, const Stored& reply, Nanos now) {
  Slot& s = slots_[slot];
  if (!allowed) {
    s.key.store(0, std::memory_order_release);
    return;
  }
  publish(slot, hash, reply, now + window_);
  dirty_.mark(slot);
}

void DedupTable::publish(size_t slot, uint64_t hash, const Stored& reply, Nanos expires_at) {
  Slot& s = slots_[slot];
  s.hash.store(hash, std::memory_order_relaxed);
  s.expires_at.store(expires_at, std::memory_order_relaxed);
  s.remaining.store(reply.remaining, std::memory_order_relaxed);
  s.reset_after_ms.store(reply.reset_after_ms, std::memory_order_relaxed);
  s.balance.store(reply.balance, std::memory_order_relaxed);
  s.limit_index.store(reply.limit_index, std::memory_order_relaxed);
  s.key.store(tag(hash) | kReady, std::memory_order_release);
}

// A slot is rewritten only after its key word changed (claim CAS to pending),
// so an unchanged key word around the copy means the copy is one record. The
// one exception (the same ID re-remembered in the same slot after its record
// expired, mid-copy) can only mix two replies of that same ID.
bool DedupTable::read_ready(size_t i, Nanos now, Record& out) const {
  const Slot& s = slots_[i];
  const uint64_t k = s.key.load(std::memory_order_acquire);
  if (k == 0 || (k & 3) != kReady) return false;
  out.hash = s.hash.load(std::memory_order_relaxed);
  out.expires_at = s.expires_at.load(std::memory_order_relaxed);
  out.stored.remaining = s.remaining.load(std::memory_order_relaxed);
  out.stored.reset_after_ms = s.reset_after_ms.load(std::memory_order_relaxed);
  out.stored.balance = s.balance.load(std::memory_order_relaxed);
  out.stored.limit_index = static_cast<int32_t>(s.limit_index.load(std::memory_order_relaxed));
  std::atomic_thread_fence(std::memory_order_acquire);
  return s.key.load(std::memory_order_relaxed) == k && out.expires_at > now && tag(out.hash) == (k & ~uint64_t{3});
}

bool DedupTable::restore(const Record& record, Nanos now) {
  if (record.expires_at <= now) return false;
  Claim claim = begin(record.hash, now);
  if (claim.result != Lookup::kClaimed) return false;
  publish(claim.slot, record.hash, record.stored, record.expires_at);
  return true;
}

}  // namespace tollgate
