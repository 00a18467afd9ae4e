// The memory a configuration makes the engine allocate up front (counter
// table shards, the dedup table, the hold pool, every distinct_subjects
// set), checked against the machine before anything is allocated, so that a
// size typo is a `file:line` error instead of std::bad_alloc at start-up or
// a daemon the kernel kills later. The sizes come from the engine's own
// memory_for() functions. Used only by the config loader. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "config/map_reader.h"

namespace tollgate {

// Physical memory of this machine (sysconf); a large fallback if unknown.
uint64_t physical_memory_bytes();

// What `config` allocates at start-up, by part.
struct MemoryNeed {
  uint64_t counter_table = 0;  // initial shard arrays (table.shards)
  uint64_t dedup = 0;          // dedup.max_entries
  uint64_t holds = 0;          // table.max_holds × the worker heaps
  uint64_t distinct_sets = 0;  // every distinct_subjects limit's set
  uint64_t total() const;
};
MemoryNeed memory_need(const Config& config);

// Reports one error when the need exceeds `budget`, at the line of the
// largest part's setting, with the whole breakdown.
void check_memory(ErrorSink& errors, const MapReader& root, const Config& config, uint64_t budget);

// "1.5 GiB"-style rendering of a byte count.
std::string format_bytes(uint64_t bytes);

}  // namespace tollgate
