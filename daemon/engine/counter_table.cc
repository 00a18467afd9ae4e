#include "engine/counter_table.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <array>
#include <bit>
#include <mutex>
#include <cassert>
#include <new>

namespace tollgate {
namespace {

// Entries come from 2 MiB chunks in 64-byte size classes: cache-line aligned
// without the per-allocation overhead of aligned malloc (which doubled the
// bytes per key), and freed entries are reused by their class. Memory is
// kept for reuse, not returned to the OS. Entries over 1 KiB (very long
// keys) use the general allocator. Thread-safe (a mutex: inserting a key and
// freeing evicted ones are not on the per-call path).
class EntryArena {
 public:
  static constexpr size_t kLine = 64;
  static constexpr size_t kClasses = 16;  // up to 1 KiB
  static constexpr size_t kChunk = size_t{2} << 20;  // one huge page where THP allows

  void* allocate(size_t bytes) {
    size_t cls = (bytes + kLine - 1) / kLine;
    if (cls > kClasses) return ::operator new(bytes, std::align_val_t{kLine});
    std::lock_guard lock(mutex_);
    if (void* p = free_[cls - 1]) {
      free_[cls - 1] = *static_cast<void**>(p);
      return p;
    }
    size_t need = cls * kLine;
    if (left_ < need) {
      cur_ = static_cast<char*>(::operator new(kChunk, std::align_val_t{kChunk}));
      ::madvise(cur_, kChunk, MADV_HUGEPAGE);  // fewer TLB misses on random keys; advisory
      left_ = kChunk;
    }
    void* p = cur_;
    cur_ += need;
    left_ -= need;
    return p;
  }
  void deallocate(void* p, size_t bytes) {
    size_t cls = (bytes + kLine - 1) / kLine;
    if (cls > kClasses) return ::operator delete(p, std::align_val_t{kLine});
    std::lock_guard lock(mutex_);
    *static_cast<void**>(p) = free_[cls - 1];
    free_[cls - 1] = p;
  }

 private:
  std::mutex mutex_;
  char* cur_ = nullptr;
  size_t left_ = 0;
  std::array<void*, kClasses> free_{};
};

EntryArena& arena() {
  static EntryArena* a = new EntryArena();  // never destroyed: entries may outlive static destruction order
  return *a;
}

size_t entry_bytes(int word_count, size_t key_size) {
  return sizeof(Entry) + sizeof(std::atomic<uint64_t>) * static_cast<size_t>(word_count) + key_size;
}

}  // namespace

Entry* Entry::create(std::string_view key, uint64_t hash, const Policy* policy, int word_count,
                     bool dynamic, Nanos now) {
  // Cache-line aligned: a small entry's header, state words and key share
  // one line, so a lookup + charge costs one memory miss, not two.
  void* mem = arena().allocate(entry_bytes(word_count, key.size()));
  Entry* e = new (mem) Entry();
  e->hash_ = hash;
  e->policy_.store(policy, std::memory_order_relaxed);
  e->key_size_ = static_cast<uint32_t>(key.size());
  e->word_count_ = static_cast<uint16_t>(word_count);
  e->dynamic_ = dynamic;
  e->touch(now);
  for (int i = 0; i < word_count; ++i) new (e->words() + i) std::atomic<uint64_t>(0);
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(e->words() + word_count), key.data(), key.size());
  return e;
}

void Entry::destroy(Entry* e) {
  size_t bytes = entry_bytes(e->word_count(), e->key().size());
  e->~Entry();
  arena().deallocate(e, bytes);
}

uint64_t CounterTable::hash_key(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

CounterTable::CounterTable(Reclaimer& reclaimer, CounterTableOptions options)
    : reclaimer_(reclaimer), options_(options) {
  int shards = std::max(1, options_.shards);
  if (!std::has_single_bit(static_cast<unsigned>(shards))) shards = static_cast<int>(std::bit_ceil(static_cast<unsigned>(shards)));
  options_.shards = shards;
  shard_mask_ = static_cast<uint64_t>(shards - 1);
  shards_ = std::make_unique<Shard[]>(shards);
  size_t initial = std::bit_ceil(std::max<size_t>(8, options_.initial_slots_per_shard));
  for (int i = 0; i < shards; ++i) shards_[i].array.store(new Array(initial), std::memory_order_release);
}

uint64_t CounterTable::memory_for(const CounterTableOptions& options) {
  const uint64_t shards = std::bit_ceil(static_cast<uint64_t>(std::max(1, options.shards)));
  const uint64_t initial = std::bit_ceil(std::max<uint64_t>(8, options.initial_slots_per_shard));
  return shards * (sizeof(Shard) + initial * sizeof(Slot));
}

CounterTable::~CounterTable() {
  for (int s = 0; s < options_.shards; ++s) {
    Array* a = shards_[s].array.load(std::memory_order_acquire);
    for (size_t i = 0; i <= a->mask; ++i) {
      Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
      if (e != nullptr && e != tombstone()) Entry::destroy(e);
    }
    delete a;
  }
}

Entry* CounterTable::find(std::string_view key, uint64_t hash) const {
  const Array* a = shard_for(hash).array.load(std::memory_order_acquire);
  for (size_t i = hash & a->mask;; i = (i + 1) & a->mask) {
    Entry* e = a->slots[i].entry.load(std::memory_order_acquire);
    if (e == nullptr) return nullptr;
    if (e != tombstone() && a->slots[i].hash.load(std::memory_order_relaxed) == hash && e->key() == key)
      return e;
  }
}

Entry* CounterTable::find_locked(Shard& shard, std::string_view key, uint64_t hash) const {
  const Array* a = shard.array.load(std::memory_order_relaxed);
  size_t i = slot_of_locked(a, key, hash);
  return i == SIZE_MAX ? nullptr : a->slots[i].entry.load(std::memory_order_relaxed);
}

// Rebuilds the shard's array with room for `min_live` entries at most half
// full, dropping tombstones, and publishes it; readers still on the old array
// keep working until the reclaimer frees it.
void CounterTable::grow_locked(Shard& shard, size_t min_live) {
  Array* old = shard.array.load(std::memory_order_relaxed);
  size_t capacity = std::bit_ceil(std::max<size_t>(16, min_live * 2));
  auto* fresh = new Array(capacity);
  if (capacity * sizeof(Slot) >= (size_t{2} << 20)) {
    // Advisory: large slot arrays on huge pages where the kernel allows it.
    auto addr = reinterpret_cast<uintptr_t>(fresh->slots.get());
    uintptr_t start = (addr + (size_t{2} << 20) - 1) & ~((size_t{2} << 20) - 1);
    uintptr_t end = (addr + capacity * sizeof(Slot)) & ~((size_t{2} << 20) - 1);
    if (end > start) ::madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
  }
  for (size_t i = 0; i <= old->mask; ++i) {
    Entry* e = old->slots[i].entry.load(std::memory_order_relaxed);
    if (e == nullptr || e == tombstone()) continue;
    size_t j = e->hash() & fresh->mask;
    while (fresh->slots[j].entry.load(std::memory_order_relaxed) != nullptr) j = (j + 1) & fresh->mask;
    fresh->slots[j].hash.store(e->hash(), std::memory_order_relaxed);
    fresh->slots[j].entry.store(e, std::memory_order_relaxed);
  }
  shard.array.store(fresh, std::memory_order_release);
  shard.tombstones = 0;
  shard.cursor = 0;
  reclaimer_.retire([old] { delete old; });
}

std::pair<Entry*, CounterTable::InsertResult> CounterTable::insert(
    std::string_view key, uint64_t hash, const Policy* policy, int word_count, bool dynamic, Nanos now,
    const std::function<void(Entry*)>& init) {
  Shard& shard = shard_for(hash);
  std::lock_guard lock(shard.mutex);
  if (Entry* e = find_locked(shard, key, hash)) return {e, InsertResult::kExisted};
  if (dynamic && dynamic_size_.load(std::memory_order_relaxed) >= options_.max_dynamic_keys) {
    rejected_full_.fetch_add(1, std::memory_order_relaxed);
    return {nullptr, InsertResult::kFull};
  }
  Array* a = shard.array.load(std::memory_order_relaxed);
  // Keep the load (live + tombstones) under 3/4 so probes stay short and end.
  if ((shard.live + shard.tombstones + 1) * 4 > (a->mask + 1) * 3) {
    grow_locked(shard, std::max(shard.live + 1, (a->mask + 1) / 2));
    a = shard.array.load(std::memory_order_relaxed);
  }
  Entry* e = Entry::create(key, hash, policy, word_count, dynamic, now);
  if (init) init(e);
  size_t i = hash & a->mask;
  for (;; i = (i + 1) & a->mask) {
    Entry* cur = a->slots[i].entry.load(std::memory_order_relaxed);
    if (cur == nullptr) break;
    if (cur == tombstone()) {
      --shard.tombstones;
      break;
    }
  }
  a->slots[i].hash.store(hash, std::memory_order_relaxed);
  a->slots[i].entry.store(e, std::memory_order_release);
  ++shard.live;
  size_.fetch_add(1, std::memory_order_relaxed);
  if (dynamic) dynamic_size_.fetch_add(1, std::memory_order_relaxed);
  return {e, InsertResult::kInserted};
}

void CounterTable::unlink_locked(Shard& shard, Array* array, size_t index) {
  Entry* e = array->slots[index].entry.load(std::memory_order_relaxed);
  array->slots[index].entry.store(tombstone(), std::memory_order_release);
  --shard.live;
  ++shard.tombstones;
  size_.fetch_sub(1, std::memory_order_relaxed);
  if (e->dynamic()) dynamic_size_.fetch_sub(1, std::memory_order_relaxed);
}

size_t CounterTable::sweep(size_t budget, const std::function<bool(Entry*)>& try_evict) {
  size_t removed = 0;
  std::vector<Entry*> unlinked;
  for (int visited_shards = 0; budget > 0 && visited_shards < options_.shards; ++visited_shards) {
    Shard& shard = shards_[sweep_shard_];
    std::lock_guard lock(shard.mutex);
    Array* a = shard.array.load(std::memory_order_relaxed);
    size_t capacity = a->mask + 1;
    while (budget > 0 && shard.cursor < capacity) {
      --budget;
      size_t i = shard.cursor++;
      Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
      if (e == nullptr || e == tombstone() || !e->dynamic()) continue;
      if (!try_evict(e)) continue;
      unlink_locked(shard, a, i);
      unlinked.push_back(e);
    }
    if (shard.cursor >= capacity) {
      shard.cursor = 0;
      sweep_shard_ = (sweep_shard_ + 1) & shard_mask_;
      // Many tombstones lengthen probes: rebuild at the same size.
      if (shard.tombstones * 4 > capacity) grow_locked(shard, std::max<size_t>(shard.live, capacity / 4));
    }
  }
  removed = unlinked.size();
  if (removed > 0) {
    evicted_.fetch_add(removed, std::memory_order_relaxed);
    reclaimer_.retire([entries = std::move(unlinked)] {
      for (Entry* e : entries) Entry::destroy(e);
    });
  }
  return removed;
}

size_t CounterTable::slot_of_locked(const Array* a, std::string_view key, uint64_t hash) const {
  for (size_t i = hash & a->mask;; i = (i + 1) & a->mask) {
    Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
    if (e == nullptr) return SIZE_MAX;
    if (e != tombstone() && e->hash() == hash && e->key() == key) return i;
  }
}

bool CounterTable::remove(std::string_view key, uint64_t hash) {
  Shard& shard = shard_for(hash);
  std::lock_guard lock(shard.mutex);
  Array* a = shard.array.load(std::memory_order_relaxed);
  size_t i = slot_of_locked(a, key, hash);
  if (i == SIZE_MAX) return false;
  Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
  unlink_locked(shard, a, i);
  reclaimer_.retire([e] { Entry::destroy(e); });
  return true;
}

bool CounterTable::replace(Entry* replacement) {
  const uint64_t hash = replacement->hash();
  Shard& shard = shard_for(hash);
  std::lock_guard lock(shard.mutex);
  Array* a = shard.array.load(std::memory_order_relaxed);
  size_t i = slot_of_locked(a, replacement->key(), hash);
  if (i == SIZE_MAX) return false;
  Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
  if (e->dynamic() != replacement->dynamic()) {
    if (replacement->dynamic()) dynamic_size_.fetch_add(1, std::memory_order_relaxed);
    else dynamic_size_.fetch_sub(1, std::memory_order_relaxed);
  }
  a->slots[i].entry.store(replacement, std::memory_order_release);
  reclaimer_.retire([e] { Entry::destroy(e); });
  return true;
}

void CounterTable::for_each(const std::function<void(Entry*)>& fn) const {
  for (int s = 0; s < options_.shards; ++s) {
    std::lock_guard lock(shards_[s].mutex);
    const Array* a = shards_[s].array.load(std::memory_order_relaxed);
    for (size_t i = 0; i <= a->mask; ++i) {
      Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
      if (e != nullptr && e != tombstone()) fn(e);
    }
  }
}

void CounterTable::for_each_with_hash(uint64_t hash, const std::function<void(Entry*)>& fn) const {
  Shard& shard = shard_for(hash);
  std::lock_guard lock(shard.mutex);
  const Array* a = shard.array.load(std::memory_order_relaxed);
  for (size_t i = hash & a->mask;; i = (i + 1) & a->mask) {
    Entry* e = a->slots[i].entry.load(std::memory_order_relaxed);
    if (e == nullptr) return;
    if (e != tombstone() && a->slots[i].hash.load(std::memory_order_relaxed) == hash) fn(e);
  }
}

size_t CounterTable::slot_capacity() const {
  size_t total = 0;
  for (int s = 0; s < options_.shards; ++s) {
    std::lock_guard lock(shards_[s].mutex);
    total += shards_[s].array.load(std::memory_order_relaxed)->mask + 1;
  }
  return total;
}

}  // namespace tollgate
