#include "load/hdr_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tollgate {

namespace {
constexpr uint64_t kSubBucketCount = uint64_t{1} << HdrHistogram::kSubBucketBits;
}  // namespace

// Index = (e << bits) + (value >> e), where e is how far value must be shifted
// right to fit in bits+1 bits. For e = 0 this is the value itself; each larger
// e occupies the next 2^bits indexes, so indexes are dense and ordered.
size_t HdrHistogram::bucket_index(uint64_t value) {
  const int msb = 63 - std::countl_zero(value | 1);
  const int shift = std::max(0, msb - kSubBucketBits);
  return (static_cast<size_t>(shift) << kSubBucketBits) + static_cast<size_t>(value >> shift);
}

uint64_t HdrHistogram::bucket_lowest(size_t index) {
  if (index < 2 * kSubBucketCount) return index;
  const int shift = static_cast<int>(index >> kSubBucketBits) - 1;
  const uint64_t mantissa = (index & (kSubBucketCount - 1)) + kSubBucketCount;
  return mantissa << shift;
}

uint64_t HdrHistogram::bucket_highest(size_t index) {
  if (index < 2 * kSubBucketCount) return index;
  const int shift = static_cast<int>(index >> kSubBucketBits) - 1;
  return bucket_lowest(index) + ((uint64_t{1} << shift) - 1);
}

void HdrHistogram::record_n(uint64_t value, uint64_t n) {
  if (n == 0) return;
  bump(counts_[bucket_index(value)], n);
  bump(count_, n);
  bump(sum_, value * n);
  if (value < min_.load(std::memory_order_relaxed)) min_.store(value, std::memory_order_relaxed);
  if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
}

void HdrHistogram::add(const HdrHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) {
    const uint64_t c = other.counts_[i].load(std::memory_order_relaxed);
    if (c != 0) bump(counts_[i], c);
  }
  bump(count_, other.count());
  bump(sum_, other.sum_.load(std::memory_order_relaxed));
  if (other.count() != 0) {
    min_.store(std::min(min_.load(std::memory_order_relaxed), other.min()), std::memory_order_relaxed);
    max_.store(std::max(max(), other.max()), std::memory_order_relaxed);
  }
}

void HdrHistogram::reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  min_.store(UINT64_MAX, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

uint64_t HdrHistogram::min() const {
  return count() == 0 ? 0 : min_.load(std::memory_order_relaxed);
}

double HdrHistogram::mean() const {
  const uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n);
}

uint64_t HdrHistogram::value_at_percentile(double percentile) const {
  // Sum the buckets rather than trusting count_: a concurrent reader may see
  // the two out of step.
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const double p = std::clamp(percentile, 0.0, 100.0);
  const uint64_t wanted = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= wanted) {
      const uint64_t top = max();
      const uint64_t v = bucket_highest(i);
      return (top != 0 && v > top) ? top : std::max(v, min());
    }
  }
  return max();
}

}  // namespace tollgate
