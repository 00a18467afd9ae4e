#include "calllog/worker_buffer.h"

#include <bit>

namespace tollgate::calllog {

WorkerBuffer::WorkerBuffer(size_t capacity)
    : capacity_(std::bit_ceil(capacity < 4096 ? size_t{4096} : capacity)),
      mask_(capacity_ - 1),
      bytes_(new char[capacity_]) {}

}  // namespace tollgate::calllog
