#include "commands/cell_commands.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

// Runs one CL.THROTTLE command line and returns the raw RESP reply.
struct Harness {
  Reclaimer reclaimer;
  CellThrottle cell{reclaimer, 100, 0};
  int slot = reclaimer.register_reader();

  std::string run(std::vector<std::string_view> args, Nanos now = kNow, CellThrottle* throttle = nullptr,
                  bool* ok = nullptr) {
    std::string buffer;
    resp::ReplyWriter out(buffer);
    ReadGuard guard(reclaimer, slot);
    bool success = run_cell_throttle(args, throttle != nullptr ? throttle : &cell, now, out);
    if (ok != nullptr) *ok = success;
    return buffer;
  }
};

// Verifies the reply is a RESP array of 5 integers in redis-cell's order,
// with retry_after -1 when allowed and seconds rounded up per whole ms.
TEST(CellCommand, EncodesFiveIntegers) {
  std::string buffer;
  resp::ReplyWriter out(buffer);
  encode_cell_reply({.limited = false, .limit = 16, .remaining = 15, .retry_after = 123, .reset_after = 2'000'000'000},
                    out);
  EXPECT_EQ(buffer, "*5\r\n:0\r\n:16\r\n:15\r\n:-1\r\n:2\r\n");
  buffer.clear();
  encode_cell_reply({.limited = true, .limit = 5, .remaining = 0, .retry_after = 1'001'000'000, .reset_after = 4'000'500'000},
                    out);
  EXPECT_EQ(buffer, "*5\r\n:1\r\n:5\r\n:0\r\n:2\r\n:4\r\n");
  buffer.clear();
  encode_cell_reply({.limited = true, .limit = 5, .remaining = 5, .retry_after = -1, .reset_after = 0}, out);
  EXPECT_EQ(buffer, "*5\r\n:1\r\n:5\r\n:5\r\n:-1\r\n:0\r\n");
}

// Verifies the README example end to end, with and without the quantity
// argument (it defaults to 1), and the throttled reply once drained.
TEST(CellCommand, ReadmeExampleOnTheWire) {
  Harness h;
  bool ok = false;
  EXPECT_EQ(h.run({"CL.THROTTLE", "user123", "15", "30", "60", "1"}, kNow, nullptr, &ok),
            "*5\r\n:0\r\n:16\r\n:15\r\n:-1\r\n:2\r\n");
  EXPECT_TRUE(ok);
  EXPECT_EQ(h.run({"CL.THROTTLE", "user123", "15", "30", "60"}), "*5\r\n:0\r\n:16\r\n:14\r\n:-1\r\n:4\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "user123", "15", "30", "60", "14"}), "*5\r\n:0\r\n:16\r\n:0\r\n:-1\r\n:32\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "user123", "15", "30", "60"}), "*5\r\n:1\r\n:16\r\n:0\r\n:2\r\n:32\r\n");
}

// Verifies redis-cell's error texts: usage for a wrong argument count,
// "Couldn't parse as integer" naming the argument, and the zero-rate error.
TEST(CellCommand, RedisCellErrorTexts) {
  Harness h;
  bool ok = true;
  const std::string usage =
      "-Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]\r\n";
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "1", "2", "3", "4", "5"}, kNow, nullptr, &ok), usage);
  EXPECT_FALSE(ok);
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "1", "2"}), usage);
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "abc", "30", "60"}),
            "-Cell error: Store error: Couldn't parse as integer: abc\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "15", "1.5", "60"}),
            "-Cell error: Store error: Couldn't parse as integer: 1.5\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "15", "30", "60", "99999999999999999999"}),
            "-Cell error: Store error: Couldn't parse as integer: 99999999999999999999\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "15", "30", ""}), "-Cell error: Store error: Couldn't parse as integer: \r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "15", "0", "60"}), "-Cell error: Store error: Zero rates are not supported\r\n");
  EXPECT_EQ(h.cell.size(), 0u);
}

// Verifies a leading '+' parses as Rust's i64 parser (redis-cell's) allows,
// and "+-1" or "++1" does not.
TEST(CellCommand, AcceptsLeadingPlus) {
  Harness h;
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "+15", "+30", "+60", "+1"}), "*5\r\n:0\r\n:16\r\n:15\r\n:-1\r\n:2\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "+-15", "30", "60"}),
            "-Cell error: Store error: Couldn't parse as integer: +-15\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "++15", "30", "60"}),
            "-Cell error: Store error: Couldn't parse as integer: ++15\r\n");
}

// Verifies tollgate's own refusals reach the wire as -ERR replies.
TEST(CellCommand, TollgateErrors) {
  Harness h;
  bool ok = true;
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "-1", "30", "60"}, kNow, nullptr, &ok),
            "-ERR CL.THROTTLE max_burst must not be negative\r\n");
  EXPECT_FALSE(ok);
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "15", "30", "60", "-1"}), "-ERR CL.THROTTLE quantity must not be negative\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "15", "30", "9223372037"}),
            "-ERR CL.THROTTLE period must be at most 9223372036 seconds\r\n");
  EXPECT_EQ(h.run({"CL.THROTTLE", "k", "9223372036854775807", "1", "1"}).substr(0, 32),
            "-ERR CL.THROTTLE (max_burst + 1)");
}

// Verifies the command answers "not enabled" when no CellThrottle is set.
TEST(CellCommand, DisabledWithoutInstance) {
  std::string buffer;
  resp::ReplyWriter out(buffer);
  std::vector<std::string_view> args = {"CL.THROTTLE", "k", "15", "30", "60"};
  EXPECT_FALSE(run_cell_throttle(args, nullptr, kNow, out));
  EXPECT_EQ(buffer, "-ERR CL.THROTTLE is not enabled\r\n");
}

// Verifies the table entry: name, arity -5, data socket and fast path.
TEST(CellCommand, Registered) {
  CommandTable table;
  register_cell_commands(table);
  const CommandSpec* spec = table.find("cl.throttle");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->name, "CL.THROTTLE");
  EXPECT_EQ(spec->arity, -5);
  EXPECT_EQ(spec->flags, static_cast<uint32_t>(kKeyArg | kOnData | kFast));
}

}  // namespace
}  // namespace tollgate
