#include "cli/reply_value.h"

#include <fmt/format.h>

namespace tollgate::cli {

std::expected<FieldList, std::string> field_pairs(const Value& value) {
  if (value.kind != ValueKind::kArray)
    return std::unexpected("expected a field/value array, got " + describe(value));
  if (value.elements.size() % 2 != 0)
    return std::unexpected(fmt::format("field/value array has an odd length ({})", value.elements.size()));
  FieldList out;
  out.reserve(value.elements.size() / 2);
  auto as_text = [](const Value& v) -> std::expected<std::string, std::string> {
    if (v.is_text()) return v.text;
    if (v.kind == ValueKind::kInteger) return std::to_string(v.integer);
    if (v.kind == ValueKind::kNil) return std::string();
    return std::unexpected("field/value array holds " + describe(v));
  };
  for (size_t i = 0; i < value.elements.size(); i += 2) {
    auto field = as_text(value.elements[i]);
    if (!field) return std::unexpected(field.error());
    auto text = as_text(value.elements[i + 1]);
    if (!text) return std::unexpected(text.error());
    out.emplace_back(std::move(*field), std::move(*text));
  }
  return out;
}

std::string describe(const Value& value) {
  switch (value.kind) {
    case ValueKind::kStatus: return fmt::format("status '{}'", value.text);
    case ValueKind::kError: return fmt::format("error '{}'", value.text);
    case ValueKind::kInteger: return fmt::format("integer {}", value.integer);
    case ValueKind::kBulk: return fmt::format("string '{}'", value.text);
    case ValueKind::kNil: return "nil";
    case ValueKind::kArray: return fmt::format("array of {}", value.elements.size());
  }
  return "unknown";
}

}  // namespace tollgate::cli
