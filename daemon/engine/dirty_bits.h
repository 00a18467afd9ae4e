// One bit per slot of a fixed table, set by the data plane when a slot gains
// something worth persisting and drained by the control plane's checkpoint,
// so a checkpoint visits only the slots changed since the previous one
// instead of scanning the whole table.
//
// Thread-safety: mark() is lock-free and safe from any thread (one fetch_or,
// always: a read-modify-write, never skipped when the bit looks set); drain()
// is safe from one thread at a time concurrently with mark(). A mark that
// races with drain() is either seen by this drain or left for the next one,
// never lost: the marker's change to the slot happens before its fetch_or,
// and drain clears a word with an exchange before it visits its slots, so
// whichever read-modify-write comes second sees the other. (Skipping the
// fetch_or when the bit reads as set would let a drain clear that bit and
// read the slot before the marker's change is visible.) Owns its words; not
// movable.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

namespace tollgate {

class DirtyBits {
 public:
  explicit DirtyBits(uint64_t slots)
      : words_count_((slots + 63) / 64), words_(new std::atomic<uint64_t>[words_count_]()) {}

  DirtyBits(const DirtyBits&) = delete;
  DirtyBits& operator=(const DirtyBits&) = delete;

  void mark(uint64_t slot) {
    std::atomic<uint64_t>& w = words_[slot / 64];
    w.fetch_or(uint64_t{1} << (slot % 64), std::memory_order_acq_rel);
  }

  // Clears every set bit and calls visit(slot) for each; returns how many.
  template <typename Visit>
  uint64_t drain(Visit&& visit) {
    uint64_t n = 0;
    for (uint64_t i = 0; i < words_count_; ++i) {
      if (words_[i].load(std::memory_order_relaxed) == 0) continue;
      uint64_t bits = words_[i].exchange(0, std::memory_order_acq_rel);
      for (; bits != 0; bits &= bits - 1, ++n) visit(i * 64 + static_cast<uint64_t>(std::countr_zero(bits)));
    }
    return n;
  }

 private:
  uint64_t words_count_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

}  // namespace tollgate
