// Remembers allowed CHECK replies by request ID for the dedup window, so a
// retried call returns the first answer and is charged once.
//
// Fixed memory: `capacity` slots (a power of two) allocated once, zero pages
// until touched. An ID hashes to a window of kProbe slots; a slot is claimed
// with one CAS on its key word (hash | state), so two concurrent calls with
// the same ID never both charge: the second sees "in progress". When every
// slot of the window is live, the entry closest to expiry is overwritten
// (counted as an early eviction).
// Thread-safety: all methods are lock-free and safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

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
  DedupTable(const DedupTable&) = delete;
  DedupTable& operator=(const DedupTable&) = delete;

  // Looks `hash` up; if absent, claims a slot for it (state pending).
  Claim begin(uint64_t hash, Nanos now);
  // Completes a claim: remember the allowed reply, or forget a denied call.
  void finish(size_t slot, uint64_t hash, bool allowed, const Stored& reply, Nanos now);

  uint64_t early_evictions() const { return early_evictions_.load(std::memory_order_relaxed); }
  size_t capacity() const { return mask_ + 1; }
  Nanos window() const { return window_; }

 private:
  struct Slot {
    std::atomic<uint64_t> key;  // 0 empty; (hash & ~3) | state
    std::atomic<int64_t> expires_at;
    std::atomic<int64_t> remaining;
    std::atomic<int64_t> reset_after_ms;
    std::atomic<int64_t> balance;
    std::atomic<int64_t> limit_index;
  };
  static constexpr uint64_t kPending = 1, kReady = 2;
  static uint64_t tag(uint64_t hash) { return (hash & ~uint64_t{3}) | 4; }  // never 0

  Slot* slots_;
  size_t mask_;
  Nanos window_;
  std::atomic<uint64_t> early_evictions_{0};
};

}  // namespace tollgate
