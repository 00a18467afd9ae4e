// The value syntaxes of the configuration: integers, durations ("250ms"),
// byte sizes ("64k"), file modes ("0660") and instants with an offset
// ("2027-06-30T00:00:00+08:00"). Pure functions; errors are short reasons
// without position. Thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "tollgate/time.h"

namespace tollgate {

// A decimal integer with optional sign; anything else or int64 overflow fails.
std::expected<int64_t, std::string> parse_integer(std::string_view text);

// A non-negative integer followed by one unit: ns, us, ms, s, m, h, d.
// A bare number fails (the unit is never guessed). Overflow-checked.
std::expected<Nanos, std::string> parse_duration(std::string_view text);

// Bytes: a non-negative integer, optionally followed by k, m or g (also kb,
// kib, ...; any case). Units are binary: 1k = 1024. Overflow-checked.
std::expected<int64_t, std::string> parse_size(std::string_view text);

// Permission bits written in octal, with or without a leading 0 or 0o
// ("0660", "660", "0o660"); at most 0777.
std::expected<int, std::string> parse_file_mode(std::string_view text);

// ISO-8601 instant with a mandatory UTC offset or Z, optional fraction:
// "2027-06-30T00:00:00+08:00", "2027-06-30T00:00:00.5Z". Range-checked.
std::expected<Nanos, std::string> parse_instant(std::string_view text);

// "250ms", "10m", "1d": the largest unit that divides `d` exactly.
std::string format_duration(Nanos d);

// "2027-06-29T16:00:00Z" (UTC, fraction only when non-zero).
std::string format_instant(Nanos t);

}  // namespace tollgate
