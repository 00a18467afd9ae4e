// Which bytes of a connection's reply buffer may be written yet: a FIFO of
// barriers {offset, release_at, ticket}, each holding back the bytes from its
// offset on until its instant has come (a paced reply) and its commit ticket
// is durable (durability: strict), with every reply queued behind it.
// Offsets given and returned count from the start of the unwritten buffer
// (kept internally as absolute stream positions, so consumed() is O(1)).
// Release instants are
// kept increasing: a barrier that would come due no later than the one before
// it, with a ticket no higher, adds nothing (its bytes already wait behind
// that one) and is dropped.
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

  static constexpr uint64_t kNoTicket = 0;
  static constexpr uint64_t kAllDurable = UINT64_MAX;

  // Holds back the bytes from `offset` on (offset ≥ every earlier mark's,
  // ≤ the buffer size) until `release_at` and until commit ticket `ticket`
  // is durable (kNoTicket: no such wait).
  void mark(size_t offset, Nanos release_at, uint64_t ticket = kNoTicket);
  // Drops the barriers released at `now` with commit tickets up to `durable`
  // and returns how many leading bytes of a buffer of `total` bytes may be
  // written: all of them, or up to the first barrier still pending.
  size_t writable(size_t total, Nanos now, uint64_t durable = kAllDurable);
  // `n` leading bytes (n ≤ the last writable() answer) left the buffer.
  void consumed(size_t n);
  // When the first pending barrier comes due; kNone if there is none or it
  // waits for a ticket beyond `durable` (a durability notice wakes it then).
  Nanos next_release(uint64_t durable = kAllDurable) const {
    return size_ == 0 || at(0).ticket > durable ? kNone : at(0).release_at;
  }
  // True while the first pending barrier waits for a ticket beyond `durable`.
  bool waits_for_commit(uint64_t durable) const { return size_ > 0 && at(0).ticket > durable; }
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
    uint64_t ticket;    // commit ticket that must be durable first (0: none)
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
