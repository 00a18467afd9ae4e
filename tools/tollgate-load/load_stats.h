// Counters and the latency histogram of one worker. Written by that worker's
// thread only; the progress printer reads them concurrently (relaxed atomics,
// tear-free, possibly a moment stale); the final report reads them after join.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "tollgate/decision.h"
#include "load/hdr_histogram.h"

namespace tollgate::load {

// A counter with one writer: a plain load+store, no locked instruction.
class Counter {
 public:
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct WorkerStats {
  Counter sent;              // requests written
  Counter replies;           // replies received (each also lands in one bucket below)
  Counter allowed;           // CHECK/PEEK replies with allowed = 1
  std::array<Counter, kCodeCount> denied_by_code;
  Counter denied_other_code; // denied with a code tollgate does not define
  Counter error_replies;     // RESP errors
  Counter other_replies;     // anything else (PONG, integers, …)
  Counter connection_errors; // connections lost (refused, reset, EOF, protocol error)
  Counter unanswered;        // requests lost with a connection or left at the drain deadline
  HdrHistogram latency_ns;   // from send (closed loop) or intended send (open loop) to reply

  // Written by the worker, read only after it has finished.
  uint64_t start_ns = 0;       // uv_hrtime() when the run started
  uint64_t last_reply_ns = 0;  // when the last reply arrived
  uint64_t end_ns = 0;         // when the last connection closed
  std::string first_error_reply;
  std::string first_connection_error;
};

}  // namespace tollgate::load
