// Helpers shared by the render_*.cc files; not part of the CLI's interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cli/json_writer.h"
#include "cli/render.h"
#include "cli/text_format.h"

namespace tollgate::cli::detail {

// A reply of the wrong shape: a bug on one side or the other; exit 2.
inline Output unexpected_reply(std::string_view command, const Value& reply, const RenderOptions& options) {
  return render_failure("unexpected reply to " + std::string(command) + ": " + describe(reply), options);
}

// A money field for JSON: "<name>": "1234.56" (null when -1 or not an
// integer), "<name>_minor": 123456 (the raw text when not an integer).
inline void write_money_json(JsonWriter& json, std::string_view name, std::string_view raw, int decimals,
                             bool minus_one_is_none) {
  const std::optional<int64_t> minor = parse_int64(raw);
  json.key(name);
  if (minor && !(minus_one_is_none && *minor == -1)) json.string(format_amount_plain(*minor, decimals));
  else json.null();
  json.key(std::string(name) + "_minor");
  if (minor) json.number(*minor);
  else json.string(raw);
}

// A money field for people: grouped decimal, "none" for -1 when that means
// "no pricing", the raw text when it is not an integer.
inline std::string money_cell(std::string_view raw, int decimals, bool minus_one_is_none) {
  const std::optional<int64_t> minor = parse_int64(raw);
  if (!minor) return std::string(raw);
  if (minus_one_is_none && *minor == -1) return "none";
  return format_money(*minor, decimals);
}

// A number for JSON when `raw` is a canonical integer, else the string.
inline void write_number_or_string(JsonWriter& json, std::string_view raw) {
  if (const auto n = parse_int64(raw)) json.number(*n);
  else json.string(raw);
}

}  // namespace tollgate::cli::detail
