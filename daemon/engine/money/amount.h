// Money as text: exact decimal strings <-> int64 minor units, never floating
// point. Pure functions; thread-safe; no state.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace tollgate {

// The most fractional digits an amount may have (10^18 still fits int64).
inline constexpr int kMaxAmountDecimals = 18;

// Parses a non-negative decimal such as "150000.00", "0.1" or "1" into minor
// units with `decimals` fractional digits ("0.1", 2 -> 10). Accepts only
// [0-9]+ optionally followed by '.' and 1..`decimals` digits; rejects signs,
// exponents, blanks, leading zeros ("007"), a bare "." or "1.", more
// fractional digits than `decimals` (no rounding) and values above INT64_MAX.
[[nodiscard]] std::expected<int64_t, std::string> parse_amount(std::string_view decimal,
                                                               int decimals);

// Formats minor units as a decimal with exactly `decimals` fractional digits:
// (15000000, 2) -> "150000.00", (-5, 2) -> "-0.05", (7, 0) -> "7". Exact for
// every int64 including INT64_MIN. `decimals` is clamped to 0..18.
[[nodiscard]] std::string format_amount(int64_t minor, int decimals);

// Parses plain non-negative integer minor units ("15000000"): digits only, no
// sign, no leading zeros except "0" itself, at most INT64_MAX.
[[nodiscard]] std::expected<int64_t, std::string> parse_minor(std::string_view text);

}  // namespace tollgate
