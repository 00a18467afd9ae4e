// Counter deltas waiting to be written to Redis: at most one pending delta
// per counters hash and field (later ones coalesce into it), at most
// `max_fields` fields in all. Taken out in batches shaped as the counters
// script's arguments (redis_scripts.h); `by_slot` (Redis Cluster): each
// batch holds hashes of one cluster slot only, so its script is single-slot.
// Not thread-safe (the Redis store guards it with its mutex). Plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "persist/redis/redis_layout.h"

namespace tollgate::persist {

class DeltaBuffer {
 public:
  explicit DeltaBuffer(size_t max_fields, bool by_slot = false) : max_fields_(max_fields), by_slot_(by_slot) {}

  // Adds one counters hash's deltas, all or none: false (nothing added) when
  // the fields it would add, plus `held_elsewhere` (fields in unconfirmed
  // batches), would pass max_fields. Deltas of fields already pending
  // coalesce and never count against the bound.
  [[nodiscard]] bool add(const std::string& hash, std::span<const FieldDelta> deltas, int64_t ttl_ms,
                         size_t held_elsewhere = 0);
  // Drops the pending deltas of `hash` whose field starts with `prefix`.
  void drop(const std::string& hash, std::string_view prefix);

  size_t fields() const { return fields_; }
  bool empty() const { return pending_.empty(); }

  // Up to `max_hashes` hashes' deltas as counters-script input: `keys` (the
  // hashes) and `args` (per hash: op count, ttl, then op/field/value), token
  // bucket advances computed at `now_us` (an advance of 0 is left out).
  struct Batch {
    std::vector<std::string> keys;
    std::vector<std::string> args;
    size_t fields = 0;  // pending fields taken
    int slot = -1;      // by_slot: the cluster slot of every hash in it
  };
  Batch take(size_t max_hashes, int64_t now_us);

 private:
  struct Pending {
    std::map<std::string, FieldDelta> fields;
    int64_t ttl_ms = 0;
  };
  // The map's key: the hash, after its slot as 4 hex digits when by_slot
  // (so that one slot's hashes are neighbours).
  std::string entry_key(const std::string& hash) const;

  size_t max_fields_;
  bool by_slot_ = false;
  size_t fields_ = 0;
  std::map<std::string, Pending> pending_;
};

}  // namespace tollgate::persist
