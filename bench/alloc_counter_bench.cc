// The global allocation hook behind alloc_counter.h (in a *_bench.cc file so
// the bench target's glob picks it up).
#include <cstdlib>
#include <new>

#include "alloc_counter.h"

namespace tollgate::bench {
std::atomic<uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
  tollgate::bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
