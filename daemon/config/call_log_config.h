// `call_log:` — the record of every CHECK for tollgate-replay (README, "Call
// log and tollgate-replay"). Immutable value type, part of Config; read by
// config/call_log_reader.h. Read at start: a reload does not change it.
#pragma once

#include <cstdint>
#include <string>

#include "tollgate/time.h"

namespace tollgate {

struct CallLogConfig {
  bool enabled = false;                          // on when the section is there, unless `enabled: false`
  std::string dir = "var/calls";                 // relative: to the config file's directory
  double sample = 1.0;                           // fraction of keys recorded (every call of a sampled key)
  int64_t max_bytes = int64_t{10} << 30;         // all segments together; the oldest are deleted first
  int64_t segment_bytes = int64_t{64} << 20;     // a segment is closed past this size...
  Nanos segment_age = 3600 * kNanosPerSecond;    // ... or this age
  Nanos flush_interval = 200 * kNanosPerMilli;   // how often the writer drains the workers' buffers
  int64_t buffer_bytes = int64_t{4} << 20;       // each worker's buffer; full: records dropped and counted
};

}  // namespace tollgate
