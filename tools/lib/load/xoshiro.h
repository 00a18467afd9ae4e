// A small, fast, seedable pseudo-random generator (xoshiro256**) for load
// generation and sampling; not for anything secret. Not thread-safe: one per
// thread.
#pragma once

#include <cstdint>

namespace tollgate {

class Xoshiro256 {
 public:
  using result_type = uint64_t;

  // Expands `seed` with splitmix64, so nearby seeds give unrelated streams.
  explicit Xoshiro256(uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return UINT64_MAX; }

  uint64_t operator()() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double next_double() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  // Uniform in [0, n), n ≥ 1 (Lemire's multiply-shift; bias < n / 2^64).
  uint64_t next_below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>((*this)()) * n) >> 64);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace tollgate
