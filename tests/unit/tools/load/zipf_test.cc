#include "load/zipf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "load/xoshiro.h"

namespace tollgate {
namespace {

// Chi-square statistic of observed counts against the exact Zipf pmf over n ranks.
double chi_square(uint64_t n, double exponent, int samples, uint64_t seed) {
  ZipfSampler zipf(n, exponent);
  Xoshiro256 rng(seed);
  std::vector<double> observed(n, 0.0);
  for (int i = 0; i < samples; ++i) {
    const uint64_t k = zipf.sample(rng);
    EXPECT_LT(k, n);
    if (k < n) observed[k] += 1;
  }
  double norm = 0;
  for (uint64_t k = 1; k <= n; ++k) norm += std::pow(static_cast<double>(k), -exponent);
  double chi = 0;
  for (uint64_t k = 0; k < n; ++k) {
    const double expected = samples * std::pow(static_cast<double>(k + 1), -exponent) / norm;
    chi += (observed[k] - expected) * (observed[k] - expected) / expected;
  }
  return chi;
}

// Verifies the sample frequencies fit the exact pmf (chi-square, 49 degrees of
// freedom: the 99.9% critical value is 85.4) for the usual skews.
TEST(ZipfSamplerTest, FrequenciesFitExactDistribution) {
  for (double exponent : {0.5, 0.99, 1.0, 1.2, 2.0}) {
    EXPECT_LT(chi_square(50, exponent, 500'000, 42), 85.4) << exponent;
  }
}

// Verifies exponent 0 is the uniform distribution.
TEST(ZipfSamplerTest, ExponentZeroIsUniform) {
  EXPECT_LT(chi_square(50, 0.0, 500'000, 3), 85.4);
}

// Verifies a one-element keyspace always yields rank 0.
TEST(ZipfSamplerTest, SingleElement) {
  ZipfSampler zipf(1, 0.99);
  Xoshiro256 rng(1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(zipf.sample(rng), 0u);
}

// Verifies huge keyspaces stay in range and put the expected mass on rank 0
// (P(0) = 1/H(n, s); for n = 10^9, s = 0.99 that is about 4.4%).
TEST(ZipfSamplerTest, HugeKeyspaceInRangeAndHeadMassRight) {
  const uint64_t n = 1'000'000'000;
  ZipfSampler zipf(n, 0.99);
  Xoshiro256 rng(9);
  const int samples = 400'000;
  int zeros = 0;
  for (int i = 0; i < samples; ++i) {
    const uint64_t k = zipf.sample(rng);
    ASSERT_LT(k, n);
    zeros += k == 0;
  }
  // H(n, s) ≈ ζ-style integral: 1 + ∫_1^n x^-s dx + 0.5(1 + n^-s) + Euler–Maclaurin tail.
  double harmonic = 0;
  for (int k = 1; k <= 1000; ++k) harmonic += std::pow(k, -0.99);
  harmonic += (std::pow(static_cast<double>(n), 0.01) - std::pow(1000.0, 0.01)) / 0.01;
  const double p0 = 1.0 / harmonic;
  EXPECT_NEAR(static_cast<double>(zeros) / samples, p0, p0 * 0.05);
}

// Verifies the same seed gives the same sequence (reproducible load runs).
TEST(ZipfSamplerTest, DeterministicForSeed) {
  ZipfSampler zipf(1000, 0.99);
  Xoshiro256 a(123), b(123), c(124);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = zipf.sample(a);
    EXPECT_EQ(x, zipf.sample(b));
    differs |= x != zipf.sample(c);
  }
  EXPECT_TRUE(differs);
}

// Verifies the generator's helpers stay in their ranges.
TEST(Xoshiro256Test, DoubleAndBelowInRange) {
  Xoshiro256 rng(5);
  for (int i = 0; i < 100'000; ++i) {
    const double d = rng.next_double();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    ASSERT_LT(rng.next_below(7), 7u);
  }
  EXPECT_EQ(rng.next_below(1), 0u);
}

}  // namespace
}  // namespace tollgate
