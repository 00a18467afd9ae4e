// Renderers for field/value replies: CONTRACT, LEDGER, EVENTS and INFO.
#include <fmt/format.h>

#include <algorithm>

#include "cli/render.h"
#include "cli/render_util.h"
#include "cli/table.h"

namespace tollgate::cli {
namespace {

using detail::money_cell;
using detail::unexpected_reply;
using detail::write_money_json;
using detail::write_number_or_string;

constexpr std::string_view kLimitPrefix = "limit.";

bool is_money_field(std::string_view field) { return field == "balance" || field == "wallet" || field == "amount"; }

bool contains(std::initializer_list<std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// "limit.<name>.<part>" -> {name, part}; names may themselves contain dots.
std::optional<std::pair<std::string, std::string>> split_limit_field(std::string_view field) {
  if (!field.starts_with(kLimitPrefix)) return std::nullopt;
  field.remove_prefix(kLimitPrefix.size());
  const size_t dot = field.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == field.size()) return std::nullopt;
  return std::pair{std::string(field.substr(0, dot)), std::string(field.substr(dot + 1))};
}

// The limits table: one row per limit, one column per part, in first-seen order.
std::string limits_table(const FieldList& fields) {
  std::vector<std::string> names;
  std::vector<std::string> parts;
  for (const auto& [field, value] : fields) {
    auto split = split_limit_field(field);
    if (!split) continue;
    if (std::find(names.begin(), names.end(), split->first) == names.end()) names.push_back(split->first);
    if (std::find(parts.begin(), parts.end(), split->second) == parts.end()) parts.push_back(split->second);
  }
  if (names.empty()) return {};
  std::vector<std::string> headers{"name"};
  std::vector<Table::Align> align{Table::Align::kLeft};
  for (const auto& part : parts) {
    headers.push_back(part == "reset_after_ms" ? "reset_after" : part);
    align.push_back(Table::Align::kRight);
  }
  std::vector<std::vector<std::string>> rows(names.size(), std::vector<std::string>(parts.size() + 1));
  for (size_t i = 0; i < names.size(); ++i) rows[i][0] = names[i];
  for (const auto& [field, value] : fields) {
    auto split = split_limit_field(field);
    if (!split) continue;
    const size_t row = std::find(names.begin(), names.end(), split->first) - names.begin();
    const size_t column = std::find(parts.begin(), parts.end(), split->second) - parts.begin() + 1;
    const auto ms = parse_int64(value);
    rows[row][column] = split->second == "reset_after_ms" && ms ? format_duration_ms(*ms) : value;
  }
  Table table(std::move(headers), std::move(align));
  for (auto& row : rows) table.add_row(std::move(row));
  return table.render();
}

std::string contract_cell(std::string_view field, const std::string& value, int decimals) {
  if (is_money_field(field)) return money_cell(value, decimals, field == "balance");
  if (field == "credits" || field == "distinct_subjects_estimate") {
    if (const auto n = parse_int64(value)) return format_count(*n);
  }
  return value;
}

// The field/value entries of a LEDGER or EVENTS reply, or why not.
std::expected<std::vector<FieldList>, std::string> entries_of(const Value& reply) {
  if (reply.kind != ValueKind::kArray) return std::unexpected(describe(reply));
  std::vector<FieldList> entries;
  for (const Value& entry : reply.elements) {
    auto fields = field_pairs(entry);
    if (!fields) return std::unexpected(fields.error());
    entries.push_back(std::move(*fields));
  }
  return entries;
}

// One entry as a JSON object: seq/time_ms as numbers, money as decimals.
void write_entry_json(JsonWriter& json, const FieldList& fields, int decimals) {
  json.begin_object();
  for (const auto& [field, value] : fields) {
    if (is_money_field(field)) {
      write_money_json(json, field, value, decimals, false);
    } else {
      json.key(field);
      if (contains({"seq", "time_ms", "lot"}, field)) write_number_or_string(json, value);
      else json.string(value);
    }
  }
  json.end_object();
}

std::string time_cell(const std::string& value) {
  const auto ms = parse_int64(value);
  return ms ? format_utc_ms(*ms) : value;
}

// A value for a key=value line: quoted when it holds blanks or is empty.
std::string event_value(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \t\"") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

Output render_contract(std::string_view key, const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  auto fields = field_pairs(reply);
  if (!fields) return render_failure("unexpected reply to CONTRACT: " + fields.error(), options);
  Output output;
  if (options.json) {
    JsonWriter json;
    json.begin_object().key("key").string(key);
    for (const auto& [field, value] : *fields) {
      if (is_money_field(field)) {
        write_money_json(json, field, value, options.decimals, field == "balance");
      } else {
        json.key(field);
        // Counts become numbers (text that is not one stays a string).
        if (contains({"credits", "lots", "distinct_subjects_estimate"}, field) || split_limit_field(field))
          write_number_or_string(json, value);
        else json.string(value);
      }
    }
    output.out = json.end_object().finish();
    return output;
  }
  Table table({});
  table.add_row({"contract", std::string(key)});
  for (const auto& [field, value] : *fields)
    if (!split_limit_field(field)) table.add_row({field, contract_cell(field, value, options.decimals)});
  output.out = table.render();
  if (const std::string limits = limits_table(*fields); !limits.empty()) output.out += "\nlimits\n" + limits;
  return output;
}

namespace {

// LEDGER as a table, one column per field (first-seen order).
std::string ledger_table(const std::vector<FieldList>& entries, int decimals) {
  std::vector<std::string> columns;
  for (const auto& entry : entries)
    for (const auto& [field, value] : entry)
      if (std::find(columns.begin(), columns.end(), field) == columns.end()) columns.push_back(field);
  std::vector<std::string> headers;
  std::vector<Table::Align> align;
  for (const auto& field : columns) {
    headers.push_back(field == "time_ms" ? "time (UTC)" : field);
    align.push_back(contains({"seq", "amount", "lot"}, field) ? Table::Align::kRight : Table::Align::kLeft);
  }
  Table table(std::move(headers), std::move(align));
  for (const auto& entry : entries) {
    std::vector<std::string> row(columns.size());
    for (const auto& [field, value] : entry) {
      const size_t column = std::find(columns.begin(), columns.end(), field) - columns.begin();
      row[column] = field == "time_ms"        ? time_cell(value)
                    : is_money_field(field) ? money_cell(value, decimals, false)
                                            : value;
    }
    table.add_row(std::move(row));
  }
  return table.render();
}

// EVENTS as one `field=value …` line each.
std::string event_lines(const std::vector<FieldList>& entries, int decimals) {
  std::string out;
  for (const auto& entry : entries) {
    std::string line;
    for (const auto& [field, value] : entry) {
      if (!line.empty()) line += ' ';
      if (field == "time_ms") line += "time=" + time_cell(value);
      else if (is_money_field(field)) line += field + "=" + event_value(money_cell(value, decimals, false));
      else line += field + "=" + event_value(value);
    }
    out += line + "\n";
  }
  return out;
}

// LEDGER and EVENTS: an array of field/value entries. Errors, JSON and the
// empty list are rendered alike; `text` renders a non-empty list.
template <typename Text>
Output render_entry_list(const Value& reply, const RenderOptions& options, std::string_view command,
                         std::string_view none, Text&& text) {
  if (reply.is_error()) return render_error_reply(reply, options);
  auto entries = entries_of(reply);
  if (!entries)
    return render_failure("unexpected reply to " + std::string(command) + ": " + entries.error(), options);
  Output output;
  if (options.json) {
    JsonWriter json;
    json.begin_array();
    for (const auto& entry : *entries) write_entry_json(json, entry, options.decimals);
    output.out = json.end_array().finish();
  } else {
    output.out = entries->empty() ? std::string(none) + "\n" : text(*entries, options.decimals);
  }
  return output;
}

}  // namespace

Output render_ledger(const Value& reply, const RenderOptions& options) {
  return render_entry_list(reply, options, "LEDGER", "no ledger entries", ledger_table);
}

Output render_events(const Value& reply, const RenderOptions& options) {
  return render_entry_list(reply, options, "EVENTS", "no events", event_lines);
}

Output render_followed_events(const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  auto entries = entries_of(reply);
  if (!entries) return render_failure("unexpected reply to EVENTS FOLLOW: " + entries.error(), options);
  Output output;
  if (!options.json) {
    output.out = event_lines(*entries, options.decimals);
    return output;
  }
  for (const auto& entry : *entries) {
    JsonWriter json;
    write_entry_json(json, entry, options.decimals);
    output.out += json.finish();
  }
  return output;
}

Output render_info(const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  if (!reply.is_text()) return unexpected_reply("INFO", reply, options);
  Output output;
  std::string_view text = reply.text;
  if (!options.json) {
    for (char c : text)
      if (c != '\r') output.out += c;
    if (!output.out.empty() && output.out.back() != '\n') output.out += '\n';
    return output;
  }
  // {"server": {"tollgate_version": "0.1.0", ...}, ...}; keys before any
  // "# Section" header go to the top level.
  JsonWriter json;
  json.begin_object();
  bool in_section = false;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() == '#') {
      std::string name(line.substr(1));
      name.erase(0, name.find_first_not_of(' '));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (in_section) json.end_object();
      json.key(name).begin_object();
      in_section = true;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    json.key(line.substr(0, colon)).string(line.substr(colon + 1));
  }
  if (in_section) json.end_object();
  output.out = json.end_object().finish();
  return output;
}

}  // namespace tollgate::cli
