// Which bytes of a connection's reply buffer may be written yet: a FIFO of
// barriers {offset, release_at}, each holding back the bytes from its offset
// on until its instant (a paced reply and every reply queued behind it).
// Offsets given and returned count from the start of the unwritten buffer
// (kept internally as absolute stream positions, so consumed() is O(1)).
// Release instants are
// kept increasing: a barrier that would come due no later than the one before
// it adds nothing (its bytes already wait behind that one) and is dropped.
// Storage is a power-of-two ring that only grows, so steady state allocates
// nothing. Not thread-safe (owned by one connection on its worker thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tollgate/time.h"

namespace tollgate {

class OutputBarriers {
 public:
  static constexpr Nanos kNone = INT64_MAX;

  explicit OutputBarriers(size_t initial_capacity = 8);

  // Holds back the bytes from `offset` on (offset ≥ every earlier mark's,
  // ≤ the buffer size) until `release_at`.
  void mark(size_t offset, Nanos release_at);
  // Drops the barriers due at `now` and returns how many leading bytes of a
  // buffer of `total` bytes may be written: all of them, or up to the first
  // barrier still pending.
  size_t writable(size_t total, Nanos now);
  // `n` leading bytes (n ≤ the last writable() answer) left the buffer.
  void consumed(size_t n);
  // When the first pending barrier comes due; kNone if there is none.
  Nanos next_release() const { return size_ == 0 ? kNone : at(0).release_at; }
  // Bytes of a buffer of `total` bytes held back by barriers.
  size_t held(size_t total) const { return size_ == 0 ? 0 : total - (at(0).position - consumed_); }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Forgets every barrier (the connection is going away).
  void clear() { head_ = size_ = 0; }

 private:
  struct Barrier {
    uint64_t position;  // absolute: bytes of the stream before the held ones
    Nanos release_at;
  };
  Barrier& at(size_t i) { return ring_[(head_ + i) & (capacity_ - 1)]; }
  const Barrier& at(size_t i) const { return ring_[(head_ + i) & (capacity_ - 1)]; }
  void grow();

  std::unique_ptr<Barrier[]> ring_;
  size_t capacity_;  // a power of two
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t consumed_ = 0;  // stream bytes that left the buffer so far
};

}  // namespace tollgate
