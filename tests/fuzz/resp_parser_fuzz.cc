// Fuzzes the RESP request parser (multibulk and inline) as a connection
// drives it. The input is the byte stream a client sends. Properties:
//   - the stream parsed whole, byte by byte and in chunks of other sizes
//     gives the same commands, the same error and (without an error) the
//     same leftover bytes —
//     except that a limit error (max_inline, max_args, ...) may fire earlier
//     when a bound is crossed before the rest arrives: then the commands
//     before it are a prefix of the whole run's;
//   - the work (bytes examined) stays linear however finely it is split;
//   - every command respects the limits, and re-encoded as a multibulk frame
//     parses back to itself.
// Run with default and with tiny limits, so the limit paths are reached.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "resp/parser.h"
#include "unit/resp/parser_driver.h"

namespace tollgate::fuzz {
namespace {

using resp::ParserLimits;
using resp::testing::Command;
using resp::testing::ParseOutcome;
using resp::testing::ParserDriver;

bool is_limit_error(const std::string& error) { return error.find("max_") != std::string::npos; }

bool starts_with(const std::vector<Command>& all, const std::vector<Command>& prefix) {
  if (prefix.size() > all.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (all[i] != prefix[i]) return false;
  return true;
}

std::string describe(const ParseOutcome& o) {
  return std::to_string(o.commands.size()) + " commands, error '" + o.error + "', leftover " +
         std::to_string(o.leftover);
}

std::string multibulk(const Command& command) {
  std::string out = "*" + std::to_string(command.size()) + "\r\n";
  for (const std::string& arg : command) out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  return out;
}

void check_command_bounds(const ParseOutcome& outcome, const ParserLimits& limits) {
  for (const Command& command : outcome.commands) {
    FUZZ_CHECK(!command.empty(), "an empty command was returned");
    FUZZ_CHECK(command.size() <= limits.max_args, "a command has more than max_args arguments");
    for (const std::string& arg : command) FUZZ_CHECK(arg.size() <= limits.max_bulk, "an argument exceeds max_bulk");
  }
}

void check_chunked(std::string_view input, size_t chunk, const ParseOutcome& whole, uint64_t whole_work,
                   const ParserLimits& limits) {
  ParserDriver driver(limits);
  driver.feed_in_chunks(input, chunk);
  const ParseOutcome split = driver.outcome();
  const std::string what = "chunk " + std::to_string(chunk) + ": whole gave " + describe(whole) + ", split gave " +
                           describe(split);
  if (!is_limit_error(split.error)) {
    // After an error the connection closes: what stays buffered does not matter.
    FUZZ_CHECK(split.commands == whole.commands && split.error == whole.error &&
                   (!split.error.empty() || split.leftover == whole.leftover),
               what);
  } else {
    FUZZ_CHECK(starts_with(whole.commands, split.commands), what);
  }
  // Headers may be rescanned while they arrive (each is bounded); payloads never are.
  const uint64_t work = driver.parser().bytes_examined();
  FUZZ_CHECK(work <= 8 * input.size() + whole_work + 64,
             what + ": " + std::to_string(work) + " bytes examined for " + std::to_string(input.size()));
}

void run(std::string_view input, const ParserLimits& limits) {
  ParserDriver whole_driver(limits);
  whole_driver.feed(input);
  const ParseOutcome whole = whole_driver.outcome();
  const uint64_t whole_work = whole_driver.parser().bytes_examined();
  check_command_bounds(whole, limits);
  if (whole.error.empty()) FUZZ_CHECK(whole.leftover <= input.size(), "leftover larger than the input");

  check_chunked(input, 1, whole, whole_work, limits);
  for (size_t chunk : {size_t{2}, size_t{3}, size_t{7}, input.size() / 2 + 1}) {
    if (chunk > 1 && chunk < input.size()) check_chunked(input, chunk, whole, whole_work, limits);
  }

  for (const Command& command : whole.commands) {
    const std::string frame = multibulk(command);
    ParserDriver again(limits);
    again.feed(frame);
    const ParseOutcome back = again.outcome();
    FUZZ_CHECK(back.error.empty() && back.commands.size() == 1 && back.commands[0] == command && back.leftover == 0,
               "a parsed command re-encoded as multibulk did not parse back: " + describe(back));
  }
}

}  // namespace
}  // namespace tollgate::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tollgate::fuzz::run(input, tollgate::resp::ParserLimits{});
  tollgate::fuzz::run(input, tollgate::resp::ParserLimits{.max_args = 3, .max_bulk = 32, .max_inline = 24});
  return 0;
}
