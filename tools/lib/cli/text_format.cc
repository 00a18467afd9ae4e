#include "cli/text_format.h"

#include <fmt/format.h>

#include <charconv>

#include "engine/money/amount.h"

namespace tollgate::cli {

std::string group_thousands(std::string_view decimal) {
  const bool negative = !decimal.empty() && decimal.front() == '-';
  const std::string_view unsigned_part = decimal.substr(negative ? 1 : 0);
  const size_t dot = unsigned_part.find('.');
  const std::string_view whole = unsigned_part.substr(0, dot);
  if (whole.empty() || whole.find_first_not_of("0123456789") != std::string_view::npos)
    return std::string(decimal);
  std::string out = negative ? "-" : "";
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) out += ',';
    out += whole[i];
  }
  if (dot != std::string_view::npos) out += unsigned_part.substr(dot);
  return out;
}

std::string format_amount_plain(int64_t minor, int decimals) { return format_amount(minor, decimals); }

std::string format_money(int64_t minor, int decimals) {
  return group_thousands(format_amount(minor, decimals));
}

std::string format_count(int64_t n) { return group_thousands(std::to_string(n)); }

std::string format_utc_ms(int64_t ms) {
  // Floor division so instants before 1970 still get a non-negative millisecond.
  int64_t seconds = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  // Civil-from-days (Howard Hinnant), exact over the whole proleptic calendar.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t day_of_era = z - era * 146097;
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, month, day, second_of_day / 3600,
                     second_of_day / 60 % 60, second_of_day % 60, millis);
}

std::string format_duration_ms(int64_t ms) {
  if (ms < 0) return "never";
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{}.{:03}s", ms / 1000, ms % 1000);
  int64_t seconds = ms / 1000;
  std::string out;
  const int64_t days = seconds / 86400;
  const int64_t hours = seconds / 3600 % 24;
  const int64_t minutes = seconds / 60 % 60;
  seconds %= 60;
  if (days > 0) out += fmt::format("{}d", days);
  if (hours > 0) out += fmt::format("{}h", hours);
  if (minutes > 0) out += fmt::format("{}m", minutes);
  if (seconds > 0) out += fmt::format("{}s", seconds);
  return out;
}

std::optional<int64_t> parse_int64(std::string_view text) {
  const std::string_view digits = !text.empty() && text.front() == '-' ? text.substr(1) : text;
  if (digits.empty() || (digits.size() > 1 && digits.front() == '0')) return std::nullopt;
  if (digits == "0" && digits.size() != text.size()) return std::nullopt;  // "-0"
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::expected<int64_t, std::string> parse_money_argument(std::string_view text, int decimals, bool minor) {
  if (text.find(',') != std::string_view::npos)
    return std::unexpected(fmt::format("bad amount '{}': write it without thousands separators", text));
  auto parsed = minor ? parse_minor(text) : parse_amount(text, decimals);
  if (!parsed) {
    std::string_view reason = parsed.error();
    if (reason.starts_with("amount ")) reason.remove_prefix(7);
    const bool fraction_refused = !minor && decimals == 0 && text.find('.') != std::string_view::npos;
    return std::unexpected(fmt::format("bad amount '{}': {}{}", text, reason,
                                       fraction_refused ? " (the currency has no fractional digits)" : ""));
  }
  if (*parsed == 0) return std::unexpected(fmt::format("bad amount '{}': must be more than zero", text));
  return *parsed;
}

std::optional<int> currency_decimals_from_info(std::string_view info) {
  constexpr std::string_view kKey = "currency_decimals:";
  size_t start = 0;
  while (start < info.size()) {
    size_t end = info.find('\n', start);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with(kKey)) {
      const auto value = parse_int64(line.substr(kKey.size()));
      if (value && *value >= 0 && *value <= kMaxAmountDecimals) return static_cast<int>(*value);
      return std::nullopt;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace tollgate::cli
