// A decoded RESP2 reply as the CLI sees it: a small owned tree, so rendering
// can be unit-tested without hiredis or a server. Plain value type; not
// thread-safe to mutate, safe to share read-only.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::cli {

enum class ValueKind : uint8_t { kStatus, kError, kInteger, kBulk, kNil, kArray };

struct Value {
  ValueKind kind = ValueKind::kNil;
  int64_t integer = 0;         // kInteger
  std::string text;            // kStatus, kError, kBulk
  std::vector<Value> elements; // kArray

  static Value status(std::string text) { return {ValueKind::kStatus, 0, std::move(text), {}}; }
  static Value error(std::string text) { return {ValueKind::kError, 0, std::move(text), {}}; }
  static Value number(int64_t n) { return {ValueKind::kInteger, n, {}, {}}; }
  static Value bulk(std::string text) { return {ValueKind::kBulk, 0, std::move(text), {}}; }
  static Value nil() { return {}; }
  static Value array(std::vector<Value> elements) {
    return {ValueKind::kArray, 0, {}, std::move(elements)};
  }

  bool is_error() const { return kind == ValueKind::kError; }
  // True for a status or bulk string (the two carry text the same way).
  bool is_text() const { return kind == ValueKind::kStatus || kind == ValueKind::kBulk; }
};

using FieldList = std::vector<std::pair<std::string, std::string>>;

// Reads a flat field/value array (as HGETALL returns) into ordered pairs.
// Integer elements are accepted and written in decimal; anything else, or an
// odd count, is an error naming the problem.
[[nodiscard]] std::expected<FieldList, std::string> field_pairs(const Value& value);

// A short one-line description of a reply, for "unexpected reply" messages.
[[nodiscard]] std::string describe(const Value& value);

}  // namespace tollgate::cli
