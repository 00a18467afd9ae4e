#include "calllog/worker_buffer.h"

#include <bit>
#include <cstring>

namespace tollgate::calllog {

WorkerBuffer::WorkerBuffer(size_t capacity)
    : capacity_(std::bit_ceil(capacity < 4096 ? size_t{4096} : capacity)),
      mask_(capacity_ - 1),
      storage_(new char[capacity_ + 64]),
      bytes_(storage_.get() + (64 - reinterpret_cast<uintptr_t>(storage_.get()) % 64) % 64) {
  // Every page touched now: the first lap of appends takes no page fault.
  std::memset(bytes_, 0, capacity_);
}

}  // namespace tollgate::calllog
