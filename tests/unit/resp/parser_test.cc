#include "resp/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "unit/resp/parser_driver.h"

namespace tollgate::resp {
namespace {

using testing::Command;
using testing::ParseOutcome;
using testing::ParserDriver;
using testing::parse_whole;
using namespace std::string_literals;

// Valid inputs and the commands they hold; each is also fed split everywhere.
struct ValidCase {
  std::string name;
  std::string bytes;
  std::vector<Command> commands;
};

std::vector<ValidCase> valid_cases() {
  return {
      {"multibulk", "*2\r\n$4\r\nPING\r\n$3\r\nfoo\r\n", {{"PING", "foo"}}},
      {"empty_bulk", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", {{"GET", ""}}},
      {"binary_bulk", "*2\r\n$4\r\nECHO\r\n$7\r\na\r\nb\0c\n\r\n"s, {{"ECHO", "a\r\nb\0c\n"s}}},
      {"inline_crlf", "CHECK ip:1.2.3.4 COST 2\r\n", {{"CHECK", "ip:1.2.3.4", "COST", "2"}}},
      {"inline_lf", "PING\n", {{"PING"}}},
      {"inline_tabs_and_runs", " \tSET\t\t a   b \r\n", {{"SET", "a", "b"}}},
      {"inline_double_quotes", "SET \"a b\" \"q\\\"x\" \"\\x41\\x7a\\n\\t\\r\\b\\a\\\\\"\r\n",
       {{"SET", "a b", "q\"x", "Az\n\t\r\b\a\\"}}},
      {"inline_single_quotes", "SET 'a b' 'it\\'s' 'no\\n'\r\n", {{"SET", "a b", "it's", "no\\n"}}},
      {"inline_quote_mid_token", "SET ab\"c d\"\n", {{"SET", "abc d"}}},
      {"inline_empty_quoted", "SET \"\" ''\n", {{"SET", "", ""}}},
      {"inline_hex_not_hex", "ECHO \"\\xZZ\"\n", {{"ECHO", "xZZ"}}},
      {"skipped_empties", "\r\n\n  \r\n*0\r\n*-1\r\n*-7\r\n*1\r\n$4\r\nPING\r\n", {{"PING"}}},
      {"pipelined_mixed",
       "*1\r\n$4\r\nPING\r\nECHO hi\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\nQUIT\n",
       {{"PING"}, {"ECHO", "hi"}, {"SET", "k", "v"}, {"QUIT"}}},
  };
}

// Verifies each valid input parses to the expected commands in one piece.
TEST(RespParser, ParsesValidFramesWhole) {
  for (const ValidCase& c : valid_cases()) {
    const ParseOutcome outcome = parse_whole(c.bytes);
    EXPECT_EQ(outcome.commands, c.commands) << c.name;
    EXPECT_EQ(outcome.error, "") << c.name;
    EXPECT_EQ(outcome.leftover, 0u) << c.name;
  }
}

// Verifies splitting a valid input at any single byte offset yields the same commands.
TEST(RespParser, SplitAtEveryOffsetGivesSameCommands) {
  for (const ValidCase& c : valid_cases()) {
    for (size_t split = 0; split <= c.bytes.size(); ++split) {
      ParserDriver driver;
      driver.feed(std::string_view(c.bytes).substr(0, split));
      driver.feed(std::string_view(c.bytes).substr(split));
      EXPECT_EQ(driver.outcome().commands, c.commands) << c.name << " split at " << split;
      EXPECT_EQ(driver.outcome().leftover, 0u) << c.name << " split at " << split;
    }
  }
}

// Verifies feeding a valid input one byte at a time yields the same commands.
TEST(RespParser, ByteByByteGivesSameCommands) {
  for (const ValidCase& c : valid_cases()) {
    ParserDriver driver;
    driver.feed_in_chunks(c.bytes, 1);
    EXPECT_EQ(driver.outcome().commands, c.commands) << c.name;
    EXPECT_EQ(driver.outcome().leftover, 0u) << c.name;
  }
}

// Verifies all valid cases concatenated into one pipelined stream parse in order, at any chunk size.
TEST(RespParser, PipelinedStreamAtEveryChunkSize) {
  std::string stream;
  std::vector<Command> expected;
  for (int round = 0; round < 20; ++round) {
    for (const ValidCase& c : valid_cases()) {
      stream += c.bytes;
      expected.insert(expected.end(), c.commands.begin(), c.commands.end());
    }
  }
  for (size_t chunk : {1, 2, 3, 5, 7, 64, 4096, 1 << 20}) {
    ParserDriver driver;
    driver.feed_in_chunks(stream, chunk);
    EXPECT_EQ(driver.outcome().commands, expected) << "chunk " << chunk;
    EXPECT_EQ(driver.outcome().error, "");
    EXPECT_EQ(driver.outcome().leftover, 0u);
  }
}

// Verifies a thousand pipelined commands in one buffer come out one per parse call, with consumed() advancing.
TEST(RespParser, ManyPipelinedCommandsInOneBuffer) {
  const std::string one = "*2\r\n$5\r\nCHECK\r\n$10\r\nip:1.2.3.4\r\n";
  std::string buffer;
  for (int i = 0; i < 1000; ++i) buffer += one;
  Parser parser;
  std::string_view rest = buffer;
  int commands = 0;
  while (parser.parse(rest) == ParseStatus::kCommand) {
    ASSERT_EQ(parser.args().size(), 2u);
    EXPECT_EQ(parser.args()[0], "CHECK");
    EXPECT_EQ(parser.args()[1], "ip:1.2.3.4");
    EXPECT_EQ(parser.consumed(), one.size());
    rest.remove_prefix(parser.consumed());
    ++commands;
  }
  EXPECT_EQ(commands, 1000);
  EXPECT_TRUE(rest.empty());
}

// Verifies multibulk arguments are views into the caller's input, not copies.
TEST(RespParser, MultibulkArgsPointIntoInput) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  Parser parser;
  ASSERT_EQ(parser.parse(input), ParseStatus::kCommand);
  for (std::string_view arg : parser.args()) {
    EXPECT_GE(arg.data(), input.data());
    EXPECT_LE(arg.data() + arg.size(), input.data() + input.size());
  }
  EXPECT_EQ(parser.args()[0].data(), input.data() + 8);
}

// Verifies unquoted inline arguments are views into the caller's input.
TEST(RespParser, InlineUnquotedArgsPointIntoInput) {
  const std::string input = "GET key \"q\"\r\n";
  Parser parser;
  ASSERT_EQ(parser.parse(input), ParseStatus::kCommand);
  ASSERT_EQ(parser.args().size(), 3u);
  EXPECT_EQ(parser.args()[0].data(), input.data());
  EXPECT_EQ(parser.args()[1].data(), input.data() + 4);
  EXPECT_EQ(parser.args()[2], "q");
}

// Verifies kNeedMore consumes nothing and exposes no arguments, for every proper prefix.
TEST(RespParser, NeedMoreConsumesNothing) {
  const std::string input = "\r\n*2\r\n$4\r\nPING\r\n$3\r\nfoo\r\n";
  for (size_t length = 0; length < input.size(); ++length) {
    Parser parser;
    ASSERT_EQ(parser.parse(std::string_view(input).substr(0, length)), ParseStatus::kNeedMore)
        << length;
    EXPECT_EQ(parser.consumed(), 0u);
    EXPECT_TRUE(parser.args().empty());
  }
}

// Verifies skipped empty requests count in consumed() of the command that follows them.
TEST(RespParser, SkippedEmptiesAreConsumedWithNextCommand) {
  const std::string input = "\r\n*0\r\nPING\r\nrest";
  Parser parser;
  ASSERT_EQ(parser.parse(input), ParseStatus::kCommand);
  EXPECT_EQ(parser.consumed(), input.size() - 4);
}

// Verifies the parser keeps working when the caller's buffer moves between calls (offsets, not pointers, are kept).
TEST(RespParser, SurvivesBufferReallocationBetweenCalls) {
  const std::string input = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
  Parser parser;
  std::string first(input.substr(0, 20));
  ASSERT_EQ(parser.parse(first), ParseStatus::kNeedMore);
  first.clear();
  first.shrink_to_fit();
  std::string second = input;  // a different allocation holding the same bytes plus more
  ASSERT_EQ(parser.parse(second), ParseStatus::kCommand);
  ASSERT_EQ(parser.args().size(), 3u);
  EXPECT_EQ(parser.args()[2], "value");
  EXPECT_EQ(parser.args()[2].data(), second.data() + input.size() - 7);
}

// Verifies the argument storage is not reallocated per command once warmed up.
TEST(RespParser, ArgsStorageStableAfterWarmUp) {
  const std::string input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
  Parser parser;
  ASSERT_EQ(parser.parse(input), ParseStatus::kCommand);
  const std::string_view* storage = parser.args().data();
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(parser.parse(input), ParseStatus::kCommand);
    EXPECT_EQ(parser.args().data(), storage);
  }
}

// Verifies reset() forgets partial progress and a sticky error.
TEST(RespParser, ResetForgetsProgressAndError) {
  Parser parser;
  ASSERT_EQ(parser.parse("*2\r\n$4\r\nPI"), ParseStatus::kNeedMore);
  parser.reset();
  ASSERT_EQ(parser.parse("PING\r\n"), ParseStatus::kCommand);
  EXPECT_EQ(parser.args()[0], "PING");

  ASSERT_EQ(parser.parse("*x\r\n"), ParseStatus::kError);
  EXPECT_EQ(parser.parse("PING\r\n"), ParseStatus::kError) << "errors are sticky";
  parser.reset();
  EXPECT_EQ(parser.error(), "");
  ASSERT_EQ(parser.parse("PING\r\n"), ParseStatus::kCommand);
}

// Verifies a 1 MiB bulk fed 1 KiB at a time, and byte by byte, costs work independent of the split.
TEST(RespParser, LargeBulkInSmallPiecesIsLinear) {
  const size_t payload = 1 << 20;
  std::string input = "*2\r\n$3\r\nSET\r\n$" + std::to_string(payload) + "\r\n";
  input.append(payload, 'x');
  input += "\r\n";

  ParserDriver whole;
  whole.feed(input);
  ASSERT_EQ(whole.outcome().commands.size(), 1u);
  const uint64_t whole_work = whole.parser().bytes_examined();

  for (size_t chunk : {size_t{1024}, size_t{1}}) {
    ParserDriver driver;
    driver.feed_in_chunks(input, chunk);
    ASSERT_EQ(driver.outcome().commands.size(), 1u);
    EXPECT_EQ(driver.outcome().commands[0][1].size(), payload);
    // Headers may be rescanned while they arrive (each under 24 bytes); the payload never is.
    EXPECT_LE(driver.parser().bytes_examined(), whole_work + 24 * 24) << "chunk " << chunk;
    EXPECT_LT(driver.parser().bytes_examined(), 200u) << "chunk " << chunk;
  }
}

// Verifies a long inline line and a many-argument frame fed byte by byte are scanned about once.
TEST(RespParser, LongInlineAndManyArgsByteByByteAreLinear) {
  std::string inline_line(60 * 1024, 'a');
  inline_line += "\r\n";
  ParserDriver inline_driver;
  inline_driver.feed_in_chunks(inline_line, 1);
  ASSERT_EQ(inline_driver.outcome().commands.size(), 1u);
  EXPECT_LE(inline_driver.parser().bytes_examined(), 2 * inline_line.size() + 16);

  std::string frame = "*1000\r\n";
  for (int i = 0; i < 1000; ++i) frame += "$1\r\nx\r\n";
  ParserDriver frame_driver;
  frame_driver.feed_in_chunks(frame, 1);
  ASSERT_EQ(frame_driver.outcome().commands.size(), 1u);
  EXPECT_EQ(frame_driver.outcome().commands[0].size(), 1000u);
  EXPECT_LE(frame_driver.parser().bytes_examined(), 4 * frame.size());
}

// Verifies the one-pass path for whole frames answers exactly what the state
// machine does (fed byte by byte, it never sees a whole frame) at each of
// its edges: lone and leading zeros, signs, 9 and 10 digits, lengths and
// counts at and past their limits, a wrong type byte or missing CRLF, and
// frames cut short.
TEST(RespParser, WholeFramePathMatchesStateMachineAtItsEdges) {
  ParserLimits limits;
  limits.max_args = 3;
  limits.max_bulk = 5;
  const std::vector<std::string> inputs = {
      "*1\r\n$4\r\nPING\r\n",
      "*3\r\n$1\r\na\r\n$0\r\n\r\n$5\r\nabcde\r\n",
      "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",  // count past max_args
      "*1\r\n$6\r\nabcdef\r\n",                                   // length past max_bulk
      "*01\r\n$4\r\nPING\r\n",
      "*1\r\n$04\r\nPING\r\n",
      "*1\r\n$-1\r\n",
      "*0\r\n*1\r\n$4\r\nPING\r\n",
      "*-1\r\n*1\r\n$4\r\nPING\r\n",
      "*+1\r\n$4\r\nPING\r\n",
      "*000000001\r\n$1\r\nx\r\n",
      "*0000000001\r\n$1\r\nx\r\n",
      "*1\r\n$000000001\r\nx\r\n",
      "*1\r\n:4\r\nPING\r\n",
      "*1\r\n$4\r\nPINGxx",
      "*1\r\n$4\r\nPING\r",
      "*1\r\n$4\r\nPI",
      "*1\r\n$4",
      "*1\n$4\r\nPING\r\n",
      "*2\r\n$4\r\nPING\r\n",
      "*1\r\n$4\r\nPING\r\n*1\r\n$2\r\nhi\r\nPING\r\n",
  };
  for (const std::string& in : inputs) {
    ParserDriver bytewise(limits);
    bytewise.feed_in_chunks(in, 1);
    const ParseOutcome whole = parse_whole(in, limits), split = bytewise.outcome();
    EXPECT_EQ(whole.commands, split.commands) << in;
    EXPECT_EQ(whole.error, split.error) << in;
    // After an error the byte-by-byte feed stops early: only then may what is left differ.
    if (whole.error.empty()) {
      EXPECT_EQ(whole.leftover, split.leftover) << in;
    }
  }
}

}  // namespace
}  // namespace tollgate::resp
