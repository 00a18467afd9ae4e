#include "config/map_reader.h"

#include <cctz/time_zone.h>

#include <algorithm>

#include "config/units.h"

namespace tollgate {
namespace {

// Maps with this many keys get an index (small ones scan: cheaper).
constexpr size_t kIndexFrom = 16;

std::string_view kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar: return "a single value";
    default: return "nothing";
  }
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

std::vector<ConfigError> ErrorSink::take() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  return std::move(errors_);
}

int line_of(const YAML::Node& node, int fallback) {
  if (!node.IsDefined() || node.IsNull() || node.Mark().line < 0) return fallback;
  return node.Mark().line + 1;
}

std::vector<YAML::Node> sequence_items(ErrorSink& errors, const YAML::Node& node, std::string_view path, int line) {
  std::vector<YAML::Node> items;
  if (!node.IsDefined() || node.IsNull()) return items;
  if (!node.IsSequence()) {
    errors.add(line, std::string(path) + ": expected a list, got " + std::string(kind_name(node)));
    return items;
  }
  for (const YAML::Node& item : node) items.push_back(item);
  return items;
}

MapReader::MapReader(ErrorSink& errors, const YAML::Node& node, std::string path,
                     std::span<const std::string_view> known_keys, int line)
    : errors_(errors), path_(std::move(path)), line_(line) {
  if (!node.IsDefined() || node.IsNull()) {
    is_map_ = true;
    return;
  }
  if (!node.IsMap()) {
    errors_.add(line_, (path_.empty() ? "configuration" : path_) + ": expected a map, got " +
                           std::string(kind_name(node)));
    return;
  }
  is_map_ = true;
  for (const auto& pair : node) {
    const int key_line = line_of(pair.first, line_);
    if (!pair.first.IsScalar()) {
      errors_.add(key_line, path_of("?") + ": keys must be plain names");
      continue;
    }
    std::string key = pair.first.Scalar();
    if (find(key) != nullptr) {
      errors_.add(key_line, path_of(key) + ": duplicate key (first at line " +
                                std::to_string(find(key)->key_line) + ")");
      continue;
    }
    if (!known_keys.empty() && std::find(known_keys.begin(), known_keys.end(), key) == known_keys.end()) {
      errors_.add(key_line, path_of(key) + ": unknown key (expected one of: " + join(known_keys) + ")");
      continue;
    }
    entries_.push_back({std::move(key), pair.second, key_line});
    if (!index_.empty()) {
      index_.emplace(entries_.back().key, entries_.size() - 1);
    } else if (entries_.size() == kIndexFrom) {
      for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].key, i);
    }
  }
}

const MapReader::Entry* MapReader::find(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  for (const Entry& entry : entries_) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

std::string MapReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

int MapReader::value_line(const Entry& entry) const {
  return entry.value.IsScalar() ? line_of(entry.value, entry.key_line) : entry.key_line;
}

void MapReader::error(const Entry& entry, const std::string& reason) const {
  errors_.add(value_line(entry), path_of(entry.key) + ": " + reason);
}

bool MapReader::scalar(const Entry& entry, std::string& out) const {
  if (!entry.value.IsScalar()) {
    error(entry, entry.value.IsNull() ? "needs a value" : "expected a single value, got " +
                                                              std::string(kind_name(entry.value)));
    return false;
  }
  out = entry.value.Scalar();
  return true;
}

bool MapReader::read_string(std::string_view key, std::string& out) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  if (text.empty()) {
    error(*entry, "must not be empty");
    return false;
  }
  out = std::move(text);
  return true;
}

bool MapReader::read_integer(std::string_view key, int64_t& out, int64_t min, int64_t max) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  auto value = parse_integer(text);
  if (!value) {
    error(*entry, value.error());
    return false;
  }
  if (*value < min || *value > max) {
    error(*entry, *value < min ? "must be at least " + std::to_string(min) + ", got " + text
                               : "must be at most " + std::to_string(max) + ", got " + text);
    return false;
  }
  out = *value;
  return true;
}

bool MapReader::read_integer(std::string_view key, int& out, int64_t min, int64_t max) const {
  int64_t value = 0;
  if (!read_integer(key, value, min, max)) return false;
  out = static_cast<int>(value);
  return true;
}

bool MapReader::read_size(std::string_view key, int64_t& out, int64_t min, int64_t max) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  auto value = parse_size(text);
  if (!value) {
    error(*entry, value.error());
    return false;
  }
  if (*value < min || *value > max) {
    error(*entry, *value < min ? "must be at least " + std::to_string(min) + " bytes, got " + text
                               : "must be at most " + std::to_string(max) + " bytes, got " + text);
    return false;
  }
  out = *value;
  return true;
}

bool MapReader::read_duration(std::string_view key, Nanos& out) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  auto value = parse_duration(text);
  if (!value) {
    error(*entry, value.error());
    return false;
  }
  if (*value <= 0) {
    error(*entry, "must be longer than zero, got " + text);
    return false;
  }
  out = *value;
  return true;
}

bool MapReader::read_bool(std::string_view key, bool& out) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  if (text != "true" && text != "false") {
    error(*entry, "expected true or false, got '" + text + "'");
    return false;
  }
  out = text == "true";
  return true;
}

bool MapReader::read_file_mode(std::string_view key, int& out) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  auto value = parse_file_mode(text);
  if (!value) {
    error(*entry, value.error());
    return false;
  }
  out = *value;
  return true;
}

bool MapReader::read_instant(std::string_view key, Nanos& out) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  auto value = parse_instant(text);
  if (!value) {
    error(*entry, value.error());
    return false;
  }
  out = *value;
  return true;
}

bool MapReader::read_timezone(std::string_view key, std::string& out) const {
  const Entry* entry = find(key);
  std::string text;
  if (entry == nullptr || !scalar(*entry, text)) return false;
  cctz::time_zone zone;
  if (text.empty() || !cctz::load_time_zone(text, &zone)) {
    error(*entry, "unknown time zone '" + text + "' (expected an IANA name like Asia/Shanghai or UTC)");
    return false;
  }
  out = std::move(text);
  return true;
}

bool MapReader::read_string_list(std::string_view key, std::vector<std::string>& out) const {
  const Entry* entry = find(key);
  if (entry == nullptr) return false;
  const std::string path = path_of(key);
  std::vector<std::string> values;
  bool ok = entry->value.IsNull() || entry->value.IsSequence();
  for (const YAML::Node& item : sequence_items(errors_, entry->value, path, entry->key_line)) {
    const int line = line_of(item, entry->key_line);
    if (!item.IsScalar() || item.Scalar().empty()) {
      errors_.add(line, path + ": items must be non-empty names");
      ok = false;
    } else if (std::find(values.begin(), values.end(), item.Scalar()) != values.end()) {
      errors_.add(line, path + ": duplicate item '" + item.Scalar() + "'");
      ok = false;
    } else {
      values.push_back(item.Scalar());
    }
  }
  if (ok) out = std::move(values);
  return ok;
}

MapReader child(ErrorSink& errors, const MapReader& parent, std::string_view key,
                std::initializer_list<std::string_view> known_keys) {
  const MapReader::Entry* entry = parent.find(key);
  return MapReader(errors, entry != nullptr ? entry->value : YAML::Node(), parent.path_of(key), known_keys,
                   entry != nullptr ? entry->key_line : parent.line());
}

}  // namespace tollgate
