// File names that carry a journal sequence: <prefix><16 decimal digits>, as
// journal segments ("journal.") and snapshots ("snapshot.") are named, so
// they sort by name in sequence order. Pure functions; thread-safe.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::files {

inline constexpr size_t kSeqDigits = 16;

inline std::string seq_file_name(std::string_view prefix, uint64_t seq) {
  char digits[kSeqDigits + 1];
  std::snprintf(digits, sizeof digits, "%016llu", static_cast<unsigned long long>(seq));
  return std::string(prefix) + digits;
}

// The sequence in `name`, or nullopt unless it is exactly prefix + 16 digits.
inline std::optional<uint64_t> parse_seq_file_name(std::string_view prefix, std::string_view name) {
  if (name.size() != prefix.size() + kSeqDigits || !name.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return seq;
}

}  // namespace tollgate::files
