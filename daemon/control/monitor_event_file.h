// The JSON-lines event file of `monitor_events.file`: one object per line,
// appended and flushed per event; past `max_bytes` the file is rotated
// (file → file.1 → … → file.<keep>, the oldest dropped). I/O errors are
// logged (rate-limited by the caller's frequency) and counted, never fatal.
// Thread-safety: not thread-safe; one owner (the control loop).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "monitor/monitor_spec.h"

namespace tollgate {

class MonitorEventFile {
 public:
  MonitorEventFile() = default;
  MonitorEventFile(const MonitorEventFile&) = delete;
  MonitorEventFile& operator=(const MonitorEventFile&) = delete;
  ~MonitorEventFile();

  // Uses `config`'s file (empty: none); reopens when the path changed.
  void configure(const MonitorEventsConfig& config);
  // Appends one line (`json` without its newline). False on an I/O error.
  bool write(std::string_view json);

 private:
  void rotate();
  std::string path_;
  int64_t max_bytes_ = 0;
  int keep_ = 3;
  std::FILE* file_ = nullptr;
  int64_t size_ = 0;
};

// `text` as a JSON string literal (quotes included).
std::string json_string(std::string_view text);

}  // namespace tollgate
