// Draws Zipf-distributed ranks for skewed key popularity in load tests:
// rank k in [0, n) has probability proportional to 1 / (k + 1)^exponent.
// Rejection-inversion (Hörmann & Derflinger 1996): O(1) expected time per
// sample and O(1) memory for any n, exponent ≥ 0 (0 is uniform).
//
// Thread-safety: immutable after construction; sample() may be called from
// many threads, each with its own generator.
#pragma once

#include <cstdint>

#include "load/xoshiro.h"

namespace tollgate {

class ZipfSampler {
 public:
  // Precondition: n ≥ 1 and exponent is finite and ≥ 0 (asserted).
  ZipfSampler(uint64_t n, double exponent);

  // One rank in [0, n); rank 0 is the most popular.
  uint64_t sample(Xoshiro256& rng) const;

  uint64_t n() const { return n_; }
  double exponent() const { return exponent_; }

 private:
  double h(double x) const;                   // the density 1 / x^exponent
  double h_integral(double x) const;          // ∫ h from 1 to x
  double h_integral_inverse(double x) const;  // inverse of h_integral

  uint64_t n_;
  double exponent_;
  double h_integral_x1_;  // h_integral(1.5) - 1
  double h_integral_n_;   // h_integral(n + 0.5)
  double s_;              // acceptance shortcut, see constructor
};

}  // namespace tollgate
