#include "config/memory_check.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "engine/counter_table.h"
#include "engine/dedup_table.h"
#include "engine/hold_table.h"
#include "engine/subjects/distinct_set.h"

namespace tollgate {
namespace {

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

// The line of `section.key` in the file (of `section` when the key is absent).
int setting_line(const MapReader& root, std::string_view section, std::string_view key) {
  const MapReader::Entry* entry = root.find(section);
  if (entry == nullptr) return 0;
  if (entry->value.IsMap()) {
    for (const auto& pair : entry->value) {
      if (pair.first.IsScalar() && pair.first.Scalar() == key) return line_of(pair.first, entry->key_line);
    }
  }
  return entry->key_line;
}

}  // namespace

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return uint64_t{1} << 40;  // unknown: 1 TiB
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

uint64_t MemoryNeed::total() const {
  return saturating_add(saturating_add(counter_table, dedup), saturating_add(holds, distinct_sets));
}

MemoryNeed memory_need(const Config& config) {
  MemoryNeed need;
  CounterTableOptions table;
  table.shards = config.table.shards;
  need.counter_table = CounterTable::memory_for(table);
  need.dedup = DedupTable::memory_for(static_cast<uint64_t>(config.dedup.max_entries));
  // As the daemon sizes it: one expiry heap per worker thread.
  const int workers = config.server.threads > 0 ? config.server.threads
                                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  need.holds = HoldTable::memory_for(static_cast<uint64_t>(config.table.max_holds), workers);
  for (const auto& [key, contract] : config.contracts) {
    for (const LimitSpec& limit : contract.limits) {
      if (limit.type == LimitType::kDistinctSubjects)
        need.distinct_sets = saturating_add(need.distinct_sets, DistinctSubjects::memory_for(limit.limit));
    }
  }
  return need;
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[48];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

// The check uses the whole physical memory as the budget: these structures
// are allocated at start (the dedup table lazily, page by page, but it fills
// up under load), and the daemon needs room for its keys besides.
void check_memory(ErrorSink& errors, const MapReader& root, const Config& config, uint64_t budget) {
  const MemoryNeed need = memory_need(config);
  if (need.total() <= budget) return;
  // Report at the setting that asks for the most.
  int line = setting_line(root, "dedup", "max_entries");
  uint64_t largest = need.dedup;
  if (need.holds > largest) {
    largest = need.holds;
    line = setting_line(root, "table", "max_holds");
  }
  if (need.counter_table > largest) {
    largest = need.counter_table;
    line = setting_line(root, "table", "shards");
  }
  if (need.distinct_sets > largest) {
    largest = need.distinct_sets;
    int64_t biggest_cap = 0;
    for (const auto& [key, contract] : config.contracts) {
      for (const LimitSpec& limit : contract.limits) {
        if (limit.type == LimitType::kDistinctSubjects && limit.limit > biggest_cap) {
          biggest_cap = limit.limit;
          line = limit.line;
        }
      }
    }
  }
  errors.add(line, "the configured sizes need " + format_bytes(need.total()) +
                       " allocated up front (dedup.max_entries " + std::to_string(config.dedup.max_entries) + ": " +
                       format_bytes(need.dedup) + ", table.max_holds " + std::to_string(config.table.max_holds) + ": " +
                       format_bytes(need.holds) + ", table.shards " + std::to_string(config.table.shards) + ": " +
                       format_bytes(need.counter_table) +
                       ", distinct_subjects sets: " + format_bytes(need.distinct_sets) + "), more than the " +
                       format_bytes(budget) + " of memory of this machine");
}

}  // namespace tollgate
