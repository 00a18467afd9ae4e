// The sharded table of counter entries (one per contract key or dynamic key).
//
// Lookups and counter updates of existing keys take no lock; inserting a key
// takes its shard's mutex; removal (idle eviction) runs on the control plane
// and frees memory through the Reclaimer. Entries are shared by all workers.
// Thread-safety: find() is lock-free and safe from any thread inside a
// Reclaimer critical section; insert() is thread-safe; sweep() is thread-safe
// but meant for one control-plane thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "engine/reclaimer.h"
#include "tollgate/time.h"

namespace tollgate {

struct Policy;

// One key's state: header, `word_count` atomic state words, then the key bytes,
// in one allocation. Owned by the table; freed through the Reclaimer.
class Entry {
 public:
  static Entry* create(std::string_view key, uint64_t hash, const Policy* policy,
                       int word_count, bool dynamic, Nanos now);
  static void destroy(Entry* e);

  uint64_t hash() const { return hash_; }
  std::string_view key() const { return {reinterpret_cast<const char*>(words() + word_count_), key_size_}; }
  const Policy* policy() const { return policy_.load(std::memory_order_acquire); }
  // A reload points the entry at the new policy when its state layout is unchanged.
  void set_policy(const Policy* p) { policy_.store(p, std::memory_order_release); }
  bool dynamic() const { return dynamic_; }
  int word_count() const { return word_count_; }
  std::atomic<uint64_t>* words() { return reinterpret_cast<std::atomic<uint64_t>*>(this + 1); }
  const std::atomic<uint64_t>* words() const {
    return reinterpret_cast<const std::atomic<uint64_t>*>(this + 1);
  }

  // Coarse last-use time (seconds), for idle eviction. Written only when it changes.
  void touch(Nanos now) {
    uint32_t s = static_cast<uint32_t>(now / kNanosPerSecond);
    if (last_used_s_.load(std::memory_order_relaxed) != s) last_used_s_.store(s, std::memory_order_relaxed);
  }
  uint32_t last_used_s() const { return last_used_s_.load(std::memory_order_relaxed); }

  // Persistence: the words changed since a checkpoint last saved them
  // (DirtyLog keeps the protocol). Every access is a read-modify-write, so
  // whichever of a marker and the checkpoint comes second sees the other.
  // refresh_dirty: true if the flag was set (and is joined), else no change.
  bool refresh_dirty() {
    uint8_t set = 1;
    return dirty_.compare_exchange_strong(set, 1, std::memory_order_acq_rel, std::memory_order_acquire);
  }
  // Sets the flag; true if it was set already.
  bool set_dirty() { return dirty_.exchange(1, std::memory_order_acq_rel) != 0; }
  // The checkpoint: clears the flag; true if it was set.
  bool take_dirty() {
    return dirty_.load(std::memory_order_relaxed) != 0 && dirty_.exchange(0, std::memory_order_acq_rel) != 0;
  }

 private:
  Entry() = default;
  uint64_t hash_ = 0;
  std::atomic<const Policy*> policy_{nullptr};
  std::atomic<uint32_t> last_used_s_{0};
  uint32_t key_size_ = 0;
  uint16_t word_count_ = 0;
  bool dynamic_ = false;
  std::atomic<uint8_t> dirty_{0};  // in the header's padding: the size stays 32 bytes
};
static_assert(sizeof(Entry) == 32);
static_assert(sizeof(Entry) % alignof(std::atomic<uint64_t>) == 0);

struct CounterTableOptions {
  int shards = 64;                    // power of two
  size_t max_dynamic_keys = 10'000'000;
  size_t initial_slots_per_shard = 1024;
};

class CounterTable {
 public:
  CounterTable(Reclaimer& reclaimer, CounterTableOptions options);
  ~CounterTable();
  // Bytes the constructor allocates (the shards' initial slot arrays; the
  // table grows with its keys afterwards). For config validation.
  static uint64_t memory_for(const CounterTableOptions& options);
  CounterTable(const CounterTable&) = delete;
  CounterTable& operator=(const CounterTable&) = delete;

  static uint64_t hash_key(std::string_view key);

  // The entry for `key`, or nullptr. Lock-free; call inside a Reclaimer critical section.
  Entry* find(std::string_view key, uint64_t hash) const;

  // Prefetch hints for a batch of lookups: first the home slots, then (once
  // those are in cache) the entries they point to. Change nothing.
  void prefetch_slot(uint64_t hash) const {
    const Array* a = shard_for(hash).array.load(std::memory_order_acquire);
    __builtin_prefetch(&a->slots[hash & a->mask]);
  }
  void prefetch_entry(uint64_t hash) const {
    const Array* a = shard_for(hash).array.load(std::memory_order_acquire);
    const Entry* e = a->slots[hash & a->mask].entry.load(std::memory_order_relaxed);
    if (e != nullptr && e != tombstone()) {
      __builtin_prefetch(e);
      __builtin_prefetch(reinterpret_cast<const char*>(e) + 64);  // long keys / several limits
    }
  }

  enum class InsertResult { kInserted, kExisted, kFull };
  // Finds or creates the entry for `key` (the new entry's words are
  // initialized by `init` before it becomes visible). Dynamic keys count
  // against max_dynamic_keys; when that is reached, returns {nullptr, kFull}.
  // Thread-safe (takes the shard mutex).
  std::pair<Entry*, InsertResult> insert(std::string_view key, uint64_t hash, const Policy* policy,
                                         int word_count, bool dynamic, Nanos now,
                                         const std::function<void(Entry*)>& init);

  // Visits up to `budget` slots of dynamic entries from a rotating cursor and
  // removes each one for which `try_evict(entry)` returns true (it must seal
  // the entry's state so no racing charge is lost). Returns entries removed.
  // Thread-safe; one control-plane caller at a time.
  size_t sweep(size_t budget, const std::function<bool(Entry*)>& try_evict);

  // Removes a specific (static) entry, e.g. a contract dropped by a reload.
  bool remove(std::string_view key, uint64_t hash);

  // Puts `replacement` (same key) in the place of the entry now stored for
  // its key and retires the old one. For reloads that change a key's state
  // layout. Thread-safe (shard mutex). Returns false if the key is gone.
  bool replace(Entry* replacement);

  // Calls fn for every live entry. Takes each shard's lock in turn; control plane only.
  void for_each(const std::function<void(Entry*)>& fn) const;
  // Calls fn for each entry whose key hashes to `hash` (under its shard's
  // lock, so the entry stays in the table meanwhile).
  void for_each_with_hash(uint64_t hash, const std::function<void(Entry*)>& fn) const;

  size_t size() const { return size_.load(std::memory_order_relaxed); }
  size_t dynamic_size() const { return dynamic_size_.load(std::memory_order_relaxed); }
  size_t max_dynamic_keys() const { return options_.max_dynamic_keys; }
  uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }
  uint64_t rejected_full() const { return rejected_full_.load(std::memory_order_relaxed); }
  size_t slot_capacity() const;

 private:
  struct Slot {
    std::atomic<uint64_t> hash{0};
    std::atomic<Entry*> entry{nullptr};
  };
  struct Array {
    size_t mask;
    std::unique_ptr<Slot[]> slots;
    explicit Array(size_t n) : mask(n - 1), slots(new Slot[n]) {}
  };
  struct alignas(64) Shard {
    std::atomic<Array*> array{nullptr};
    mutable std::mutex mutex;
    size_t live = 0;        // guarded by mutex
    size_t tombstones = 0;  // guarded by mutex
    size_t cursor = 0;      // sweep position, guarded by mutex
  };
  static Entry* tombstone() { return reinterpret_cast<Entry*>(uintptr_t{1}); }

  Shard& shard_for(uint64_t hash) const { return shards_[(hash >> 40) & shard_mask_]; }
  Entry* find_locked(Shard& shard, std::string_view key, uint64_t hash) const;
  // Index of the slot holding `key` in `a`, or SIZE_MAX. Shard mutex held.
  size_t slot_of_locked(const Array* a, std::string_view key, uint64_t hash) const;
  void grow_locked(Shard& shard, size_t min_live);
  void unlink_locked(Shard& shard, Array* array, size_t index);

  Reclaimer& reclaimer_;
  CounterTableOptions options_;
  uint64_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
  size_t sweep_shard_ = 0;
  std::atomic<size_t> size_{0};
  std::atomic<size_t> dynamic_size_{0};
  std::atomic<uint64_t> evicted_{0};
  std::atomic<uint64_t> rejected_full_{0};
};

}  // namespace tollgate
