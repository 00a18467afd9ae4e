// INFO's line format for names that come from the config (contract keys,
// key-class patterns, limit names): each such line is `<name><n>:k=v,k=v`,
// the way Redis writes `db0:keys=…`, with user text percent-encoded in the
// values so that every line splits into exactly one name (no ':') and a value
// whose comma-separated k=v pairs decode back to the original text.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace tollgate {

// Percent-encodes (as %XX, upper-case hex) every byte of `text` that would
// break an INFO line or its k=v fields: ':', ',', '=', '%', space, '#',
// control bytes (< 0x20, 0x7f) and bytes ≥ 0x80. Other bytes are kept.
std::string info_escape(std::string_view text);

// The inverse of info_escape (a malformed escape is kept as it is).
std::string info_unescape(std::string_view text);

}  // namespace tollgate
