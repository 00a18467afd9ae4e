#include "engine/money/amount.h"

#include <algorithm>

namespace tollgate {
namespace {

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Appends one decimal digit to `value`; false on int64 overflow.
bool push_digit(int64_t& value, int digit) {
  return !__builtin_mul_overflow(value, 10, &value) &&
         !__builtin_add_overflow(value, digit, &value);
}

// The reason `text` is not a plain unsigned integer, or empty when it is.
std::string integer_syntax_error(std::string_view text, std::string_view what) {
  if (text.empty()) return std::string(what) + " is empty";
  if (text.front() == '-') return std::string(what) + " must not be negative";
  if (text.find_first_of("eE") != std::string_view::npos)
    return std::string(what) + " must not use an exponent";
  if (!all_digits(text)) return std::string(what) + " is not a number";
  if (text.size() > 1 && text.front() == '0')
    return std::string(what) + " must not have leading zeros";
  return {};
}

}  // namespace

std::expected<int64_t, std::string> parse_amount(std::string_view decimal, int decimals) {
  if (decimals < 0 || decimals > kMaxAmountDecimals)
    return std::unexpected("decimals must be 0..18");
  const size_t dot = decimal.find('.');
  const std::string_view whole = decimal.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view{} : decimal.substr(dot + 1);
  if (decimal.empty()) return std::unexpected("amount is empty");
  if (decimal.front() == '-') return std::unexpected("amount must not be negative");
  if (decimal.find_first_of("eE") != std::string_view::npos)
    return std::unexpected("amount must not use an exponent");
  if (whole.empty()) return std::unexpected("amount must start with a digit");
  if (std::string error = integer_syntax_error(whole, "amount"); !error.empty())
    return std::unexpected(std::move(error));
  if (dot != std::string_view::npos) {
    if (fraction.empty()) return std::unexpected("amount has no digits after '.'");
    if (!all_digits(fraction)) return std::unexpected("amount is not a number");
    if (fraction.size() > static_cast<size_t>(decimals))
      return std::unexpected("amount has more than " + std::to_string(decimals) +
                             " fractional digits");
  }
  int64_t value = 0;
  for (char c : whole)
    if (!push_digit(value, c - '0')) return std::unexpected("amount is too large");
  for (int i = 0; i < decimals; ++i) {
    const int digit = static_cast<size_t>(i) < fraction.size() ? fraction[i] - '0' : 0;
    if (!push_digit(value, digit)) return std::unexpected("amount is too large");
  }
  return value;
}

std::string format_amount(int64_t minor, int decimals) {
  decimals = std::clamp(decimals, 0, kMaxAmountDecimals);
  // Unsigned magnitude so INT64_MIN needs no special case.
  const uint64_t magnitude = minor < 0 ? 0 - static_cast<uint64_t>(minor)
                                       : static_cast<uint64_t>(minor);
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string out = minor < 0 ? "-" : "";
  out += std::to_string(magnitude / scale);
  if (decimals > 0) {
    const std::string fraction = std::to_string(magnitude % scale);
    out += '.';
    out.append(static_cast<size_t>(decimals) - fraction.size(), '0');
    out += fraction;
  }
  return out;
}

std::expected<int64_t, std::string> parse_minor(std::string_view text) {
  if (std::string error = integer_syntax_error(text, "minor units"); !error.empty())
    return std::unexpected(std::move(error));
  int64_t value = 0;
  for (char c : text)
    if (!push_digit(value, c - '0')) return std::unexpected("minor units are too large");
  return value;
}

}  // namespace tollgate
