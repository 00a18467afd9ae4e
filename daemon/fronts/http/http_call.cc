#include "fronts/http/http_call.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/check_request_parser.h"
#include "commands/command_table.h"

namespace tollgate::fronts {
namespace {

constexpr std::string_view kHeaderNames[] = {"Tollgate-Key",     "Tollgate-Channel", "Tollgate-Purpose",
                                             "Tollgate-Subject", "Tollgate-Cost",    "Tollgate-Id"};
constexpr std::string_view kParameterNames[] = {"key", "channel", "purpose", "subject", "cost", "id"};
constexpr std::string_view kOptionNames[] = {"", "CHANNEL", "PURPOSE", "SUBJECT", "COST", "ID"};

int query_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes [begin, end) in place; returns the new end, or null on a bad escape.
char* decode(char* begin, char* end) {
  char* out = begin;
  for (char* in = begin; in < end; ++in) {
    if (*in == '+') {
      *out++ = ' ';
    } else if (*in == '%') {
      if (end - in < 3 || query_hex_value(in[1]) < 0 || query_hex_value(in[2]) < 0) return nullptr;
      *out++ = static_cast<char>(query_hex_value(in[1]) * 16 + query_hex_value(in[2]));
      in += 2;
    } else {
      *out++ = *in;
    }
  }
  return out;
}

std::string twice(HttpCall::Field f) {
  return fmt::format("{} given twice (as a header, a query parameter or in the body: use one)", parameter_name(f));
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string_view header_name(HttpCall::Field f) { return kHeaderNames[f]; }
std::string_view parameter_name(HttpCall::Field f) { return kParameterNames[f]; }

SetResult set_from_header(HttpCall& call, std::string_view name, std::string_view value) {
  if (name.size() < 12 || !equals_ignore_case(name.substr(0, 9), "tollgate-")) return SetResult::kNotOurs;
  for (int f = 0; f < HttpCall::kFieldCount; ++f) {
    if (!equals_ignore_case(name, kHeaderNames[f])) continue;
    if (call.given[f]) return SetResult::kTwice;
    call.given[f] = true;
    call.value[f] = value;
    return SetResult::kSet;
  }
  return SetResult::kNotOurs;
}

std::expected<void, std::string> read_query(std::span<char> query, HttpCall& call) {
  char* p = query.data();
  char* const end = query.data() + query.size();
  while (p < end) {
    char* amp = std::find(p, end, '&');
    char* eq = std::find(p, amp, '=');
    if (eq == p && amp == p) {  // "&&"
      p = amp + 1;
      continue;
    }
    char* name_end = decode(p, eq);
    if (name_end == nullptr) return std::unexpected("bad percent-encoding in the query string");
    std::string_view name(p, static_cast<size_t>(name_end - p));
    char* value_begin = eq < amp ? eq + 1 : amp;
    char* value_end = decode(value_begin, amp);
    if (value_end == nullptr) return std::unexpected("bad percent-encoding in the query string");
    int field = -1;
    for (int f = 0; f < HttpCall::kFieldCount; ++f)
      if (name == kParameterNames[f]) field = f;
    if (field < 0)
      return std::unexpected(fmt::format("unknown query parameter '{}' (expected key, channel, purpose, subject, cost, id)",
                                         name.substr(0, 64)));
    if (call.given[field]) return std::unexpected(twice(static_cast<HttpCall::Field>(field)));
    call.given[field] = true;
    call.value[field] = std::string_view(value_begin, static_cast<size_t>(value_end - value_begin));
    p = amp < end ? amp + 1 : end;
  }
  return {};
}

std::expected<void, std::string> read_json(std::string_view body, HttpCall& call,
                                           std::array<std::string, HttpCall::kFieldCount>& storage) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::unexpected("the body is not valid JSON");
  if (!doc.is_object()) return std::unexpected("the body must be a JSON object like {\"key\": \"contract:acme\", \"cost\": 1}");
  for (const auto& [name, value] : doc.items()) {
    int field = -1;
    for (int f = 0; f < HttpCall::kFieldCount; ++f)
      if (name == kParameterNames[f]) field = f;
    if (field < 0)
      return std::unexpected(fmt::format("unknown field '{}' (expected key, channel, purpose, subject, cost, id)",
                                         std::string_view(name).substr(0, 64)));
    if (call.given[field]) return std::unexpected(twice(static_cast<HttpCall::Field>(field)));
    if (value.is_string()) {
      storage[field] = value.get<std::string>();
    } else if (value.is_number_integer()) {
      storage[field] = value.dump();
    } else {
      return std::unexpected(fmt::format("field '{}' must be a string or an integer", name));
    }
    call.given[field] = true;
    call.value[field] = storage[field];
  }
  return {};
}

std::expected<CheckRequest, std::string> to_check_request(const HttpCall& call, size_t max_key) {
  if (!call.given[HttpCall::kKey] || call.value[HttpCall::kKey].empty())
    return std::unexpected("no key: send the Tollgate-Key header (or ?key=, or \"key\" in a JSON body)");
  if (call.value[HttpCall::kKey].size() > max_key)
    return std::unexpected(fmt::format("the key is longer than server.max_key ({} bytes)", max_key));
  std::string_view args[2 + 2 * (HttpCall::kFieldCount - 1)];
  size_t n = 0;
  args[n++] = "CHECK";
  args[n++] = call.value[HttpCall::kKey];
  for (int f = 1; f < HttpCall::kFieldCount; ++f) {
    if (!call.given[f]) continue;
    args[n++] = kOptionNames[f];
    args[n++] = call.value[f];
  }
  auto req = parse_check_request(std::span<const std::string_view>(args, n));
  if (!req) {
    std::string_view text = req.error();
    if (text.starts_with("ERR ")) text.remove_prefix(4);
    // The RESP option names are the HTTP field names, upper-cased.
    return std::unexpected(std::string(text));
  }
  return req;
}

void append_json_decision(std::string& out, const Decision& d) {
  out += "{\"allowed\":";
  out += d.allowed ? "true" : "false";
  out += ",\"code\":";
  append_json_string(out, code_name(d.code));
  out += ",\"limit\":";
  append_json_string(out, d.limit);
  fmt::format_to(std::back_inserter(out), ",\"remaining\":{},\"retry_after_ms\":{},\"reset_after_ms\":{},\"balance\":{}}}",
                 d.remaining, d.retry_after_ms, d.reset_after_ms, d.balance);
}

}  // namespace tollgate::fronts
