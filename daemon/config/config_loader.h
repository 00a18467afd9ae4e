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

// A config file may be at most this big (a bound, so /dev/zero-like input
// cannot exhaust memory; real files are a few hundred bytes per contract).
inline constexpr uint64_t kMaxConfigFileBytes = uint64_t{64} << 20;

// Reads and validates the file at `path`: the path must name a regular file
// of at most kMaxConfigFileBytes (a directory, device, FIFO or socket is
// refused). An unreadable or refused file is one error with line 0.
// Relative paths in it are resolved against its directory
// (config/config_paths.h), so the Config holds absolute paths.
//
// This is the one validation for every path: `tollgated --check-config`,
// start-up and reload all call it, and it runs the engine's own checks of
// each limit (the limiters' make(), DistinctSubjects::check()) and of each
// policy's shape, and checks the sizes allocated up front against this
// machine's memory (config/memory_check.h). A file it accepts builds an
// engine (barring an allocation failure, which Engine::create reports as an
// error too). A file with no contracts and no key classes is refused unless
// it says `allow_empty: true`.
[[nodiscard]] std::expected<Config, std::vector<ConfigError>> load_config_file(const std::string& path);

// Validates YAML text (all of the above but the file checks); `file_name` is
// only used in errors and Config::file. Paths stay as written (relative ones
// relative), unless `base_dir` is given: then they resolve against it.
// Errors are ordered by line. A YAML syntax error is a single error.
[[nodiscard]] std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view yaml_text,
                                                                           const std::string& file_name);
[[nodiscard]] std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view yaml_text,
                                                                           const std::string& file_name,
                                                                           std::string_view base_dir);

}  // namespace tollgate
