// Remembers allowed CHECK replies by request ID for the dedup window, so a
// retried call returns the first answer and is charged once.
//
// Fixed memory: `capacity` slots (a power of two) allocated once, zero pages
// until touched. An ID hashes to a window of kProbe slots; a slot is claimed
// with one CAS on its key word (hash | state), so two concurrent calls with
// the same ID never both charge: the second sees "in progress". When every
// slot of the window is live, the entry closest to expiry is overwritten
// (counted as an early eviction).
// Every allowed reply marks its slot in a dirty bitmap, so the checkpoint
// persists only the records finished since the previous one (drain_dirty).
// Thread-safety: all methods are lock-free and safe from any thread, except
// that drain_dirty runs on one thread at a time. The readers
// (for_each_live, drain_dirty) run while workers write: they copy a slot and
// keep the copy only if its key word did not change meanwhile, so a record
// is visited whole or not at all (the one exception: the same ID remembered
// again in the same slot mid-copy can mix two replies of that ID); one
// finished or replaced during the call may or may not be visited.
// Memory: 56 bytes a slot (the whole hash is kept for persistence) plus one
// dirty bit.
// Clock steps: a record whose deadline lies more than two windows ahead of
// `now` was made while the clock stood later (stepped forward, then
// corrected). Its slot counts as free for other IDs (so it pins nothing);
// its own ID still replays while the record is there.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "engine/dirty_bits.h"
#include "tollgate/decision.h"
#include "tollgate/time.h"

namespace tollgate {

class DedupTable {
 public:
  static constexpr size_t kProbe = 32;

  // A remembered reply (the limit as an index into the key's policy).
  struct Stored {
    int64_t remaining = 0;
    int64_t reset_after_ms = 0;
    int64_t balance = -1;
    int32_t limit_index = -1;
  };

  enum class Lookup { kReplay, kInProgress, kClaimed };
  struct Claim {
    Lookup result;
    size_t slot = 0;  // kClaimed: pass to finish(); kReplay: the stored reply is in `stored`
    Stored stored;
  };

  DedupTable(size_t max_entries, Nanos window);
  ~DedupTable();
  // Bytes the constructor allocates for `max_entries` (saturating): config
  // validation checks it against memory before anything is allocated.
  static uint64_t memory_for(uint64_t max_entries);
  DedupTable(const DedupTable&) = delete;
  DedupTable& operator=(const DedupTable&) = delete;

  // Looks `hash` up; if absent, claims a slot for it (state pending).
  Claim begin(uint64_t hash, Nanos now);
  // What begin(hash, now) would answer, claiming nothing (PEEK): kReplay
  // (reply in `stored`), kInProgress, or kClaimed meaning "would decide
  // afresh" (`slot` unused). Thread-safe.
  Claim peek(uint64_t hash, Nanos now) const;
  // Completes a claim: remember the allowed reply, or forget a denied call.
  void finish(size_t slot, uint64_t hash, bool allowed, const Stored& reply, Nanos now);

  // A remembered reply as persisted: the ID's hash, when it is forgotten, the reply.
  struct Record {
    uint64_t hash = 0;
    Nanos expires_at = 0;
    Stored stored;
  };
  // Calls visit(record) for every remembered reply still live at `now`. Any thread.
  template <typename Visit>
  void for_each_live(Nanos now, Visit&& visit) const {
    Record r;
    for (size_t i = 0; i <= mask_; ++i)
      if (read_ready(i, now, r)) visit(r);
  }
  // Calls visit(record) for every reply remembered since the previous drain
  // and still live at `now`. One thread at a time.
  template <typename Visit>
  size_t drain_dirty(Nanos now, Visit&& visit) {
    size_t n = 0;
    Record r;
    dirty_.drain([&](uint64_t slot) {
      if (read_ready(slot, now, r)) visit(r), ++n;
    });
    return n;
  }
  // Remembers a persisted reply again (recovery, before workers run). False
  // when it has expired by `now`, its ID is already remembered, or its probe
  // window has no slot to spare. Thread-safe.
  bool restore(const Record& record, Nanos now);

  uint64_t early_evictions() const { return early_evictions_.load(std::memory_order_relaxed); }
  size_t capacity() const { return mask_ + 1; }
  Nanos window() const { return window_; }

 private:
  struct Slot {
    std::atomic<uint64_t> key;  // 0 empty; (hash & ~3) | state
    std::atomic<uint64_t> hash;  // the whole hash (the key word loses its low bits), for persistence
    std::atomic<int64_t> expires_at;
    std::atomic<int64_t> remaining;
    std::atomic<int64_t> reset_after_ms;
    std::atomic<int64_t> balance;
    std::atomic<int64_t> limit_index;
  };
  static constexpr uint64_t kPending = 1, kReady = 2;
  static uint64_t tag(uint64_t hash) { return (hash & ~uint64_t{3}) | 4; }  // never 0
  // Whether a ready record's slot may be claimed for another ID at `now`.
  bool reusable(Nanos expires_at, Nanos now) const;
  // Makes a claimed slot a ready record.
  void publish(size_t slot, uint64_t hash, const Stored& reply, Nanos expires_at);
  // Copies slot `i` when it is a ready record live at `now` (seqlock on its key).
  bool read_ready(size_t i, Nanos now, Record& out) const;

  Slot* slots_;
  size_t mask_;
  Nanos window_;
  std::atomic<uint64_t> early_evictions_{0};
  DirtyBits dirty_;
};

}  // namespace tollgate
