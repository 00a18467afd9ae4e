// Counts heap allocations in the benchmark binary (global operator new hook),
// so benchmarks can report allocations per operation.
#pragma once

#include <atomic>
#include <cstdint>

namespace tollgate::bench {

extern std::atomic<uint64_t> g_allocations;

inline uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace tollgate::bench
