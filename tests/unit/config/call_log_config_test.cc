// The `call_log:` section (config/call_log_reader.h): every key, the
// defaults, the relative `dir`, and each error with its line.
#include <gtest/gtest.h>

#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using testing::joined;
using testing::parse_errors;
using testing::parse_ok;

// `allow_empty` keeps the rest of the file out of the way: line 2 is `call_log:`.
std::string with_call_log(std::string_view lines) {
  return "allow_empty: true\ncall_log:\n" + std::string(lines);
}

// Verifies a config without the section records nothing and keeps the documented defaults.
TEST(CallLogConfig, AbsentSectionIsOffWithDefaults) {
  const Config c = parse_ok("allow_empty: true\n");
  EXPECT_FALSE(c.call_log.enabled);
  EXPECT_EQ(c.call_log.sample, 1.0);
  EXPECT_EQ(c.call_log.max_bytes, int64_t{10} << 30);
  EXPECT_EQ(c.call_log.segment_bytes, int64_t{64} << 20);
  EXPECT_EQ(c.call_log.segment_age, 3600 * kNanosPerSecond);
  EXPECT_EQ(c.call_log.flush_interval, 200 * kNanosPerMilli);
  EXPECT_EQ(c.call_log.buffer_bytes, int64_t{4} << 20);
}

// Verifies the section alone turns the log on with every default, dir var/calls next to the config file.
TEST(CallLogConfig, SectionAloneIsOnWithDefaults) {
  auto c = parse_config("allow_empty: true\ncall_log: {}\n", "x.yaml", "/etc/tg");
  ASSERT_TRUE(c) << joined(c.error());
  EXPECT_TRUE(c->call_log.enabled);
  EXPECT_EQ(c->call_log.dir, "/etc/tg/var/calls");
  EXPECT_EQ(c->call_log.sample, 1.0);
  EXPECT_EQ(c->call_log.max_bytes, int64_t{10} << 30);
  EXPECT_EQ(c->call_log.segment_bytes, int64_t{64} << 20);
  EXPECT_EQ(c->call_log.segment_age, 3600 * kNanosPerSecond);
  EXPECT_EQ(c->call_log.flush_interval, 200 * kNanosPerMilli);
  EXPECT_EQ(c->call_log.buffer_bytes, int64_t{4} << 20);
}

// Verifies every key is read with its unit.
TEST(CallLogConfig, EveryKeyIsRead) {
  auto c = parse_config(with_call_log("  enabled: true\n"
                                      "  dir: /var/lib/tollgate/calls\n"
                                      "  sample: 0.25\n"
                                      "  max_bytes: 2GiB\n"
                                      "  segment_bytes: 1MiB\n"
                                      "  segment_age: 10m\n"
                                      "  flush_interval: 50ms\n"
                                      "  buffer_bytes: 128KiB\n"),
                        "x.yaml", "/etc/tg");
  ASSERT_TRUE(c) << joined(c.error());
  const CallLogConfig& l = c->call_log;
  EXPECT_TRUE(l.enabled);
  EXPECT_EQ(l.dir, "/var/lib/tollgate/calls");  // absolute: only normalised
  EXPECT_EQ(l.sample, 0.25);
  EXPECT_EQ(l.max_bytes, int64_t{2} << 30);
  EXPECT_EQ(l.segment_bytes, int64_t{1} << 20);
  EXPECT_EQ(l.segment_age, 600 * kNanosPerSecond);
  EXPECT_EQ(l.flush_interval, 50 * kNanosPerMilli);
  EXPECT_EQ(l.buffer_bytes, int64_t{128} << 10);
}

// Verifies `enabled: false` keeps the section but records nothing, and a sample of exactly 1 is accepted.
TEST(CallLogConfig, EnabledFalseKeepsTheSectionOff) {
  const Config c = parse_ok(with_call_log("  enabled: false\n  sample: 1\n"));
  EXPECT_FALSE(c.call_log.enabled);
  EXPECT_EQ(c.call_log.sample, 1.0);
}

// Verifies a relative dir resolves against the config file's directory, as every other path does.
TEST(CallLogConfig, RelativeDirResolvesAgainstTheConfigDirectory) {
  auto c = parse_config(with_call_log("  dir: ../logs/calls\n"), "x.yaml", "/etc/tg/conf");
  ASSERT_TRUE(c) << joined(c.error());
  EXPECT_EQ(c->call_log.dir, "/etc/tg/logs/calls");
  auto d = parse_config(with_call_log("  dir: calls/\n"), "x.yaml", "/srv");
  ASSERT_TRUE(d) << joined(d.error());
  EXPECT_EQ(d->call_log.dir, "/srv/calls/");
}

// Verifies a sample outside (0, 1] or not a number is refused with the value it got.
TEST(CallLogConfig, BadSampleIsRefused) {
  for (const char* bad : {"0", "-0.5", "1.5", "half", "0.5x", "[]"}) {
    const auto errors = parse_errors(with_call_log(std::string("  sample: ") + bad + "\n"));
    ASSERT_EQ(errors.size(), 1u) << bad << "\n" << joined(errors);
    EXPECT_EQ(errors[0].line, 3) << bad;
    EXPECT_NE(errors[0].reason.find("expected a fraction in (0, 1]"), std::string::npos) << errors[0].reason;
    if (std::string_view(bad) != "[]") {
      EXPECT_NE(errors[0].reason.find(bad), std::string::npos) << errors[0].reason;
    }
  }
}

// Verifies sizes below their floors, above their caps, or without a valid unit are refused at their line.
TEST(CallLogConfig, BadSizesAreRefused) {
  const struct {
    const char* line;
  } cases[] = {
      {"  max_bytes: 512KiB\n"},      // below 1 MiB
      {"  segment_bytes: 1KiB\n"},    // below 64 KiB
      {"  segment_bytes: 2GiB\n"},    // above 1 GiB
      {"  buffer_bytes: 1000\n"},     // below 64 KiB
      {"  buffer_bytes: 2GiB\n"},     // above 1 GiB
      {"  max_bytes: lots\n"},        // not a size
      {"  buffer_bytes: 10 parsecs\n"},
  };
  for (const auto& c : cases) {
    const auto errors = parse_errors(with_call_log(c.line));
    ASSERT_EQ(errors.size(), 1u) << c.line << joined(errors);
    EXPECT_EQ(errors[0].line, 3) << c.line << joined(errors);
  }
}

// Verifies a segment larger than the whole log's budget is refused at segment_bytes.
TEST(CallLogConfig, SegmentLargerThanMaxBytesIsRefused) {
  EXPECT_ONE_ERROR(with_call_log("  max_bytes: 2MiB\n  segment_bytes: 4MiB\n"), 4, "larger than max_bytes");
  // The default segment (64 MiB) under a small max_bytes is not an error of the user's.
  const Config c = parse_ok(with_call_log("  max_bytes: 2MiB\n"));
  EXPECT_EQ(c.call_log.max_bytes, int64_t{2} << 20);
}

// Verifies bad durations, an empty dir, a non-boolean enabled and an unknown key are each refused at their line.
TEST(CallLogConfig, OtherErrorsNameTheirLine) {
  EXPECT_ONE_ERROR(with_call_log("  segment_age: soon\n"), 3, "");
  EXPECT_ONE_ERROR(with_call_log("  flush_interval: 5 fortnights\n"), 3, "");
  EXPECT_ONE_ERROR(with_call_log("  dir: \"\"\n"), 3, "must not be empty");
  EXPECT_ONE_ERROR(with_call_log("  enabled: maybe\n"), 3, "");
  EXPECT_ONE_ERROR(with_call_log("  sample: 0.5\n  max_byte: 1GiB\n"), 4, "max_byte");
  // Errors are collected, not stopped at the first.
  const auto errors = parse_errors(with_call_log("  sample: 2\n  segment_bytes: 1KiB\n  colour: red\n"));
  EXPECT_EQ(errors.size(), 3u) << joined(errors);
}

// Verifies the section must be a map.
TEST(CallLogConfig, SectionMustBeAMap) {
  const auto errors = parse_errors("allow_empty: true\ncall_log: [var/calls]\n");
  ASSERT_EQ(errors.size(), 1u) << joined(errors);
  EXPECT_EQ(errors[0].line, 2) << joined(errors);
}

}  // namespace
}  // namespace tollgate
