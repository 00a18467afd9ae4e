// One problem found in a configuration file, located by 1-based line.
// A plain value type.
#pragma once

#include <string>

namespace tollgate {

struct ConfigError {
  std::string file;
  int line = 0;  // 1-based; 0 when the problem concerns the whole file
  std::string reason;

  // "file:line: reason" ("file: reason" when line is 0).
  std::string to_string() const {
    if (line <= 0) return file + ": " + reason;
    return file + ":" + std::to_string(line) + ": " + reason;
  }
  friend bool operator==(const ConfigError&, const ConfigError&) = default;
};

}  // namespace tollgate
