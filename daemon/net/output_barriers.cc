#include "net/output_barriers.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace tollgate {

OutputBarriers::OutputBarriers(size_t initial_capacity)
    : capacity_(std::bit_ceil(initial_capacity < 1 ? size_t{1} : initial_capacity)) {
  ring_ = std::make_unique<Barrier[]>(capacity_);
}

void OutputBarriers::mark(size_t offset, Nanos release_at, uint64_t ticket) {
  uint64_t position = consumed_ + offset;
  if (size_ > 0) {
    Barrier& last = at(size_ - 1);
    assert(position >= last.position);
    if (release_at <= last.release_at && ticket <= last.ticket) return;  // released with `last` anyway
    if (position == last.position) {  // the same bytes: the later instant and ticket win
      last.release_at = std::max(last.release_at, release_at);
      last.ticket = std::max(last.ticket, ticket);
      return;
    }
    // Keep both dimensions non-decreasing, so the first barrier's release
    // implies every earlier condition of the ones behind it.
    release_at = std::max(release_at, last.release_at);
    ticket = std::max(ticket, last.ticket);
  }
  if (size_ == capacity_) grow();
  at(size_) = Barrier{position, release_at, ticket};
  ++size_;
}

size_t OutputBarriers::writable(size_t total, Nanos now, uint64_t durable) {
  while (size_ > 0 && at(0).release_at <= now && at(0).ticket <= durable) {
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }
  if (size_ == 0) {
    head_ = 0;
    return total;
  }
  size_t offset = static_cast<size_t>(at(0).position - consumed_);
  assert(offset <= total);
  return offset;
}

void OutputBarriers::consumed(size_t n) {
  assert(size_ == 0 || at(0).position >= consumed_ + n);
  consumed_ += n;
}

// Doubles the ring, unrolling it so the oldest barrier is first again.
void OutputBarriers::grow() {
  auto bigger = std::make_unique<Barrier[]>(capacity_ * 2);
  for (size_t i = 0; i < size_; ++i) bigger[i] = at(i);
  ring_ = std::move(bigger);
  capacity_ *= 2;
  head_ = 0;
}

}  // namespace tollgate
