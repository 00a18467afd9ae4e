// Commit tickets for `storage.durability: strict`: which checkpoint holds a
// charge, and whether that checkpoint is durable yet.
//
// Checkpoints are numbered 1, 2, …: begin() numbers the next one before it
// reads any state; published(n) says checkpoint n (and every earlier one) is
// durable. A data-plane thread that has just charged takes ticket() after the
// charge: the number of the first checkpoint certain to contain it. Its reply
// may go once durable_through() ≥ that ticket.
//
// Why a ticket is enough: ticket() is a seq_cst fence and then a read of the
// started count s; begin() increments the count and then fences. If the
// charger's fence comes first in the fences' total order, checkpoint s+1 (and
// every later one) reads state after it and sees the charge; if begin()'s
// fence for s+1 came first, the charger would have read s+1, not s. So the
// charge is in checkpoint s+1 at the latest.
//
// request(ticket) records that a reply waits and wakes the control plane
// (on_request), which then runs checkpoints back to back while tickets wait:
// group commit, one fsync per batch of every charge made meanwhile.
//
// Thread-safety: ticket/durable_through/request from any thread; begin and
// published from the one thread that writes checkpoints. The callbacks are
// set before the workers start.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace tollgate {

class CommitGate {
 public:
  // Data plane.
  uint64_t ticket() const {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return started_.load(std::memory_order_relaxed) + 1;
  }
  uint64_t durable_through() const { return durable_.load(std::memory_order_acquire); }
  // A reply waits for `ticket`: make sure a checkpoint that covers it runs.
  void request(uint64_t ticket) {
    uint64_t seen = requested_.load(std::memory_order_relaxed);
    while (seen < ticket && !requested_.compare_exchange_weak(seen, ticket, std::memory_order_relaxed)) {
    }
    if (seen < ticket && on_request_) on_request_();
  }

  // Control plane.
  // Numbers the checkpoint about to read state; call before reading any.
  uint64_t begin() {
    uint64_t n = started_.fetch_add(1, std::memory_order_relaxed) + 1;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return n;
  }
  // Checkpoint `n` is durable: release the replies waiting for it.
  void published(uint64_t n) {
    uint64_t seen = durable_.load(std::memory_order_relaxed);
    if (n <= seen) return;
    durable_.store(n, std::memory_order_release);
    if (on_durable_) on_durable_();
  }
  // True while some reply waits for a checkpoint not yet durable.
  bool wanted() const { return requested_.load(std::memory_order_relaxed) > durable_.load(std::memory_order_relaxed); }
  uint64_t started() const { return started_.load(std::memory_order_relaxed); }

  void set_on_request(std::function<void()> f) { on_request_ = std::move(f); }
  void set_on_durable(std::function<void()> f) { on_durable_ = std::move(f); }

 private:
  alignas(64) std::atomic<uint64_t> started_{0};
  alignas(64) std::atomic<uint64_t> durable_{0};
  alignas(64) std::atomic<uint64_t> requested_{0};
  std::function<void()> on_request_;
  std::function<void()> on_durable_;
};

}  // namespace tollgate
