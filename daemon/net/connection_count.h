// How many connections of a listener class are open, counted from accept():
// the acceptor takes a ConnectionSlot for every socket it keeps, before a
// worker has adopted it, and the slot gives the count back exactly once,
// wherever the connection ends (closed by the worker, dropped because the
// worker is stopping, or failed to open) — it is released by its destructor.
// So `max` bounds the descriptors held for connections at every instant,
// bursts included.
// Thread-safety: try_acquire and open() may run on any thread (the acceptor
// is one thread); a slot may be released on another thread than the one
// that acquired it. Ownership: slots point at their count, which must
// outlive them (the Server owns both its counts and the workers).
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace tollgate {

class ConnectionCount;

// One counted connection; move-only; empty when default-constructed or
// moved from.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept {
    if (this != &other) {
      release();
      count_ = std::exchange(other.count_, nullptr);
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { release(); }

  explicit operator bool() const { return count_ != nullptr; }
  // Gives the slot back now (idempotent).
  void release();

 private:
  friend class ConnectionCount;
  explicit ConnectionSlot(ConnectionCount* count) : count_(count) {}
  ConnectionCount* count_ = nullptr;
};

class ConnectionCount {
 public:
  explicit ConnectionCount(size_t max) : max_(max) {}
  ConnectionCount(const ConnectionCount&) = delete;
  ConnectionCount& operator=(const ConnectionCount&) = delete;

  // A slot if fewer than `max` are open, else an empty slot. Thread-safe.
  [[nodiscard]] ConnectionSlot try_acquire() {
    size_t n = open_.load(std::memory_order_relaxed);
    do {
      if (n >= max_) return ConnectionSlot();
    } while (!open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return ConnectionSlot(this);
  }
  size_t open() const { return open_.load(std::memory_order_relaxed); }
  size_t max() const { return max_; }

 private:
  friend class ConnectionSlot;
  void release_one() { open_.fetch_sub(1, std::memory_order_relaxed); }

  const size_t max_;
  std::atomic<size_t> open_{0};
};

inline void ConnectionSlot::release() {
  if (count_ != nullptr) std::exchange(count_, nullptr)->release_one();
}

}  // namespace tollgate
