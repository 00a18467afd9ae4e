#include "commands/cell_commands.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "commands/data_service.h"
#include "engine/engine.h"

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

// Verifies every CellError's wording, byte for byte: clients and the README
// match on these texts (kZeroRate is redis-cell's own).
TEST(CellCommand, ErrorTexts) {
  EXPECT_EQ(cell_error_text(CellError::kZeroRate), "Cell error: Store error: Zero rates are not supported");
  EXPECT_EQ(cell_error_text(CellError::kNegativeMaxBurst), "ERR CL.THROTTLE max_burst must not be negative");
  EXPECT_EQ(cell_error_text(CellError::kNegativeCount), "ERR CL.THROTTLE count must not be negative");
  EXPECT_EQ(cell_error_text(CellError::kNegativePeriod), "ERR CL.THROTTLE period must not be negative");
  EXPECT_EQ(cell_error_text(CellError::kNegativeQuantity), "ERR CL.THROTTLE quantity must not be negative");
  EXPECT_EQ(cell_error_text(CellError::kPeriodTooLarge), "ERR CL.THROTTLE period must be at most 9223372036 seconds");
  EXPECT_EQ(cell_error_text(CellError::kWindowTooLarge),
            "ERR CL.THROTTLE (max_burst + 1) x period / count must be at most 2^61 ns (about 73 years)");
  EXPECT_EQ(cell_error_text(CellError::kKeySpaceFull),
            "ERR CL.THROTTLE key space is full (max keys reached); retry later");
}

// Verifies CL.THROTTLE through DataService::execute uses the buckets that
// service was handed, and that a service handed none answers "not enabled":
// the buckets belong to their owner, not to the process.
TEST(CellCommand, ServiceUsesTheThrottleItWasGiven) {
  ManualClock clock{kNow};
  Reclaimer reclaimer;
  RuntimeState state;
  EngineOptions options;
  options.allow_unknown = true;
  auto engine = Engine::create(options, reclaimer, kNow, state);
  ASSERT_TRUE(engine.has_value());
  CellThrottle first_cell{reclaimer, 100, 0};
  CellThrottle second_cell{reclaimer, 100, 0};
  DataService first(**engine, clock, reclaimer, 1, ServiceInfo{});
  DataService second(**engine, clock, reclaimer, 1, ServiceInfo{});
  DataService without(**engine, clock, reclaimer, 1, ServiceInfo{});
  first.set_cell_throttle(&first_cell);
  second.set_cell_throttle(&second_cell);
  EXPECT_EQ(first.cell_throttle(), &first_cell);
  EXPECT_EQ(without.cell_throttle(), nullptr);
  auto run = [](DataService& service) {
    std::string buffer;
    resp::ReplyWriter out(buffer);
    Session session;
    service.begin_batch(0);
    session.now = service.batch_now(0);
    std::vector<std::string_view> args = {"CL.THROTTLE", "k", "0", "1", "60"};  // one call per minute
    service.execute(args, session, out);
    service.end_batch(0);
    return buffer;
  };
  EXPECT_EQ(run(first), "*5\r\n:0\r\n:1\r\n:0\r\n:-1\r\n:60\r\n");
  EXPECT_EQ(run(first).substr(0, 8), "*5\r\n:1\r\n") << "the first service's bucket is spent";
  EXPECT_EQ(run(second).substr(0, 8), "*5\r\n:0\r\n") << "the second service has buckets of its own";
  EXPECT_EQ(first_cell.size(), 1u);
  EXPECT_EQ(second_cell.size(), 1u);
  EXPECT_EQ(run(without), "-ERR CL.THROTTLE is not enabled\r\n");
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
