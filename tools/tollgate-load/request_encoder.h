// Produces the RESP bytes of each request of a run: the fixed parts (verb,
// COST/CHANNEL/PURPOSE) are encoded once, the key and subject are drawn per
// request from the configured distribution. Not thread-safe: one per worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "load_options.h"
#include "load/xoshiro.h"
#include "load/zipf.h"

namespace tollgate::load {

class RequestEncoder {
 public:
  RequestEncoder(const LoadOptions& options, uint64_t seed);

  // Appends one complete request to `out`.
  void append_next(std::string& out);

 private:
  void append_bulk_number(std::string& out, std::string_view prefix, uint64_t number);
  uint64_t next_key();

  const LoadOptions& options_;
  Xoshiro256 rng_;
  std::optional<ZipfSampler> zipf_;
  uint64_t peek_threshold_ = 0;  // next() below this → PEEK (mix)
  std::string check_head_;       // "*<argc>\r\n$5\r\nCHECK\r\n"
  std::string peek_head_;
  std::string tail_;             // pre-encoded COST/CHANNEL/PURPOSE pairs
  std::string subject_name_;     // "$7\r\nSUBJECT\r\n" or empty
};

}  // namespace tollgate::load
