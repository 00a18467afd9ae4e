// Reading YAML nodes into typed configuration values while collecting every
// error with its line. Used only by the config loader; not thread-safe (one
// reader per load).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config/config_names.h"
#include "tollgate/time.h"

namespace tollgate {

// Accumulates errors for one file.
class ErrorSink {
 public:
  explicit ErrorSink(std::string file) : file_(std::move(file)) {}

  // `line` is 1-based.
  void add(int line, std::string reason) { errors_.push_back({file_, line, std::move(reason)}); }
  size_t count() const { return errors_.size(); }
  // All errors, ordered by line (stable, so one line keeps its order).
  std::vector<ConfigError> take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// The 1-based line of a node, or `fallback` when the node has no position
// (null values carry the position of whatever follows them).
int line_of(const YAML::Node& node, int fallback);

// The items of a sequence; a null node is an empty sequence; anything else
// is an error at `line` and yields nothing.
std::vector<YAML::Node> sequence_items(ErrorSink& errors, const YAML::Node& node, std::string_view path, int line);

// One YAML mapping being read. The constructor checks it is a map (null is
// an empty map) and reports duplicate and unknown keys; the read_* methods
// read a key if present, check type and bounds, and return true only when
// the key was present and valid (`out` is left untouched otherwise).
class MapReader {
 public:
  struct Entry {
    std::string key;
    YAML::Node value;
    int key_line = 0;
  };

  MapReader(ErrorSink& errors, const YAML::Node& node, std::string path, std::span<const std::string_view> known_keys,
            int line);
  MapReader(ErrorSink& errors, const YAML::Node& node, std::string path,
            std::initializer_list<std::string_view> known_keys, int line)
      : MapReader(errors, node, std::move(path), std::span(known_keys.begin(), known_keys.size()), line) {}

  bool is_map() const { return is_map_; }
  int line() const { return line_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view key) const;
  // "contracts.acme.limits" + "name" → "contracts.acme.limits.name".
  std::string path_of(std::string_view key) const;
  // Where to report a problem with an entry's value: the value's line when it
  // is a scalar on the key's line, else the key's line.
  int value_line(const Entry& entry) const;
  // Reports "path.key: reason" at the entry's value line.
  void error(const Entry& entry, const std::string& reason) const;

  bool read_string(std::string_view key, std::string& out) const;
  bool read_integer(std::string_view key, int64_t& out, int64_t min, int64_t max) const;
  bool read_integer(std::string_view key, int& out, int64_t min, int64_t max) const;
  bool read_size(std::string_view key, int64_t& out, int64_t min, int64_t max) const;
  // Durations are always > 0.
  bool read_duration(std::string_view key, Nanos& out) const;
  bool read_bool(std::string_view key, bool& out) const;
  bool read_file_mode(std::string_view key, int& out) const;
  bool read_instant(std::string_view key, Nanos& out) const;
  // A name cctz can load (IANA zone, "UTC", ...).
  bool read_timezone(std::string_view key, std::string& out) const;
  bool read_string_list(std::string_view key, std::vector<std::string>& out) const;

  template <typename Enum, size_t N>
  bool read_choice(std::string_view key, Enum& out, const std::pair<std::string_view, Enum> (&names)[N]) const {
    std::string text;
    const Entry* entry = find(key);
    if (entry == nullptr || !scalar(*entry, text)) return false;
    std::string allowed;
    for (const auto& [name, value] : names) {
      if (name == text) {
        out = value;
        return true;
      }
      allowed += allowed.empty() ? std::string(name) : " | " + std::string(name);
    }
    error(*entry, "expected one of " + allowed + ", got '" + text + "'");
    return false;
  }

 private:
  // The scalar text of an entry's value; reports non-scalars and nulls.
  bool scalar(const Entry& entry, std::string& out) const;

  ErrorSink& errors_;
  std::string path_;
  int line_;
  bool is_map_ = false;
  std::vector<Entry> entries_;
  // Key → index into entries_, kept once a map is big enough for a linear
  // find() to matter: `contracts:` may hold 100,000 keys, and the duplicate
  // check alone would be quadratic.
  std::map<std::string, size_t, std::less<>> index_;
};

// The map under `key` of `parent`, reading `known_keys` (an empty map when
// the key is absent, so optional sections read their defaults).
MapReader child(ErrorSink& errors, const MapReader& parent, std::string_view key,
                std::initializer_list<std::string_view> known_keys);

}  // namespace tollgate
