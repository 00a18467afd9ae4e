// Human formatting for the CLI: money with thousands separators, counts,
// durations and UTC instants, plus parsing of amounts typed by operators.
// Money goes through engine/money/amount.h only; never floating point.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::cli {

// Decimals used when neither --decimals nor the daemon's INFO says otherwise.
inline constexpr int kDefaultDecimals = 2;

// Inserts ',' every three digits of the whole part of a plain decimal:
// "1234567.89" -> "1,234,567.89", "-1000" -> "-1,000". Other text is returned as is.
[[nodiscard]] std::string group_thousands(std::string_view decimal);

// Minor units as a plain decimal for machines: (123456, 2) -> "1234.56".
[[nodiscard]] std::string format_amount_plain(int64_t minor, int decimals);

// Minor units as a grouped decimal: (123456, 2) -> "1,234.56".
[[nodiscard]] std::string format_money(int64_t minor, int decimals);

// A whole number with separators: 187500 -> "187,500".
[[nodiscard]] std::string format_count(int64_t n);

// Milliseconds since the Unix epoch as ISO-8601 UTC: "2025-01-02T03:04:05.006Z".
[[nodiscard]] std::string format_utc_ms(int64_t ms);

// A duration for people: 0 -> "0ms", 250 -> "250ms", 1500 -> "1.500s",
// 3723000 -> "1h2m3s", 90061000 -> "1d1h1m1s"; negative -> "never".
[[nodiscard]] std::string format_duration_ms(int64_t ms);

// Parses `text` as a whole int64 in canonical decimal (optional '-', no
// leading zeros, no blanks); nullopt otherwise.
[[nodiscard]] std::optional<int64_t> parse_int64(std::string_view text);

// The amount an operator typed, in minor units: a decimal with at most
// `decimals` fractional digits, or with `minor` plain minor units. Must be
// positive. The error says what is wrong in words an operator understands.
[[nodiscard]] std::expected<int64_t, std::string> parse_money_argument(std::string_view text,
                                                                      int decimals, bool minor);

// `currency_decimals:N` from an INFO reply, if present and sane (0..18).
[[nodiscard]] std::optional<int> currency_decimals_from_info(std::string_view info);

}  // namespace tollgate::cli
