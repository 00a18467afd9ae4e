#include "load/hdr_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace tollgate {
namespace {

// Verifies small values are exact and bucket bounds agree with bucket_index.
TEST(HdrHistogramTest, BucketsAreExactBelow256AndConsistentAbove) {
  for (uint64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(HdrHistogram::bucket_index(v), v);
    EXPECT_EQ(HdrHistogram::bucket_lowest(v), v);
    EXPECT_EQ(HdrHistogram::bucket_highest(v), v);
  }
  const uint64_t probes[] = {256, 257, 1000, 65'535, 1'000'000, 123'456'789,
                             uint64_t{1} << 40, UINT64_MAX - 1, UINT64_MAX};
  for (uint64_t v : probes) {
    const size_t i = HdrHistogram::bucket_index(v);
    ASSERT_LT(i, HdrHistogram::kBucketCount);
    EXPECT_LE(HdrHistogram::bucket_lowest(i), v);
    EXPECT_GE(HdrHistogram::bucket_highest(i), v);
  }
  EXPECT_EQ(HdrHistogram::bucket_index(UINT64_MAX), HdrHistogram::kBucketCount - 1);
}

// Verifies buckets are dense and ordered: each starts right after the previous.
TEST(HdrHistogramTest, BucketsTileTheRangeWithoutGaps) {
  for (size_t i = 1; i < HdrHistogram::kBucketCount; ++i) {
    ASSERT_EQ(HdrHistogram::bucket_lowest(i), HdrHistogram::bucket_highest(i - 1) + 1) << i;
    ASSERT_EQ(HdrHistogram::bucket_index(HdrHistogram::bucket_lowest(i)), i);
    ASSERT_EQ(HdrHistogram::bucket_index(HdrHistogram::bucket_highest(i)), i);
  }
}

// Verifies no bucket is wider than 1/128 of its values (2 significant digits).
TEST(HdrHistogramTest, RelativeErrorBelowOnePercent) {
  for (size_t i = 256; i < HdrHistogram::kBucketCount; ++i) {
    const uint64_t low = HdrHistogram::bucket_lowest(i);
    const uint64_t width = HdrHistogram::bucket_highest(i) - low + 1;
    ASSERT_LE(width * 128, low) << i;
  }
}

// Verifies an empty histogram reports zeros.
TEST(HdrHistogramTest, EmptyReportsZero) {
  auto h = std::make_unique<HdrHistogram>();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 0u);
  EXPECT_EQ(h->mean(), 0.0);
  EXPECT_EQ(h->value_at_percentile(99), 0u);
}

// Verifies percentiles of 1..10000 match the exact ones within 1%.
TEST(HdrHistogramTest, PercentilesOfUniformSequence) {
  auto h = std::make_unique<HdrHistogram>();
  for (uint64_t v = 1; v <= 10'000; ++v) h->record(v * 1000);
  EXPECT_EQ(h->count(), 10'000u);
  EXPECT_EQ(h->min(), 1000u);
  EXPECT_EQ(h->max(), 10'000'000u);
  EXPECT_DOUBLE_EQ(h->mean(), 5'000'500.0);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p / 100.0 * 10'000 * 1000;
    const double got = static_cast<double>(h->value_at_percentile(p));
    EXPECT_GE(got, exact) << p;  // highest equivalent value: never optimistic
    EXPECT_LE(got, exact * 1.01) << p;
  }
  EXPECT_EQ(h->value_at_percentile(100), 10'000'000u);
  EXPECT_EQ(h->value_at_percentile(250), 10'000'000u);  // clamped
}

// Verifies a percentile never reports more than the largest recorded value.
TEST(HdrHistogramTest, PercentileNeverExceedsMax) {
  auto h = std::make_unique<HdrHistogram>();
  h->record(1'000'001);
  EXPECT_EQ(h->value_at_percentile(50), 1'000'001u);
  EXPECT_EQ(h->value_at_percentile(100), 1'000'001u);
}

// Verifies record_n equals n records and add() merges counts, min, max and sum.
TEST(HdrHistogramTest, RecordNAndAddMerge) {
  auto a = std::make_unique<HdrHistogram>();
  auto b = std::make_unique<HdrHistogram>();
  a->record_n(500, 3);
  a->record_n(7, 0);  // no-op
  b->record(10);
  b->record(90'000);
  a->add(*b);
  EXPECT_EQ(a->count(), 5u);
  EXPECT_EQ(a->min(), 10u);
  EXPECT_EQ(a->max(), 90'000u);
  EXPECT_DOUBLE_EQ(a->mean(), (1500.0 + 10 + 90'000) / 5);
  EXPECT_EQ(a->value_at_percentile(20), 10u);
  EXPECT_EQ(a->value_at_percentile(80), HdrHistogram::bucket_highest(HdrHistogram::bucket_index(500)));
  a->reset();
  EXPECT_EQ(a->count(), 0u);
  EXPECT_EQ(a->value_at_percentile(50), 0u);
}

// Verifies percentiles of random latencies against a sorted copy, within 1%.
TEST(HdrHistogramTest, MatchesSortedSampleOnRandomData) {
  auto h = std::make_unique<HdrHistogram>();
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(11.0, 1.5);  // ~60 µs median, long tail
  std::vector<uint64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h->record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size())) - 1;
    const double exact = static_cast<double>(values[rank]);
    const double got = static_cast<double>(h->value_at_percentile(p));
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(got, exact * (1.0 + 1.0 / 128)) << p;
  }
}

}  // namespace
}  // namespace tollgate
