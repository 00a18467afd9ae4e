// Epoch-based deferred freeing for objects that lock-free readers may still
// hold (evicted table entries, replaced table arrays, old config generations).
//
// Readers (data-plane workers) bracket each batch of work with a ReadGuard;
// the control plane unlinks an object, then retire()s it, and collect() frees
// it once every reader that could have seen it has left its critical section.
// Thread-safety: enter/exit are per reader slot (one thread each); retire and
// collect are thread-safe (internally locked; never on the hot path).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace tollgate {

class Reclaimer {
 public:
  explicit Reclaimer(int max_readers = 256);
  ~Reclaimer();  // frees everything still retired; readers must be gone
  Reclaimer(const Reclaimer&) = delete;
  Reclaimer& operator=(const Reclaimer&) = delete;

  // Claims a reader slot for the calling thread. Thread-safe.
  int register_reader();

  // Marks reader `slot` active: objects reachable from now on stay alive until exit().
  void enter(int slot) {
    auto& r = readers_[slot].epoch;
    r.store(global_epoch_.load(std::memory_order_relaxed), std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void exit(int slot) { readers_[slot].epoch.store(kOffline, std::memory_order_release); }

  // Schedules `deleter` to run once no reader can still see the (already
  // unlinked) object. Thread-safe.
  void retire(std::function<void()> deleter);

  // Runs the deleters that are safe to run now; returns how many ran. Thread-safe.
  size_t collect();

  size_t pending() const;

 private:
  static constexpr uint64_t kOffline = 0;
  struct alignas(64) Reader {
    std::atomic<uint64_t> epoch{kOffline};
  };
  struct Retired {
    uint64_t epoch;
    std::function<void()> deleter;
  };

  std::unique_ptr<Reader[]> readers_;
  int max_readers_;
  std::atomic<int> reader_count_{0};
  alignas(64) std::atomic<uint64_t> global_epoch_{1};
  mutable std::mutex mutex_;
  std::vector<Retired> retired_;
};

// Scoped enter/exit for one batch of reads. Not thread-safe (one per thread).
class ReadGuard {
 public:
  ReadGuard(Reclaimer& r, int slot) : reclaimer_(r), slot_(slot) { reclaimer_.enter(slot_); }
  ~ReadGuard() { reclaimer_.exit(slot_); }
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;

 private:
  Reclaimer& reclaimer_;
  int slot_;
};

}  // namespace tollgate
