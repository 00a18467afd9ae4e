// Sums the workers' statistics and renders them: the live progress line, the
// final human-readable summary and the one-object JSON form. Not thread-safe
// except merge(), which only reads workers' counters (tear-free).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "load_options.h"
#include "load_stats.h"
#include "tollgate/decision.h"
#include "load/hdr_histogram.h"

namespace tollgate::load {

struct RunTotals {
  uint64_t sent = 0;
  uint64_t replies = 0;
  uint64_t allowed = 0;
  std::array<uint64_t, kCodeCount> denied_by_code{};
  uint64_t denied_other_code = 0;
  uint64_t error_replies = 0;
  uint64_t other_replies = 0;
  uint64_t connection_errors = 0;
  uint64_t unanswered = 0;
  double elapsed_s = 0;  // first start to last reply
  std::unique_ptr<HdrHistogram> latency_ns = std::make_unique<HdrHistogram>();
  std::string first_error_reply;
  std::string first_connection_error;

  uint64_t denied() const;
  double throughput() const { return elapsed_s > 0 ? static_cast<double>(replies) / elapsed_s : 0; }
};

// Sums counters and histograms. With `finished`, also the timing and first
// errors, which may only be read once the workers have stopped.
RunTotals merge(const std::vector<std::unique_ptr<WorkerStats>>& workers, bool finished);

// "[  3s]  512340 req/s  p99 412 µs  errors 0" for the last interval.
std::string format_progress(double elapsed_s, double interval_rate, const RunTotals& totals);
std::string format_text(const LoadOptions& options, const RunTotals& totals);
std::string format_json(const LoadOptions& options, const RunTotals& totals);

}  // namespace tollgate::load
