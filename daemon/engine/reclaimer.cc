#include "engine/reclaimer.h"

#include <cassert>
#include <limits>

namespace tollgate {

Reclaimer::Reclaimer(int max_readers)
    : readers_(std::make_unique<Reader[]>(max_readers)), max_readers_(max_readers) {}

Reclaimer::~Reclaimer() {
  for (auto& r : retired_) r.deleter();
}

int Reclaimer::register_reader() {
  int slot = reader_count_.fetch_add(1);
  assert(slot < max_readers_ && "more reader threads than the reclaimer was sized for");
  if (slot >= max_readers_) std::abort();
  return slot;
}

void Reclaimer::retire(std::function<void()> deleter) {
  std::lock_guard lock(mutex_);
  // The object is unlinked already; tag it with the current epoch and move
  // the epoch on, so readers that enter from now on are known not to see it.
  uint64_t epoch = global_epoch_.fetch_add(1, std::memory_order_seq_cst);
  retired_.push_back({epoch, std::move(deleter)});
}

// An object retired at epoch E is safe once every reader is offline or entered
// at an epoch > E (it entered after the unlink and cannot reach the object).
size_t Reclaimer::collect() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t oldest_active = std::numeric_limits<uint64_t>::max();
  int readers = reader_count_.load(std::memory_order_acquire);
  for (int i = 0; i < readers && i < max_readers_; ++i) {
    uint64_t e = readers_[i].epoch.load(std::memory_order_seq_cst);
    if (e != kOffline && e < oldest_active) oldest_active = e;
  }
  std::vector<Retired> ready;
  {
    std::lock_guard lock(mutex_);
    std::vector<Retired> keep;
    for (auto& r : retired_) (r.epoch < oldest_active ? ready : keep).push_back(std::move(r));
    retired_.swap(keep);
  }
  for (auto& r : ready) r.deleter();
  return ready.size();
}

size_t Reclaimer::pending() const {
  std::lock_guard lock(mutex_);
  return retired_.size();
}

}  // namespace tollgate
