#include <gtest/gtest.h>

#include "config/units.h"

namespace tollgate {
namespace {

// Verifies every duration unit scales to nanoseconds.
TEST(ConfigUnits, DurationUnits) {
  EXPECT_EQ(parse_duration("10ns").value(), 10);
  EXPECT_EQ(parse_duration("500us").value(), 500 * kNanosPerMicro);
  EXPECT_EQ(parse_duration("250ms").value(), 250 * kNanosPerMilli);
  EXPECT_EQ(parse_duration("1s").value(), kNanosPerSecond);
  EXPECT_EQ(parse_duration("1m").value(), 60 * kNanosPerSecond);
  EXPECT_EQ(parse_duration("1h").value(), 3600 * kNanosPerSecond);
  EXPECT_EQ(parse_duration("1d").value(), 86400 * kNanosPerSecond);
  EXPECT_EQ(parse_duration("0s").value(), 0);
}

// Verifies a bare number is refused and the message lists the accepted units.
TEST(ConfigUnits, DurationWithoutUnitIsAnError) {
  auto result = parse_duration("10");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("needs a unit (ns, us, ms, s, m, h, d)"), std::string::npos) << result.error();
}

// Verifies unknown units, negatives, fractions, garbage and overflow are refused.
TEST(ConfigUnits, DurationErrors) {
  EXPECT_NE(parse_duration("10x").error().find("unknown duration unit 'x'"), std::string::npos);
  EXPECT_NE(parse_duration("-1s").error().find("negative"), std::string::npos);
  EXPECT_FALSE(parse_duration("1.5s"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_NE(parse_duration("300000d").error().find("too long"), std::string::npos);
  EXPECT_NE(parse_duration("99999999999999999999ns").error().find("too large"), std::string::npos);
  EXPECT_EQ(parse_duration("106751d").value(), int64_t{106751} * 86400 * kNanosPerSecond);  // just fits
}

// Verifies sizes: bare bytes and binary k/m/g suffixes in any spelling.
TEST(ConfigUnits, Sizes) {
  EXPECT_EQ(parse_size("100").value(), 100);
  EXPECT_EQ(parse_size("64k").value(), 64 * 1024);
  EXPECT_EQ(parse_size("64K").value(), 64 * 1024);
  EXPECT_EQ(parse_size("1m").value(), 1 << 20);
  EXPECT_EQ(parse_size("1MB").value(), 1 << 20);
  EXPECT_EQ(parse_size("2KiB").value(), 2048);
  EXPECT_EQ(parse_size("1g").value(), int64_t{1} << 30);
  EXPECT_EQ(parse_size("7b").value(), 7);
}

// Verifies bad size units, negatives and overflow are refused.
TEST(ConfigUnits, SizeErrors) {
  EXPECT_NE(parse_size("10q").error().find("unknown size unit"), std::string::npos);
  EXPECT_FALSE(parse_size("-1k"));
  EXPECT_FALSE(parse_size("k"));
  EXPECT_NE(parse_size("99999999999g").error().find("too large"), std::string::npos);
}

// Verifies integers are decimal, signed and overflow-checked.
TEST(ConfigUnits, Integers) {
  EXPECT_EQ(parse_integer("42").value(), 42);
  EXPECT_EQ(parse_integer("-7").value(), -7);
  EXPECT_EQ(parse_integer("+7").value(), 7);
  EXPECT_NE(parse_integer("99999999999999999999").error().find("64-bit"), std::string::npos);
  EXPECT_FALSE(parse_integer("1.0"));
  EXPECT_FALSE(parse_integer("12abc"));
  EXPECT_FALSE(parse_integer(""));
  EXPECT_FALSE(parse_integer("0x10"));
}

// Verifies file modes are read as octal with or without a leading 0 / 0o.
TEST(ConfigUnits, FileModes) {
  EXPECT_EQ(parse_file_mode("0660").value(), 0660);
  EXPECT_EQ(parse_file_mode("660").value(), 0660);
  EXPECT_EQ(parse_file_mode("0o600").value(), 0600);
  EXPECT_FALSE(parse_file_mode("0968"));
  EXPECT_FALSE(parse_file_mode("01000"));
  EXPECT_FALSE(parse_file_mode("rw"));
}

// Verifies instants honour their offset, Z and fractions.
TEST(ConfigUnits, InstantsWithOffsets) {
  const Nanos utc_midnight = parse_instant("2027-06-30T00:00:00Z").value();
  EXPECT_EQ(utc_midnight, 1'814'313'600 * kNanosPerSecond);
  EXPECT_EQ(parse_instant("2027-06-30T00:00:00+08:00").value(), utc_midnight - 8 * 3600 * kNanosPerSecond);
  EXPECT_EQ(parse_instant("2027-06-30T00:00:00-05:30").value(), utc_midnight + 330 * 60 * kNanosPerSecond);
  EXPECT_EQ(parse_instant("2027-06-30T00:00:00.25Z").value(), utc_midnight + 250 * kNanosPerMilli);
}

// Verifies instants without an offset, invalid dates and out-of-range years fail.
TEST(ConfigUnits, InstantErrors) {
  EXPECT_NE(parse_instant("2027-06-30T00:00:00").error().find("UTC offset"), std::string::npos);
  EXPECT_FALSE(parse_instant("2027-06-30"));
  EXPECT_FALSE(parse_instant("2027-13-01T00:00:00Z"));
  EXPECT_NE(parse_instant("9999-01-01T00:00:00Z").error().find("outside"), std::string::npos);
}

// Verifies durations and instants print in their shortest exact form.
TEST(ConfigUnits, Formatting) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(250 * kNanosPerMilli), "250ms");
  EXPECT_EQ(format_duration(90 * kNanosPerSecond), "90s");
  EXPECT_EQ(format_duration(600 * kNanosPerSecond), "10m");
  EXPECT_EQ(format_duration(86400 * kNanosPerSecond), "1d");
  EXPECT_EQ(format_duration(1'500), "1500ns");
  EXPECT_EQ(format_instant(parse_instant("2027-06-30T00:00:00+08:00").value()), "2027-06-29T16:00:00Z");
  EXPECT_EQ(format_instant(parse_instant("2027-06-30T00:00:00.5Z").value()), "2027-06-30T00:00:00.5Z");
}

}  // namespace
}  // namespace tollgate
