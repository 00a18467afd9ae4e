// max_request_bytes and awaiting_until: what a connection may buffer for one
// request, and where the bulk it waits for ends.
#include <string>

#include <gtest/gtest.h>

#include "resp/parser.h"

namespace tollgate::resp {
namespace {

std::string bulk(size_t n, char fill = 'x') { return "$" + std::to_string(n) + "\r\n" + std::string(n, fill) + "\r\n"; }

TEST(ParserBounds, TheLargestRequestFitsTheBound) {
  // Verifies the largest multibulk frame the limits allow, behind as many
  // skipped empty lines as they allow, parses and fits max_request_bytes.
  ParserLimits limits{.max_args = 3, .max_bulk = 100, .max_inline = 20};
  std::string input(20, '\n');  // 20 skipped empty requests: the most need_more() lets pass
  input += "*3\r\n" + bulk(100) + bulk(100) + bulk(100);
  EXPECT_LE(input.size(), max_request_bytes(limits));
  Parser parser(limits);
  for (size_t n = 1; n < input.size(); ++n) {  // fed growing, as a connection reads it
    ASSERT_EQ(parser.parse(std::string_view(input).substr(0, n)), ParseStatus::kNeedMore) << n;
  }
  EXPECT_EQ(parser.parse(input), ParseStatus::kCommand);
  EXPECT_EQ(parser.consumed(), input.size());
}

TEST(ParserBounds, TheLargestInlineLineFitsTheBound) {
  // Verifies an inline line of max_inline bytes (and its CRLF) fits too.
  ParserLimits limits{.max_args = 3, .max_bulk = 4, .max_inline = 200};
  std::string input = std::string(200, 'a') + "\r\n";
  EXPECT_LE(input.size(), max_request_bytes(limits));
  Parser parser(limits);
  EXPECT_EQ(parser.parse(input), ParseStatus::kCommand);
}

TEST(ParserBounds, DefaultLimitsBoundIsAboutOneGibibyte) {
  // Verifies the bound for the defaults is max_args × max_bulk plus framing,
  // not a multiple of it.
  const size_t bound = max_request_bytes(ParserLimits{});
  EXPECT_GE(bound, size_t{1024} << 20);
  EXPECT_LT(bound, (size_t{1024} << 20) + (1 << 20));
}

TEST(ParserBounds, AwaitingUntilNamesTheEndOfTheAwaitedBulk) {
  // Verifies awaiting_until is unknown (0) until a bulk length is read, then
  // the input size at which that bulk and its CRLF are complete.
  Parser parser;
  std::string input = "*2\r\n$4\r\nECHO\r\n";
  EXPECT_EQ(parser.parse(input), ParseStatus::kNeedMore);
  EXPECT_EQ(parser.awaiting_until(), 0u);
  input += "$1000000\r\nabc";
  EXPECT_EQ(parser.parse(input), ParseStatus::kNeedMore);
  const size_t header_end = input.size() - 3;
  EXPECT_EQ(parser.awaiting_until(), header_end + 1000000 + 2);
}

}  // namespace
}  // namespace tollgate::resp
