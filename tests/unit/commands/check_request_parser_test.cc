// CHECK/PEEK option parsing (commands/check_request_parser.h): every
// malformed option is refused with its own error text, and a well-formed
// request fills each field.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "commands/check_request_parser.h"

namespace tollgate {
namespace {

std::string error_of(std::vector<std::string_view> args) {
  auto r = parse_check_request(args);
  EXPECT_FALSE(r.has_value()) << "accepted: " << (args.size() > 2 ? args[2] : "");
  return r ? std::string() : r.error();
}

// Verifies each malformed option gets the error text that names what is wrong.
TEST(CheckRequestParser, EachMalformedOptionAnswersItsError) {
  const std::string long_subject(kMaxSubjectLength + 1, 's');
  const std::string long_id(kMaxIdLength + 1, 'i');
  struct Case {
    std::vector<std::string_view> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"CHECK"}, "ERR wrong number of arguments"},
      {{"CHECK", ""}, "ERR the key must not be empty"},
      {{"CHECK", "k", "COLOUR", "red"},
       "ERR unknown option 'COLOUR' (expected COST, CHANNEL, PURPOSE, SUBJECT, ID, HOLD or WAIT)"},
      {{"CHECK", "k", "COST"}, "ERR option COST needs a value"},
      {{"CHECK", "k", "cost", "1", "COST", "2"}, "ERR option COST given twice"},
      {{"CHECK", "k", "COST", "abc"}, "ERR COST must be an integer from 0 to 1000000000000"},
      {{"CHECK", "k", "COST", "-1"}, "ERR COST must be an integer from 0 to 1000000000000"},
      {{"CHECK", "k", "COST", "1000000000001"}, "ERR COST must be an integer from 0 to 1000000000000"},
      {{"CHECK", "k", "COST", "+5"}, "ERR COST must be an integer from 0 to 1000000000000"},
      {{"CHECK", "k", "COST", "99999999999999999999"}, "ERR COST must be an integer from 0 to 1000000000000"},
      {{"CHECK", "k", "ID", "x", "HOLD", "0"}, "ERR HOLD must be an integer from 1 to 86400000"},
      {{"CHECK", "k", "ID", "x", "HOLD", "86400001"}, "ERR HOLD must be an integer from 1 to 86400000"},
      {{"CHECK", "k", "WAIT", "-1"}, "ERR WAIT must be an integer from 0 to 3600000"},
      {{"CHECK", "k", "WAIT", "3600001"}, "ERR WAIT must be an integer from 0 to 3600000"},
      {{"CHECK", "k", "SUBJECT", ""}, "ERR SUBJECT must be 1 to 256 bytes"},
      {{"CHECK", "k", "SUBJECT", long_subject}, "ERR SUBJECT must be 1 to 256 bytes"},
      {{"CHECK", "k", "ID", ""}, "ERR ID must be 1 to 256 bytes"},
      {{"CHECK", "k", "ID", long_id}, "ERR ID must be 1 to 256 bytes"},
      {{"CHECK", "k", "HOLD", "1000"}, "ERR HOLD requires ID"},
  };
  for (const Case& c : cases) EXPECT_EQ(error_of(c.args), c.error) << "args of " << c.args.size();
}

// Verifies an unknown option's name is cut to 64 bytes in the error.
TEST(CheckRequestParser, UnknownOptionNameIsCut) {
  const std::string name(100, 'X');
  EXPECT_EQ(error_of({"CHECK", "k", name, "1"}),
            "ERR unknown option '" + name.substr(0, 64) +
                "' (expected COST, CHANNEL, PURPOSE, SUBJECT, ID, HOLD or WAIT)");
}

// Verifies a well-formed request fills every field, option names in any
// case and order, and that options left out keep their defaults.
TEST(CheckRequestParser, FillsEveryOption) {
  auto r = parse_check_request(std::vector<std::string_view>{"CHECK", "acme", "wait", "250", "Cost", "0", "CHANNEL",
                                                             "web", "purpose", "search", "SUBJECT", "u1", "id",
                                                             "req-1", "HOLD", "86400000"});
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->key, "acme");
  EXPECT_EQ(r->cost, 0);
  EXPECT_EQ(r->channel, "web");
  EXPECT_EQ(r->purpose, "search");
  EXPECT_EQ(r->subject, "u1");
  EXPECT_EQ(r->id, "req-1");
  EXPECT_EQ(r->hold_ms, 86'400'000);
  EXPECT_EQ(r->wait_ms, 250);

  auto bare = parse_check_request(std::vector<std::string_view>{"PEEK", "k"});
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->cost, 1);
  EXPECT_EQ(bare->hold_ms, -1);
  EXPECT_EQ(bare->wait_ms, -1);
  EXPECT_TRUE(bare->subject.empty());
}

}  // namespace
}  // namespace tollgate
