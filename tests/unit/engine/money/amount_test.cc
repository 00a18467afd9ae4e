#include "engine/money/amount.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace tollgate {
namespace {

// Verifies decimal strings become exact minor units, padding short fractions.
TEST(MoneyParseAmount, ExactMinorUnits) {
  EXPECT_EQ(parse_amount("150000.00", 2), 15'000'000);
  EXPECT_EQ(parse_amount("0.1", 2), 10);
  EXPECT_EQ(parse_amount("1", 2), 100);
  EXPECT_EQ(parse_amount("0", 2), 0);
  EXPECT_EQ(parse_amount("0.05", 2), 5);
  EXPECT_EQ(parse_amount("12", 0), 12);
  EXPECT_EQ(parse_amount("1.234", 3), 1234);
}

// Verifies every malformed or lossy form is rejected with a reason.
TEST(MoneyParseAmount, RejectsJunk) {
  for (const char* bad : {"", "-1", "-0.5", "+1", "1e5", "1E5", "1.5e2", "abc", "1.2.3", " 1",
                          "1 ", "1.", ".5", "007", "0x10", "1,000", "1.-5", "nan", "inf"}) {
    const auto parsed = parse_amount(bad, 2);
    EXPECT_FALSE(parsed.has_value()) << '"' << bad << '"';
    if (!parsed) {
      EXPECT_FALSE(parsed.error().empty());
    }
  }
  EXPECT_FALSE(parse_amount("0.001", 2).has_value());  // more fraction than decimals, no rounding
  EXPECT_FALSE(parse_amount("1.5", 0).has_value());
  EXPECT_FALSE(parse_amount("1", -1).has_value());
  EXPECT_FALSE(parse_amount("1", 19).has_value());
}

// Verifies the largest representable amount parses and one more overflows.
TEST(MoneyParseAmount, OverflowBoundary) {
  EXPECT_EQ(parse_amount("92233720368547758.07", 2), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(parse_amount("92233720368547758.08", 2).has_value());
  EXPECT_FALSE(parse_amount("92233720368547758", 3).has_value());  // overflows while scaling
  EXPECT_EQ(parse_amount("9.223372036854775807", 18), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(parse_amount("99999999999999999999999999", 0).has_value());
}

// Verifies formatting is exact, zero-padded, signed, and round-trips parsing.
TEST(MoneyFormatAmount, ExactAndRoundTrips) {
  EXPECT_EQ(format_amount(15'000'000, 2), "150000.00");
  EXPECT_EQ(format_amount(10, 2), "0.10");
  EXPECT_EQ(format_amount(-5, 2), "-0.05");
  EXPECT_EQ(format_amount(7, 0), "7");
  EXPECT_EQ(format_amount(0, 3), "0.000");
  EXPECT_EQ(format_amount(std::numeric_limits<int64_t>::max(), 2), "92233720368547758.07");
  EXPECT_EQ(format_amount(std::numeric_limits<int64_t>::min(), 2), "-92233720368547758.08");
  EXPECT_EQ(format_amount(std::numeric_limits<int64_t>::max(), 18), "9.223372036854775807");
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{99}, int64_t{100}, int64_t{123456789}})
    EXPECT_EQ(parse_amount(format_amount(v, 2), 2), v);
}

// Verifies plain minor units are strict digits, overflow-checked.
TEST(MoneyParseMinor, StrictIntegers) {
  EXPECT_EQ(parse_minor("0"), 0);
  EXPECT_EQ(parse_minor("15000000"), 15'000'000);
  EXPECT_EQ(parse_minor("9223372036854775807"), std::numeric_limits<int64_t>::max());
  for (const char* bad : {"", "-1", "+1", "1.0", "1e3", "01", " 1", "1 ", "x", "9223372036854775808"})
    EXPECT_FALSE(parse_minor(bad).has_value()) << '"' << bad << '"';
}

}  // namespace
}  // namespace tollgate
