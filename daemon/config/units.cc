#include "config/units.h"

#include <cctz/time_zone.h>

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

namespace tollgate {
namespace {

// 'text' in quotes, built by appends (GCC 12 -O3 misreads "'" + string as overlapping copies: -Wrestrict).
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

struct Unit {
  std::string_view suffix;
  int64_t scale;
};

// Longest suffixes first so "ms" is not read as "m".
constexpr std::array<Unit, 7> kDurationUnits = {{
    {"ns", 1},
    {"us", kNanosPerMicro},
    {"ms", kNanosPerMilli},
    {"s", kNanosPerSecond},
    {"m", 60 * kNanosPerSecond},
    {"h", 3600 * kNanosPerSecond},
    {"d", 86400 * kNanosPerSecond},
}};
constexpr std::string_view kDurationUnitList = "ns, us, ms, s, m, h, d";

constexpr std::array<Unit, 10> kSizeUnits = {{
    {"kib", int64_t{1} << 10},
    {"mib", int64_t{1} << 20},
    {"gib", int64_t{1} << 30},
    {"kb", int64_t{1} << 10},
    {"mb", int64_t{1} << 20},
    {"gb", int64_t{1} << 30},
    {"k", int64_t{1} << 10},
    {"m", int64_t{1} << 20},
    {"g", int64_t{1} << 30},
    {"b", 1},
}};

// Splits "250ms" into 250 and "ms". Fails with an empty reason when there are
// no leading digits (the caller says what it expected) or a reason on overflow.
std::expected<std::pair<int64_t, std::string_view>, std::string> split_number(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return std::unexpected(std::string{});
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc{}) return std::unexpected(quoted(text) + " is too large");
  (void)ptr;
  return std::pair{value, text.substr(digits)};
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::expected<int64_t, std::string> parse_integer(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return std::unexpected(quoted(text) + " does not fit in a 64-bit integer");
  }
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || digits.empty()) {
    return std::unexpected("expected an integer, got '" + std::string(text) + "'");
  }
  return value;
}

std::expected<Nanos, std::string> parse_duration(std::string_view text) {
  if (!text.empty() && text.front() == '-') {
    return std::unexpected("duration must not be negative, got '" + std::string(text) + "'");
  }
  auto split = split_number(text);
  if (!split && !split.error().empty()) return std::unexpected(split.error());
  if (!split) {
    return std::unexpected("expected a duration like 250ms or 1s (units: " + std::string(kDurationUnitList) +
                           "), got '" + std::string(text) + "'");
  }
  auto [number, suffix] = *split;
  if (suffix.empty()) {
    return std::unexpected("duration '" + std::string(text) + "' needs a unit (" + std::string(kDurationUnitList) +
                           "), e.g. " + std::string(text) + "s");
  }
  for (const Unit& unit : kDurationUnits) {
    if (suffix != unit.suffix) continue;
    Nanos result = 0;
    if (__builtin_mul_overflow(number, unit.scale, &result)) {
      return std::unexpected("duration '" + std::string(text) + "' is too long (at most about 292 years)");
    }
    return result;
  }
  return std::unexpected("unknown duration unit '" + std::string(suffix) + "' in '" + std::string(text) +
                         "' (units: " + std::string(kDurationUnitList) + ")");
}

std::expected<int64_t, std::string> parse_size(std::string_view text) {
  if (!text.empty() && text.front() == '-') {
    return std::unexpected("size must not be negative, got '" + std::string(text) + "'");
  }
  auto split = split_number(text);
  if (!split && !split.error().empty()) return std::unexpected(split.error());
  if (!split) {
    return std::unexpected("expected a size in bytes like 65536, 64k or 1m, got '" + std::string(text) + "'");
  }
  auto [number, suffix] = *split;
  if (suffix.empty()) return number;
  const std::string unit_name = lower(suffix);
  for (const Unit& unit : kSizeUnits) {
    if (unit_name != unit.suffix) continue;
    int64_t result = 0;
    if (__builtin_mul_overflow(number, unit.scale, &result)) {
      return std::unexpected("size '" + std::string(text) + "' is too large");
    }
    return result;
  }
  return std::unexpected("unknown size unit '" + std::string(suffix) + "' in '" + std::string(text) +
                         "' (units: k, m, g; binary, 1k = 1024)");
}

std::expected<int, std::string> parse_file_mode(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("0o") || digits.starts_with("0O")) digits.remove_prefix(2);
  int value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 8);
  if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || value > 0777) {
    return std::unexpected("expected an octal file mode like 0660, got '" + std::string(text) + "'");
  }
  return value;
}

std::expected<Nanos, std::string> parse_instant(std::string_view text) {
  const std::string input(text);
  cctz::time_point<cctz::seconds> seconds;
  cctz::detail::femtoseconds fraction;
  if (!cctz::detail::parse("%Y-%m-%dT%H:%M:%E*S%Ez", input, cctz::utc_time_zone(), &seconds, &fraction)) {
    return std::unexpected("expected an instant with a UTC offset like 2027-06-30T00:00:00+08:00 or "
                           "2027-06-30T00:00:00Z, got '" + input + "'");
  }
  const int64_t whole = seconds.time_since_epoch().count();
  Nanos result = 0;
  if (__builtin_mul_overflow(whole, kNanosPerSecond, &result) ||
      __builtin_add_overflow(result, fraction.count() / 1'000'000, &result)) {
    return std::unexpected("instant '" + input + "' is outside 1677..2262");
  }
  return result;
}

std::string format_duration(Nanos d) {
  if (d == 0) return "0s";
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    if (d % it->scale == 0) return std::to_string(d / it->scale) + std::string(it->suffix);
  }
  return std::to_string(d) + "ns";
}

std::string format_instant(Nanos t) {
  const cctz::time_point<std::chrono::nanoseconds> tp{std::chrono::nanoseconds(t)};
  const char* format = t % kNanosPerSecond == 0 ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%E*SZ";
  return cctz::format(format, tp, cctz::utc_time_zone());
}

}  // namespace tollgate
