#include "cli/requests.h"

#include <gtest/gtest.h>

#include "commands/check_request_parser.h"

namespace tollgate::cli {
namespace {

// Verifies a bare check sends CHECK with the key and nothing else (COST defaults on the daemon).
TEST(CliRequests, CheckMinimal) {
  CheckRequest request;
  request.key = "acme-loans";
  EXPECT_EQ(check_arguments(request), (Arguments{"CHECK", "acme-loans"}));
}

// Verifies every check option becomes its keyword/value pair, in a fixed order.
TEST(CliRequests, CheckAllOptions) {
  const CheckRequest request{.key = "acme",
                             .cost = 3,
                             .channel = "pc",
                             .purpose = "credit-score",
                             .subject = "user 42",
                             .id = "req-1",
                             .peek = false};
  EXPECT_EQ(check_arguments(request), (Arguments{"CHECK", "acme", "COST", "3", "CHANNEL", "pc", "PURPOSE",
                                                 "credit-score", "SUBJECT", "user 42", "ID", "req-1"}));
}

// Verifies --peek sends PEEK with the same arguments, and an explicit cost of 0 is still sent.
TEST(CliRequests, PeekAndZeroCost) {
  CheckRequest request;
  request.key = "k";
  request.cost = 0;
  request.peek = true;
  EXPECT_EQ(check_arguments(request), (Arguments{"PEEK", "k", "COST", "0"}));
}

// Verifies recharge converts the decimal amount exactly into minor units.
TEST(CliRequests, RechargeDecimal) {
  EXPECT_EQ(recharge_arguments("acme", "150000.00", "pay-1", 2, false),
            (Arguments{"RECHARGE", "acme", "15000000", "pay-1"}));
  EXPECT_EQ(recharge_arguments("acme", "0.1", "pay-2", 2, false), (Arguments{"RECHARGE", "acme", "10", "pay-2"}));
  EXPECT_EQ(recharge_arguments("acme", "5", "p", 0, false), (Arguments{"RECHARGE", "acme", "5", "p"}));
  EXPECT_EQ(recharge_arguments("acme", "1.234", "p", 3, false), (Arguments{"RECHARGE", "acme", "1234", "p"}));
}

// Verifies --minor passes minor units through untouched and rejects decimals.
TEST(CliRequests, RechargeMinor) {
  EXPECT_EQ(recharge_arguments("acme", "15000000", "p", 2, true),
            (Arguments{"RECHARGE", "acme", "15000000", "p"}));
  EXPECT_FALSE(recharge_arguments("acme", "150.00", "p", 2, true).has_value());
}

// Verifies bad amounts and a missing payment id are refused before anything is sent.
TEST(CliRequests, RechargeRefusals) {
  EXPECT_FALSE(recharge_arguments("acme", "100", "", 2, false).has_value());
  for (const char* bad : {"", "-1", "0", "0.00", "1.005", "1e3", "150,000.00", "abc", " 1"})
    EXPECT_FALSE(recharge_arguments("acme", bad, "p", 2, false).has_value()) << bad;
}

// Verifies the admin commands' argument vectors, with and without their optional parts.
TEST(CliRequests, AdminCommands) {
  EXPECT_EQ(contract_arguments("acme"), (Arguments{"CONTRACT", "acme"}));
  EXPECT_EQ(suspend_arguments("acme", ""), (Arguments{"SUSPEND", "acme"}));
  EXPECT_EQ(suspend_arguments("acme", "unpaid invoice"), (Arguments{"SUSPEND", "acme", "unpaid invoice"}));
  EXPECT_EQ(resume_arguments("acme"), (Arguments{"RESUME", "acme"}));
  EXPECT_EQ(terminate_arguments("acme"), (Arguments{"TERMINATE", "acme"}));
  EXPECT_EQ(reset_arguments("acme", ""), (Arguments{"RESET", "acme"}));
  EXPECT_EQ(reset_arguments("acme", "daily"), (Arguments{"RESET", "acme", "daily"}));
  EXPECT_EQ(ledger_arguments("acme", std::nullopt), (Arguments{"LEDGER", "acme"}));
  EXPECT_EQ(ledger_arguments("acme", 17), (Arguments{"LEDGER", "acme", "17"}));
  EXPECT_EQ(events_arguments(std::nullopt), (Arguments{"EVENTS"}));
  EXPECT_EQ(events_arguments(0), (Arguments{"EVENTS", "0"}));
  EXPECT_EQ(events_follow_arguments(std::nullopt), (Arguments{"EVENTS", "FOLLOW"}));
  EXPECT_EQ(events_follow_arguments(7), (Arguments{"EVENTS", "FOLLOW", "7"}));
  EXPECT_EQ(monitor_clear_arguments("acme", ""), (Arguments{"MONITOR", "CLEAR", "acme"}));
  EXPECT_EQ(monitor_clear_arguments("acme", "night"), (Arguments{"MONITOR", "CLEAR", "acme", "night"}));
  EXPECT_EQ(monitor_ack_arguments("42", ""), (Arguments{"MONITOR", "ACK", "42"}));
  EXPECT_EQ(monitor_ack_arguments("42", "seen, calling them"), (Arguments{"MONITOR", "ACK", "42", "seen, calling them"}));
  EXPECT_EQ(info_arguments(""), (Arguments{"INFO"}));
  EXPECT_EQ(info_arguments("server"), (Arguments{"INFO", "server"}));
  EXPECT_EQ(bare_arguments("reload"), (Arguments{"RELOAD"}));
  EXPECT_EQ(bare_arguments("snapshot"), (Arguments{"SNAPSHOT"}));
  EXPECT_EQ(bare_arguments("ping"), (Arguments{"PING"}));
}

// Verifies only check talks to the data socket and every subcommand is in the table once.
TEST(CliRequests, SubcommandTable) {
  for (const SubcommandSpec& spec : subcommands()) {
    EXPECT_EQ(find_subcommand(spec.name), &spec);
    EXPECT_EQ(spec.socket == SocketKind::kData, spec.name == "check") << spec.name;
    EXPECT_FALSE(spec.help.empty());
  }
  EXPECT_EQ(subcommands().size(), 14u);
  EXPECT_EQ(find_subcommand("nope"), nullptr);
}

// Verifies --cost is checked on the typed text against the daemon's real
// bounds, with a short message naming them (not a 300-digit double range).
TEST(CliRequests, CostBounds) {
  static_assert(kMaxCheckCost == kMaxCost, "the CLI and the daemon must agree on COST's bounds");
  EXPECT_EQ(cost_argument_error("0"), "");
  EXPECT_EQ(cost_argument_error("1"), "");
  EXPECT_EQ(cost_argument_error("1000000000000"), "");
  EXPECT_EQ(cost_argument_error("-1"), "must be a whole number from 0 to 1000000000000, got '-1'");
  for (std::string_view bad : {"", "1000000000001", "99999999999999999999999", "1.5", "1e3", "+1", " 1", "abc"})
    EXPECT_NE(cost_argument_error(bad), "") << bad;
  EXPECT_LT(cost_argument_error(std::string(400, '9')).size(), 120u);
}

}  // namespace
}  // namespace tollgate::cli
