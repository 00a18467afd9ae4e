// One /v1/check or /v1/peek call as the HTTP front receives it: the fields
// from Tollgate-* request headers, query parameters or a JSON body, turned
// into the same CheckRequest the RESP CHECK builds (through the same
// parse_check_request, so both fronts accept and refuse exactly the same),
// and the decision written back as JSON.
// Thread-safety: pure functions over caller-owned values.
#pragma once

#include <array>
#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "tollgate/decision.h"

namespace tollgate::fronts {

// The call's fields, as text (views into the request or the JSON storage).
struct HttpCall {
  enum Field { kKey, kChannel, kPurpose, kSubject, kCost, kId, kFieldCount };
  std::array<std::string_view, kFieldCount> value{};
  std::array<bool, kFieldCount> given{};
};

// The header name (Tollgate-Key, …) and query/JSON name (key, …) of a field.
std::string_view header_name(HttpCall::Field f);
std::string_view parameter_name(HttpCall::Field f);

enum class SetResult { kNotOurs, kSet, kTwice };
// A request header: sets the field it names (case-insensitive), if any.
SetResult set_from_header(HttpCall& call, std::string_view name, std::string_view value);
// The query string (after '?'), percent-decoded in place ('+' is a space).
// Unknown parameters are refused (a misspelt `chanel` must not be ignored).
// The error is the text of a 400 answer.
std::expected<void, std::string> read_query(std::span<char> query, HttpCall& call);
// A JSON body: one flat object whose values are strings or integers (cost
// may be either). `storage` keeps the decoded strings the views point into.
std::expected<void, std::string> read_json(std::string_view body, HttpCall& call,
                                           std::array<std::string, HttpCall::kFieldCount>& storage);
// The CheckRequest of a call (key required; `max_key`: server.max_key). The
// error is the text of a 400 answer.
std::expected<CheckRequest, std::string> to_check_request(const HttpCall& call, size_t max_key);

// Appends the decision as a JSON object with the 7 fields by name.
void append_json_decision(std::string& out, const Decision& d);

}  // namespace tollgate::fronts
