#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "resp/parser.h"
#include "unit/resp/parser_driver.h"

namespace tollgate::resp {
namespace {

using testing::ParserDriver;
using testing::parse_whole;
using namespace std::string_literals;

struct MalformedCase {
  std::string name;
  std::string bytes;
  std::string error;
};

std::vector<MalformedCase> malformed_cases() {
  return {
      {"count_not_digits", "*abc\r\n", "Protocol error: invalid multibulk length"},
      {"count_empty", "*\r\n", "Protocol error: invalid multibulk length"},
      {"count_plus_sign", "*+1\r\n", "Protocol error: invalid multibulk length"},
      {"count_leading_zero", "*01\r\n$1\r\nx\r\n", "Protocol error: invalid multibulk length"},
      {"count_minus_zero", "*-0\r\n", "Protocol error: invalid multibulk length"},
      {"count_lone_minus", "*-\r\n", "Protocol error: invalid multibulk length"},
      {"count_bare_lf", "*1\n$1\r\nx\r\n", "Protocol error: invalid multibulk length"},
      {"count_cr_without_lf", "*1\rX", "Protocol error: invalid multibulk length"},
      {"count_too_many_digits", "*1234567890123456789\r\n", "Protocol error: invalid multibulk length"},
      {"count_trailing_space", "*1 \r\n", "Protocol error: invalid multibulk length"},
      {"element_not_bulk", "*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"},
      {"element_inline", "*1\r\nPING\r\n", "Protocol error: expected '$', got 'P'"},
      {"element_control_byte", "*1\r\n\x01", "Protocol error: expected '$', got '\\x01'"},
      {"bulk_len_not_digits", "*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
      {"bulk_len_negative_one", "*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"bulk_len_negative", "*1\r\n$-5\r\n", "Protocol error: invalid bulk length"},
      {"bulk_len_empty", "*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"bulk_len_leading_zero", "*1\r\n$03\r\nabc\r\n", "Protocol error: invalid bulk length"},
      {"bulk_missing_crlf", "*1\r\n$3\r\nfooXY", "Protocol error: expected CRLF after bulk data"},
      {"bulk_too_long_payload", "*1\r\n$3\r\nfoobar\r\n", "Protocol error: expected CRLF after bulk data"},
      {"bulk_only_lf", "*1\r\n$3\r\nfoo\n\r", "Protocol error: expected CRLF after bulk data"},
      {"unbalanced_double", "SET \"abc\r\n", "Protocol error: unbalanced quotes in request"},
      {"unbalanced_single", "SET 'abc\r\n", "Protocol error: unbalanced quotes in request"},
      {"text_after_close_quote", "SET \"a\"b\r\n", "Protocol error: unbalanced quotes in request"},
      {"escape_at_line_end", "SET \"a\\\r\n", "Protocol error: unbalanced quotes in request"},
  };
}

// Verifies each malformed frame gives the expected Redis-style error, fed whole.
TEST(RespParserErrors, MalformedFramesWhole) {
  for (const MalformedCase& c : malformed_cases()) {
    const auto outcome = parse_whole(c.bytes);
    EXPECT_TRUE(outcome.commands.empty()) << c.name;
    EXPECT_EQ(outcome.error, c.error) << c.name;
  }
}

// Verifies each malformed frame gives the same error however it is split, after the valid command before it.
TEST(RespParserErrors, MalformedFramesSplitAtEveryOffset) {
  for (const MalformedCase& c : malformed_cases()) {
    const std::string bytes = "PING\r\n" + c.bytes;
    for (size_t split = 0; split <= bytes.size(); ++split) {
      ParserDriver driver;
      driver.feed(std::string_view(bytes).substr(0, split));
      driver.feed(std::string_view(bytes).substr(split));
      ASSERT_EQ(driver.outcome().commands.size(), 1u) << c.name << " split " << split;
      EXPECT_EQ(driver.outcome().error, c.error) << c.name << " split " << split;
    }
  }
}

// Verifies an error is sticky: later calls keep returning kError without parsing.
TEST(RespParserErrors, ErrorIsSticky) {
  Parser parser;
  ASSERT_EQ(parser.parse("*1\r\n$x\r\n"), ParseStatus::kError);
  EXPECT_EQ(parser.parse("PING\r\n"), ParseStatus::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
  EXPECT_TRUE(parser.args().empty());
}

std::string multibulk_of(size_t count, size_t arg_size = 1) {
  std::string frame = "*" + std::to_string(count) + "\r\n";
  for (size_t i = 0; i < count; ++i) {
    frame += "$" + std::to_string(arg_size) + "\r\n" + std::string(arg_size, 'a') + "\r\n";
  }
  return frame;
}

std::string inline_of(size_t count) {
  std::string line;
  for (size_t i = 0; i < count; ++i) line += "a ";
  return line + "\r\n";
}

// Verifies max_args: a multibulk frame of exactly max_args passes and max_args+1 fails naming the limit.
TEST(RespParserLimits, MaxArgsMultibulk) {
  const ParserLimits limits{.max_args = 8, .max_bulk = 16, .max_inline = 64};
  EXPECT_EQ(parse_whole(multibulk_of(8), limits).commands.size(), 1u);
  EXPECT_EQ(parse_whole(multibulk_of(9), limits).error,
            "Protocol error: invalid multibulk length (9 > max_args 8)");
  // The count alone is enough to refuse: no payload has to arrive.
  EXPECT_EQ(parse_whole("*9\r\n", limits).error,
            "Protocol error: invalid multibulk length (9 > max_args 8)");
}

// Verifies max_args for inline commands: max_args words pass, max_args+1 fail naming the limit.
TEST(RespParserLimits, MaxArgsInline) {
  const ParserLimits limits{.max_args = 8, .max_bulk = 16, .max_inline = 64};
  const auto ok = parse_whole(inline_of(8), limits);
  ASSERT_EQ(ok.commands.size(), 1u);
  EXPECT_EQ(ok.commands[0].size(), 8u);
  EXPECT_EQ(parse_whole(inline_of(9), limits).error,
            "Protocol error: too many arguments in inline request (9 > max_args 8)");
}

// Verifies max_bulk: a bulk of exactly max_bulk bytes passes, max_bulk+1 fails on the header alone.
TEST(RespParserLimits, MaxBulk) {
  const ParserLimits limits{.max_args = 8, .max_bulk = 16, .max_inline = 64};
  const auto ok = parse_whole(multibulk_of(1, 16), limits);
  ASSERT_EQ(ok.commands.size(), 1u);
  EXPECT_EQ(ok.commands[0][0].size(), 16u);
  EXPECT_EQ(parse_whole("*1\r\n$17\r\n", limits).error,
            "Protocol error: invalid bulk length (17 > max_bulk 16)");
}

// Verifies max_inline with a line end: exactly max_inline bytes pass (CRLF or LF), one more fails.
TEST(RespParserLimits, MaxInlineWithLineEnd) {
  const ParserLimits limits{.max_args = 64, .max_bulk = 16, .max_inline = 10};
  EXPECT_EQ(parse_whole("0123456789\r\n", limits).commands.size(), 1u);
  EXPECT_EQ(parse_whole("0123456789\n", limits).commands.size(), 1u);
  EXPECT_EQ(parse_whole("0123456789A\r\n", limits).error,
            "Protocol error: too big inline request (11 > max_inline 10)");
  EXPECT_EQ(parse_whole("0123456789A\n", limits).error,
            "Protocol error: too big inline request (11 > max_inline 10)");
}

// Verifies max_inline before any line end: max_inline bytes (plus a pending CR) wait, one more fails at once.
TEST(RespParserLimits, MaxInlineWithoutLineEnd) {
  const ParserLimits limits{.max_args = 64, .max_bulk = 16, .max_inline = 10};
  Parser parser(limits);
  EXPECT_EQ(parser.parse("0123456789"), ParseStatus::kNeedMore);
  EXPECT_EQ(parser.parse("0123456789\r"), ParseStatus::kNeedMore);
  EXPECT_EQ(parser.parse("0123456789\r\n"), ParseStatus::kCommand);

  Parser over(limits);
  EXPECT_EQ(over.parse("0123456789"), ParseStatus::kNeedMore);
  EXPECT_EQ(over.parse("0123456789A"), ParseStatus::kError);
  EXPECT_EQ(over.error(), "Protocol error: too big inline request (11 > max_inline 10)");

  Parser cr_then_more(limits);
  EXPECT_EQ(cr_then_more.parse("0123456789\r"), ParseStatus::kNeedMore);
  EXPECT_EQ(cr_then_more.parse("0123456789\rX"), ParseStatus::kError);
}

// Verifies empty requests cannot pile up unconsumed past max_inline bytes while no command follows.
TEST(RespParserLimits, EmptyRequestsAreBounded) {
  const ParserLimits limits{.max_args = 64, .max_bulk = 16, .max_inline = 10};
  EXPECT_EQ(parse_whole("\n\n\n\n\n\n\n\n\n\n", limits).error, "");
  EXPECT_EQ(parse_whole("\n\n\n\n\n\n\n\n\n\n\n", limits).error,
            "Protocol error: too many empty requests (11 > max_inline 10)");
  // When a command completes in the same buffer the empties are consumed with it.
  EXPECT_EQ(parse_whole("\n\n\n\n\n\n\n\n\n\n\nPING\n", limits).commands.size(), 1u);
}

// Verifies the default limits are the documented ones.
TEST(RespParserLimits, Defaults) {
  const ParserLimits limits;
  EXPECT_EQ(limits.max_args, 1024u);
  EXPECT_EQ(limits.max_bulk, size_t{1} << 20);
  EXPECT_EQ(limits.max_inline, 64u * 1024);
}

}  // namespace
}  // namespace tollgate::resp
