#include "cli/text_format.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace tollgate::cli {
namespace {

// Verifies separators go every three whole digits and never into the fraction.
TEST(CliTextFormat, GroupThousands) {
  EXPECT_EQ(group_thousands("0.05"), "0.05");
  EXPECT_EQ(group_thousands("999"), "999");
  EXPECT_EQ(group_thousands("1000"), "1,000");
  EXPECT_EQ(group_thousands("1234567.891234"), "1,234,567.891234");
  EXPECT_EQ(group_thousands("-100000.00"), "-100,000.00");
  EXPECT_EQ(group_thousands("none"), "none");
  EXPECT_EQ(group_thousands(""), "");
}

// Verifies money formatting is exact at the int64 extremes and for every decimals value used.
TEST(CliTextFormat, FormatMoney) {
  EXPECT_EQ(format_money(123456, 2), "1,234.56");
  EXPECT_EQ(format_money(15000000, 2), "150,000.00");
  EXPECT_EQ(format_money(80, 2), "0.80");
  EXPECT_EQ(format_money(-5, 2), "-0.05");
  EXPECT_EQ(format_money(7, 0), "7");
  EXPECT_EQ(format_money(1234567, 3), "1,234.567");
  EXPECT_EQ(format_money(std::numeric_limits<int64_t>::max(), 2), "92,233,720,368,547,758.07");
  EXPECT_EQ(format_money(std::numeric_limits<int64_t>::min(), 2), "-92,233,720,368,547,758.08");
  EXPECT_EQ(format_count(187500), "187,500");
}

// Verifies operator-typed amounts: exact, at the overflow boundary, and rejected with reasons.
TEST(CliTextFormat, ParseMoneyArgument) {
  EXPECT_EQ(parse_money_argument("150000.00", 2, false), 15000000);
  EXPECT_EQ(parse_money_argument("150000", 2, false), 15000000);
  EXPECT_EQ(parse_money_argument("0.01", 2, false), 1);
  EXPECT_EQ(parse_money_argument("92233720368547758.07", 2, false), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(parse_money_argument("92233720368547758.08", 2, false).has_value());
  EXPECT_EQ(parse_money_argument("9223372036854775807", 2, true), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(parse_money_argument("9223372036854775808", 2, true).has_value());

  const auto too_precise = parse_money_argument("0.001", 2, false);
  ASSERT_FALSE(too_precise.has_value());
  EXPECT_NE(too_precise.error().find("2 fractional digits"), std::string::npos) << too_precise.error();
  const auto grouped = parse_money_argument("1,000.00", 2, false);
  ASSERT_FALSE(grouped.has_value());
  EXPECT_NE(grouped.error().find("thousands separators"), std::string::npos);
  const auto zero = parse_money_argument("0", 2, false);
  ASSERT_FALSE(zero.has_value());
  EXPECT_NE(zero.error().find("more than zero"), std::string::npos);
  const auto no_fraction = parse_money_argument("1.5", 0, false);
  ASSERT_FALSE(no_fraction.has_value());
  EXPECT_EQ(no_fraction.error(),
            "bad amount '1.5': has more than 0 fractional digits (the currency has no fractional digits)");
  EXPECT_FALSE(parse_money_argument("-1", 2, false).has_value());
  EXPECT_FALSE(parse_money_argument("1e3", 2, false).has_value());
}

// Verifies only canonical integers parse (what the daemon sends for counts and minor units).
TEST(CliTextFormat, ParseInt64) {
  EXPECT_EQ(parse_int64("0"), 0);
  EXPECT_EQ(parse_int64("-1"), -1);
  EXPECT_EQ(parse_int64("9223372036854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_int64("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  for (const char* bad : {"", "-", "-0", "01", "+1", "1.0", " 1", "1 ", "9223372036854775808", "x"})
    EXPECT_FALSE(parse_int64(bad).has_value()) << bad;
}

// Verifies UTC instants, including leap days, the epoch and before it.
TEST(CliTextFormat, FormatUtc) {
  EXPECT_EQ(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms(1'709'210'096'789), "2024-02-29T12:34:56.789Z");
  EXPECT_EQ(format_utc_ms(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_utc_ms(4'102'444'800'000), "2100-01-01T00:00:00.000Z");
}

// Verifies durations read naturally and -1 ("waiting will not help") reads "never".
TEST(CliTextFormat, FormatDuration) {
  EXPECT_EQ(format_duration_ms(0), "0ms");
  EXPECT_EQ(format_duration_ms(999), "999ms");
  EXPECT_EQ(format_duration_ms(1500), "1.500s");
  EXPECT_EQ(format_duration_ms(60'000), "1m");
  EXPECT_EQ(format_duration_ms(3'723'000), "1h2m3s");
  EXPECT_EQ(format_duration_ms(90'061'000), "1d1h1m1s");
  EXPECT_EQ(format_duration_ms(86'400'000), "1d");
  EXPECT_EQ(format_duration_ms(-1), "never");
}

// Verifies currency_decimals is found in any INFO section and ignored when absent or insane.
TEST(CliTextFormat, DecimalsFromInfo) {
  EXPECT_EQ(currency_decimals_from_info("# Server\r\ntollgate_version:0.1.0\r\ncurrency_decimals:3\r\n\r\n"), 3);
  EXPECT_EQ(currency_decimals_from_info("currency_decimals:0"), 0);
  EXPECT_EQ(currency_decimals_from_info("# Server\r\ntimezone:UTC\r\n"), std::nullopt);
  EXPECT_EQ(currency_decimals_from_info("currency_decimals:99\r\n"), std::nullopt);
  EXPECT_EQ(currency_decimals_from_info("currency_decimals:two\r\n"), std::nullopt);
  EXPECT_EQ(currency_decimals_from_info("x_currency_decimals:4\r\n"), std::nullopt);
}

}  // namespace
}  // namespace tollgate::cli
