// Test helper: the caller-owned state words of one limiter.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace tollgate::testing {

class Words {
 public:
  explicit Words(int n) : n_(n), w_(new std::atomic<uint64_t>[n]()) {}
  std::atomic<uint64_t>* get() { return w_.get(); }
  std::atomic<uint64_t>& operator[](int i) { return w_[i]; }
  int size() const { return n_; }

 private:
  int n_;
  std::unique_ptr<std::atomic<uint64_t>[]> w_;
};

}  // namespace tollgate::testing
