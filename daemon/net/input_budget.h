// The budget for input buffers across all connections (server.max_input_total),
// like Redis's client query buffer limits. Every connection starts with a
// small input buffer that is not counted; a connection whose buffer must
// grow (a big or half-sent request) reports its grown size here first. When
// the total of grown bytes would pass the budget, the largest holders — the
// asking connection included — are chosen to be dropped until the rest fits;
// the asking connection grows only if it was not chosen. Victims are dropped
// asynchronously (on their workers' threads); their bytes count as gone for
// later decisions, so the memory actually held may pass the budget by the
// victims still closing, for the moment it takes to close them.
//
// This is pure bookkeeping: it never touches a connection or a worker; the
// caller acts on the victims it is handed (see Connection::on_alloc).
// Thread-safety: all methods are thread-safe. set()/remove() take a mutex;
// they run only when a buffer grows past or shrinks back to its initial
// size, never per request. used()/drops() are relaxed atomic reads.
// Ownership: holders and groups are opaque identities, never dereferenced.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tollgate {

class InputBudget {
 public:
  explicit InputBudget(size_t limit) : limit_(limit) {}
  InputBudget(const InputBudget&) = delete;
  InputBudget& operator=(const InputBudget&) = delete;

  // A holder chosen to be dropped: which worker serves it (`group`) and its
  // connection id, to be looked up and closed on that worker's thread.
  struct Victim {
    const void* group = nullptr;
    uint64_t id = 0;
    size_t bytes = 0;
  };

  // `holder` (connection `id`, served by `group`) wants `grown` bytes beyond
  // its initial buffer (0: it is back to its initial buffer). Returns true
  // if it may have them. Over the budget, appends the holders to drop to
  // `victims` (largest first, each at most once until removed) and returns
  // false iff `holder` is one of them (then its old size stays counted
  // until remove()). Thread-safe.
  [[nodiscard]] bool set(const void* holder, const void* group, uint64_t id, size_t grown,
                         std::vector<Victim>& victims);
  // `holder` is gone: its bytes leave the budget. Thread-safe.
  void remove(const void* holder);

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }
  // Holders chosen as victims so far.
  uint64_t victims_chosen() const { return victims_chosen_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    const void* group;
    uint64_t id;
    size_t grown;
    bool dropping;  // chosen as a victim; not chosen again
  };

  const size_t limit_;
  std::mutex mutex_;
  std::unordered_map<const void*, Entry> holders_;  // guarded by mutex_
  size_t total_ = 0;                                // guarded by mutex_; Σ grown
  size_t dropping_total_ = 0;                       // guarded by mutex_; Σ grown of chosen victims
  std::atomic<size_t> used_{0};                     // total_, for lock-free reads
  std::atomic<uint64_t> victims_chosen_{0};
};

}  // namespace tollgate
