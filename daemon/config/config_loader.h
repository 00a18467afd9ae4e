// Loads tollgate's YAML configuration and validates it strictly: unknown
// keys, wrong types, bad units, duplicate names and impossible values are
// all reported together, each as "file:line: reason". Thread-safe (no
// shared state); runs on the control plane, never on the data plane.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/config_error.h"

namespace tollgate {

// Reads and validates the file at `path`. An unreadable file is one error
// with line 0.
[[nodiscard]] std::expected<Config, std::vector<ConfigError>> load_config_file(const std::string& path);

// Validates YAML text; `file_name` is only used in errors and Config::file.
// Errors are ordered by line. A YAML syntax error is a single error.
[[nodiscard]] std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view yaml_text,
                                                                           const std::string& file_name);

}  // namespace tollgate
