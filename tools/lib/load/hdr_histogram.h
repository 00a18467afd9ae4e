// A fixed-size log-linear histogram for latencies (HdrHistogram-style): every
// value is kept to within 1/128 (under 1%, two significant digits), record is
// O(1), memory is fixed (~59 KB) whatever the range of uint64 values.
//
// Thread-safety: one writer thread may record while other threads read
// (counters are relaxed atomics, so a concurrent reader sees a slightly stale
// but tear-free picture). add()/reset() need the same single writer.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tollgate {

class HdrHistogram {
 public:
  // Values below 2^(kSubBucketBits+1) are exact; above, each power of two is
  // split into 2^kSubBucketBits linear buckets.
  static constexpr int kSubBucketBits = 7;
  static constexpr size_t kBucketCount =
      (size_t{64 - kSubBucketBits + 1} << kSubBucketBits);  // 7424

  HdrHistogram() = default;
  HdrHistogram(const HdrHistogram&) = delete;
  HdrHistogram& operator=(const HdrHistogram&) = delete;

  // Counts one occurrence of `value`. O(1), no allocation.
  void record(uint64_t value) { record_n(value, 1); }
  // Counts `n` occurrences of `value`.
  void record_n(uint64_t value, uint64_t n);

  // Adds every count of `other` into this histogram.
  void add(const HdrHistogram& other);
  void reset();

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t min() const;  // 0 when empty
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  double mean() const;   // exact (a running sum is kept); 0 when empty

  // The smallest recorded bucket value v such that at least `percentile`% of
  // recorded values are ≤ v, reported as the bucket's highest equivalent
  // value (never above max()). percentile is clamped to [0, 100]; 0 when empty.
  uint64_t value_at_percentile(double percentile) const;

  // Bucket arithmetic, exposed for tests.
  static size_t bucket_index(uint64_t value);
  static uint64_t bucket_lowest(size_t index);
  static uint64_t bucket_highest(size_t index);

 private:
  // Single-writer increment: no locked instruction, still tear-free to readers.
  static void bump(std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<uint64_t>, kBucketCount> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};  // wraps only after ~584 years of nanoseconds
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

}  // namespace tollgate
