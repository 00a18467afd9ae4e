// The call log end to end: a real tollgated with call_log on records a known
// mix of calls (limits of two types, prepaid money, a hold cancelled, a
// recharge); tollgate-replay then runs it through the live config (nothing
// flips: every recorded decision is reproduced) and through a candidate
// that tightens one limit and loosens another (exact flips and money).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "daemon_harness.h"

namespace tollgate::testing {
namespace {

// Built beside tollgated (a dependency of integration_tests).
const std::string kReplay = std::string(TOLLGATE_BINARY_DIR) + "/tollgate-replay";

std::string config(int acme_window, int globex_burst) {
  return R"(
pricing:
  std:
    - { prepay_from: 0, unit_price: 10 }
contracts:
  acme:
    pricing: std
    limits:
      - { name: per_day, type: sliding_window, limit: )" +
         std::to_string(acme_window) + R"(, window: 1d }
  globex:
    limits:
      - { name: burst, type: token_bucket, rate: 1, per: 1h, burst: )" +
         std::to_string(globex_burst) + R"( }
call_log:
  dir: calls
  flush_interval: 20ms
)";
}

// Runs tollgate-replay and parses its --json report.
nlohmann::json replay(const std::string& config_path, const std::string& log_dir, std::string& output) {
  const int rc = Daemon::run_tool({kReplay, "--config", config_path, "--log", log_dir, "--json"}, output);
  EXPECT_EQ(rc, 0) << output;
  const size_t start = output.find('{');
  if (rc != 0 || start == std::string::npos) return {};
  return nlohmann::json::parse(output.substr(start), nullptr, false);
}

// Verifies a recorded run replays exactly through its own config, and that
// a candidate with acme's window halved (10 → 5) and globex's burst raised
// (5 → 8) flips exactly the calls computed here, with the money they carry.
TEST(CallLogReplay, RecordedRunReplaysExactlyAndCandidateFlips) {
  Daemon d(config(10, 5));
  ASSERT_TRUE(d.wait_ready());
  Client c = d.connect();
  Client admin = d.connect_admin();
  Reply r = command(admin.get(), {"RECHARGE", "acme", "1000", "pay-1"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  // A hold, cancelled: it gives back its window unit and its 10 minor units.
  r = command(c.get(), {"CHECK", "acme", "ID", "h1", "HOLD", "60000"});
  ASSERT_EQ(r->element[0]->integer, 1);
  ASSERT_EQ(command(c.get(), {"SETTLE", "acme", "h1", "CANCEL"})->integer, 1);
  int acme_allowed = 0, globex_allowed = 0;
  for (int i = 0; i < 15; ++i) {
    r = command(c.get(), {"CHECK", "acme", "SUBJECT", "user" + std::to_string(i % 4)});
    acme_allowed += static_cast<int>(r->element[0]->integer);
  }
  for (int i = 0; i < 8; ++i) globex_allowed += static_cast<int>(command(c.get(), {"CHECK", "globex"})->element[0]->integer);
  ASSERT_EQ(acme_allowed, 10);
  ASSERT_EQ(globex_allowed, 5);
  ASSERT_EQ(command(c.get(), {"PEEK", "acme"})->element[6]->integer, 900);  // PEEK is not logged
  ASSERT_EQ(d.stop(), 0);  // the last records are written on the way out

  const std::string log_dir = d.dir().file("calls");
  std::string output;
  nlohmann::json same = replay(d.config_path(), log_dir, output);
  ASSERT_TRUE(same.is_object()) << output;
  EXPECT_EQ(same["calls"], 24) << output;
  EXPECT_EQ(same["settles"], 1);
  EXPECT_EQ(same["recharges"], 1);
  EXPECT_EQ(same["allowed_to_denied"], 0) << output;
  EXPECT_EQ(same["denied_to_allowed"], 0) << output;
  EXPECT_EQ(same["money_delta_minor"], 0) << output;
  EXPECT_EQ(same["contracts"]["acme"]["live_charged_minor"], 100) << output;

  const std::string candidate = d.dir().file("candidate.yaml");
  {
    std::ofstream out(candidate);
    out << config(5, 8);
  }
  nlohmann::json j = replay(candidate, log_dir, output);
  ASSERT_TRUE(j.is_object()) << output;
  // acme: the hold and the 15 calls; the window of 5 denies calls 6..10 that
  // were allowed live (11..15 were denied both times). Each would have cost
  // 10 minor units: the candidate charges 50 less.
  // globex: the burst of 8 allows calls 6..8 that were denied RATE live.
  EXPECT_EQ(j["calls"], 24) << output;
  EXPECT_EQ(j["allowed_to_denied"], 5) << output;
  EXPECT_EQ(j["denied_to_allowed"], 3) << output;
  EXPECT_EQ(j["money_delta_minor"], -50) << output;
  const auto& acme = j["contracts"]["acme"];
  EXPECT_EQ(acme["calls"], 16);
  EXPECT_EQ(acme["allowed_to_denied"], 5);
  EXPECT_EQ(acme["denied_to_allowed"], 0);
  EXPECT_EQ(acme["money_delta_minor"], -50);
  EXPECT_EQ(acme["subjects_affected"], 4);  // calls 6..10 (indexes 5..9) cover user0..user3
  EXPECT_EQ(acme["limits"]["per_day"]["allowed_to_denied"], 5);
  EXPECT_EQ(acme["limits"]["per_day"]["money_delta_minor"], -50);
  EXPECT_EQ(acme["limits"]["per_day"]["codes"]["WINDOW"], 5);
  const auto& globex = j["contracts"]["globex"];
  EXPECT_EQ(globex["calls"], 8);
  EXPECT_EQ(globex["allowed_to_denied"], 0);
  EXPECT_EQ(globex["denied_to_allowed"], 3);
  EXPECT_EQ(globex["money_delta_minor"], 0);
  EXPECT_EQ(globex["limits"]["burst"]["denied_to_allowed"], 3);
  EXPECT_EQ(globex["limits"]["burst"]["codes"]["RATE"], 3);
}

// Verifies an empty log directory is reported as such (exit 1), not as a
// replay of nothing.
TEST(CallLogReplay, EmptyLogSaysSo) {
  TempDir dir;
  {
    std::ofstream out(dir.file("c.yaml"));
    out << config(10, 5);
  }
  std::string output;
  EXPECT_EQ(Daemon::run_tool({kReplay, "--config", dir.file("c.yaml"), "--log", dir.path()}, output), 1);
  EXPECT_NE(output.find("no call-log segments"), std::string::npos) << output;
}

}  // namespace
}  // namespace tollgate::testing
