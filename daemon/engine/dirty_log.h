// Which keys changed since a checkpoint last saved them, so a checkpoint
// writes those keys without scanning the whole table.
//
// Each Entry carries a dirty flag (Entry::refresh_dirty/set_dirty/
// take_dirty). mark() after a change: when the flag is already set, one
// read-modify-write joins it (the key is already logged, not yet taken);
// otherwise, under the calling thread's shard lock, the flag is set and the
// key's hash appended. take() hands the control plane every hash logged so
// far; it then takes each entry's flag before reading its words.
//
// Why nothing is missed (also for durability strict's commit tickets, see
// commit_gate.h): setting the flag and logging the hash happen under one
// shard lock, so a take() sees both or neither; a marker that finds the flag
// set reads it with a read-modify-write, so it is ordered after the setter
// (and, through the setter's lock, after any take() that preceded it) and
// the checkpoint that takes the flag sees its change.
//
// Thread-safety: mark() from any thread; take() from one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/counter_table.h"

namespace tollgate {

class DirtyLog {
 public:
  static constexpr size_t kShards = 64;

  void mark(Entry* e) {
    if (e->refresh_dirty()) return;
    Shard& s = shards_[thread_shard()];
    std::lock_guard lock(s.mutex);
    if (!e->set_dirty()) s.hashes.push_back(e->hash());
  }

  // Appends every hash logged since the previous take to `out`.
  void take(std::vector<uint64_t>& out) {
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mutex);
      out.insert(out.end(), s.hashes.begin(), s.hashes.end());
      s.hashes.clear();
    }
  }

 private:
  struct alignas(64) Shard {
    std::mutex mutex;
    std::vector<uint64_t> hashes;
  };
  // Threads get shards round robin, so workers rarely share one.
  static size_t thread_shard() {
    static std::atomic<size_t> next{0};
    thread_local const size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return mine;
  }

  Shard shards_[kShards];
};

}  // namespace tollgate
