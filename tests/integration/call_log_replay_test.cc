// The call log end to end: a real tollgated with call_log on records a known
// mix of calls (limits of two types, prepaid money, a hold cancelled, a
// recharge); tollgate-replay then runs it through the live config (nothing
// flips: every recorded decision is reproduced) and through a candidate
// that tightens one limit and loosens another (exact flips and money).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "calllog/call_log.h"
#include "calllog/segment.h"

#include "daemon_harness.h"
#include "support/eventually.h"

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

// Runs tollgate-replay and parses its --json report; an empty config path
// follows the log's recorded config generations.
nlohmann::json replay(const std::string& config_path, const std::string& log_dir, std::string& output) {
  const int rc =
      config_path.empty()
          ? Daemon::run_tool({kReplay, "--log", log_dir, "--json"}, output)
          : Daemon::run_tool({kReplay, "--config", config_path, "--log", log_dir, "--json"}, output);
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

// The determinism run's config: a priced contract with three limit types
// and a concurrency limit for its holds, a contract whose monthly quota
// the reload changes (6 → 9), and one whose monitor blocks a channel.
std::string determinism_config(int globex_monthly) {
  return R"(
pricing:
  ladder:
    - { prepay_from: 2000, unit_price: 5 }
    - { prepay_from: 0,    unit_price: 10 }
contracts:
  acme:
    pricing: ladder
    hold_timeout: cancel
    limits:
      - { name: burst,    type: token_bucket,   rate: 1, per: 1h, burst: 14 }
      - { name: per_day,  type: sliding_window, limit: 40, window: 1d }
      - { name: inflight, type: concurrency,    limit: 2 }
  globex:
    limits:
      - { name: monthly, type: quota,        limit: )" +
         std::to_string(globex_monthly) + R"(, period: month }
      - { name: burst,   type: token_bucket, rate: 1, per: 1h, burst: 20 }
  initech:
    channels: [web, batch]
    monitors:
      - name: web-volume
        kind: volume
        per: channel
        period: hour
        above: 5
        actions:
          - { do: block_channel, for: 1h }
call_log:
  dir: calls
  flush_interval: 20ms
)";
}

// Verifies the determinism check (issue 14 §2): a live run with a token
// bucket, a sliding window, a calendar quota and a concurrency limit; holds
// committed, cancelled and one left to expire (its slot refused a call until
// the live timer expired it); a price ladder fed by RECHARGE (one payment id
// repeated); an ID retried; SUSPEND/RESUME; and a reload in the middle that
// raises globex's monthly quota; and a monitor's channel block put in force
// by its tick and lifted by MONITOR CLEAR. Replayed following the log's
// generations, every recorded decision comes back (0 flips both ways, money
// delta 0); replayed through the first config as a candidate, exactly the 3
// globex calls the reload let through flip to QUOTA, and the recorded monitor
// action is ignored.
TEST(CallLogReplay, FollowingGenerationsReproducesEveryDecision) {
  Daemon d(determinism_config(6));
  ASSERT_TRUE(d.wait_ready());
  Client c = d.connect();
  Client admin = d.connect_admin();
  int calls = 0, settles = 0;
  auto check = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "CHECK");
    Reply r = command(c.get(), args);
    EXPECT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
    ++calls;
    return r->type == REDIS_REPLY_ARRAY ? static_cast<int>(r->element[0]->integer) : -1;
  };
  auto settle = [&](const std::string& id, const char* outcome) {
    ++settles;
    return command(c.get(), {"SETTLE", "acme", id, outcome})->integer;
  };
  // Money: 1000 at 10 a call, then 3000 at the ladder's 5; pay-1 again is a repeat.
  ASSERT_EQ(command(admin.get(), {"RECHARGE", "acme", "1000", "pay-1"})->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(command(admin.get(), {"RECHARGE", "acme", "3000", "pay-2"})->element[1]->integer, 5);
  ASSERT_EQ(command(admin.get(), {"RECHARGE", "acme", "1000", "pay-1"})->type, REDIS_REPLY_ARRAY);
  // Holds: committed, cancelled, and one that expires while two are open.
  ASSERT_EQ(check({"acme", "ID", "h1", "HOLD", "60000"}), 1);
  ASSERT_EQ(settle("h1", "COMMIT"), 1);
  ASSERT_EQ(check({"acme", "ID", "h2", "HOLD", "60000"}), 1);
  ASSERT_EQ(settle("h2", "CANCEL"), 1);
  ASSERT_EQ(check({"acme", "ID", "h3", "HOLD", "150"}), 1);
  ASSERT_EQ(check({"acme", "ID", "h4", "HOLD", "60000"}), 1);
  ASSERT_EQ(check({"acme", "ID", "h5", "HOLD", "60000"}), 0);  // CONCURRENCY: h3 and h4 are open
  ASSERT_TRUE(eventually([&] { return fields(admin.get(), {"CONTRACT", "acme"})["open_holds"] == "1"; }, 10000))
      << "h3 never expired";
  ASSERT_EQ(check({"acme", "ID", "h6", "HOLD", "60000"}), 1);  // h3's slot is free again
  ASSERT_EQ(settle("h4", "COMMIT"), 1);
  ASSERT_EQ(settle("h6", "CANCEL"), 1);
  // An ID retried: the second CHECK replays the first reply, charging once.
  ASSERT_EQ(check({"acme", "ID", "x1"}), 1);
  ASSERT_EQ(check({"acme", "ID", "x1"}), 1);
  int acme_allowed = 0;
  for (int i = 0; i < 12; ++i) acme_allowed += check({"acme", "SUBJECT", "user" + std::to_string(i % 3)});
  EXPECT_LT(acme_allowed, 12);  // the bucket (14) ran out: some denials are recorded too
  int globex_allowed = 0;
  for (int i = 0; i < 8; ++i) globex_allowed += check({"globex"});
  ASSERT_EQ(globex_allowed, 6);
  // A monitor action: 6 calls on web cross `above: 5`; its tick (about once a
  // second) blocks web; polled with a deadline, every poll recorded.
  for (int i = 0; i < 6; ++i) ASSERT_EQ(check({"initech", "CHANNEL", "web"}), 1);
  const auto polling = std::chrono::steady_clock::now();
  while (check({"initech", "CHANNEL", "web"}) != 0) {
    ASSERT_LT(std::chrono::steady_clock::now() - polling, std::chrono::seconds(5)) << "the monitor never blocked web";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition, with a deadline
  }
  ASSERT_EQ(check({"initech", "CHANNEL", "batch"}), 1);
  ASSERT_EQ(command(admin.get(), {"MONITOR", "CLEAR", "initech"})->integer, 1);
  ASSERT_EQ(check({"initech", "CHANNEL", "web"}), 1);
  // SUSPEND/RESUME: denied SUSPENDED between them.
  ASSERT_EQ(std::string(command(admin.get(), {"SUSPEND", "acme", "audit"})->str), "OK");
  ASSERT_EQ(check({"acme"}), 0);
  ASSERT_EQ(check({"globex"}), 0);  // still QUOTA
  ASSERT_EQ(std::string(command(admin.get(), {"RESUME", "acme"})->str), "OK");
  // The reload: globex's quota 6 → 9; the counters carry over.
  d.rewrite_config(determinism_config(9));
  Reply reloaded = command(admin.get(), {"RELOAD"});
  ASSERT_NE(reloaded->type, REDIS_REPLY_ERROR) << reloaded->str;
  int globex_after = 0;
  for (int i = 0; i < 5; ++i) globex_after += check({"globex"});
  ASSERT_EQ(globex_after, 3);
  for (int i = 0; i < 3; ++i) check({"acme", "COST", "2"});
  ASSERT_EQ(d.stop(), 0);

  const std::string log_dir = d.dir().file("calls");
  std::string output;
  nlohmann::json live = replay("", log_dir, output);
  ASSERT_TRUE(live.is_object()) << output;
  EXPECT_EQ(live["calls"], calls) << output;
  EXPECT_EQ(live["settles"], settles) << output;
  EXPECT_EQ(live["recharges"], 3) << output;
  EXPECT_EQ(live["generations"], 2) << output;
  EXPECT_EQ(live["admin_changes"], 2) << output;
  EXPECT_EQ(live["monitor_actions_applied"], 2) << output;  // put in force, cleared
  EXPECT_EQ(live["holds_expired"], 1) << output;             // h3, where its timer expired it
  EXPECT_EQ(live["allowed_to_denied"], 0) << output;
  EXPECT_EQ(live["denied_to_allowed"], 0) << output;
  EXPECT_EQ(live["money_delta_minor"], 0) << output;
  EXPECT_TRUE(live["problems"].empty()) << output;
  for (const char* key : {"acme", "globex", "initech"}) {
    EXPECT_EQ(live["contracts"][key]["allowed_live"], live["contracts"][key]["allowed_candidate"]) << key;
  }
  EXPECT_GT(live["contracts"]["acme"]["live_charged_minor"].get<int64_t>(), 0) << output;
  // Money by lot price (README): every charge here came from the first lot
  // (price 10) and the log records each call's split, so nothing is
  // "mixed"; the cancelled hold h2 goes back to price 10 on both sides, and
  // the one hold the live timer cancelled (h3, 1 credit) is given back under
  // "other" on the live side (the log says how many holds a timer expired,
  // not which). The lines add up to the totals.
  int64_t live_sum = 0, candidate_sum = 0, other = 0;
  for (const auto& lot : live["contracts"]["acme"]["lots"]) {
    EXPECT_NE(lot["price_minor"], 0) << output;
    live_sum += lot["live_minor"].get<int64_t>();
    candidate_sum += lot["candidate_minor"].get<int64_t>();
    if (lot["price_minor"] == -1) other = lot["live_minor"].get<int64_t>();
  }
  EXPECT_EQ(other, -10) << output;
  EXPECT_EQ(live_sum, live["contracts"]["acme"]["live_charged_minor"].get<int64_t>()) << output;
  EXPECT_EQ(candidate_sum, live["contracts"]["acme"]["candidate_charged_minor"].get<int64_t>()) << output;

  // The first config as a candidate for the whole stretch: the reload is not
  // followed, so exactly the 3 globex calls allowed after it are denied.
  const std::string first = d.dir().file("first.yaml");
  std::ofstream(first) << determinism_config(6);
  nlohmann::json j = replay(first, log_dir, output);
  ASSERT_TRUE(j.is_object()) << output;
  // initech's block was the live monitor's: a candidate's own monitors decide
  // there, so its flips are not asserted here.
  EXPECT_EQ(j["monitor_actions_ignored"], 2) << output;
  EXPECT_EQ(j["contracts"]["acme"]["allowed_to_denied"], 0) << output;
  EXPECT_EQ(j["contracts"]["acme"]["denied_to_allowed"], 0) << output;
  EXPECT_EQ(j["contracts"]["globex"]["allowed_to_denied"], 3) << output;
  EXPECT_EQ(j["contracts"]["globex"]["denied_to_allowed"], 0) << output;
  EXPECT_EQ(j["contracts"]["globex"]["limits"]["monthly"]["codes"]["QUOTA"], 3) << output;
  EXPECT_EQ(j["money_delta_minor"], 0) << output;
}

// Verifies a log without a generation record (as written before they
// existed) is refused without --config, with a message that says to give
// one; and that through tollgate-replay a frame cut short is reported with
// its segment and byte offset while the frames before it still replay.
TEST(CallLogReplay, NoGenerationRecordNeedsConfigAndTruncatedFrameIsReported) {
  TempDir dir;
  {
    calllog::CallLogOptions options;
    options.dir = dir.path();
    calllog::CallLog log(options, 1, files::default_file_system());
    ASSERT_TRUE(log.open().has_value());
    for (int block = 0; block < 2; ++block) {
      calllog::CallRecord r;
      r.time = (1'790'000'000 + block) * kNanosPerSecond;
      r.key = "globex";
      r.allowed = true;
      r.code = Code::kOk;
      log.record(0, r);
      ASSERT_EQ(log.flush(r.time), 1u);
    }
    log.stop(0);
  }
  auto segments = calllog::list_segments(dir.path());
  ASSERT_EQ(segments->size(), 1u);
  const uint64_t size = std::filesystem::file_size(segments->front());
  std::filesystem::resize_file(segments->front(), size - 3);  // the second frame loses its tail
  std::string output;
  EXPECT_EQ(Daemon::run_tool({kReplay, "--log", dir.path()}, output), 1);
  EXPECT_NE(output.find("no config generation record"), std::string::npos) << output;
  EXPECT_NE(output.find("give --config"), std::string::npos) << output;

  {
    std::ofstream out(dir.file("c.yaml"));
    out << config(10, 5);
  }
  nlohmann::json j = replay(dir.file("c.yaml"), dir.path(), output);
  ASSERT_TRUE(j.is_object()) << output;
  EXPECT_EQ(j["calls"], 1) << output;  // the first frame
  ASSERT_EQ(j["problems"].size(), 1u) << output;
  const std::string problem = j["problems"][0];
  EXPECT_NE(problem.find(segments->front() + " at byte "), std::string::npos) << problem;
  EXPECT_NE(problem.find("truncated"), std::string::npos) << problem;
}

// Two contracts for the MULTI/EXEC run: alpha 2 a day (3 in the candidate), beta 10.
std::string group_config(int alpha_limit) {
  return R"(
contracts:
  alpha:
    limits:
      - { name: daily, type: sliding_window, limit: )" +
         std::to_string(alpha_limit) + R"(, window: 1d }
  beta:
    limits:
      - { name: daily, type: sliding_window, limit: 10, window: 1d }
call_log:
  dir: calls
  flush_interval: 20ms
)";
}

// Verifies CHECKs decided all-or-nothing in MULTI/EXEC are logged, each with
// its live decision, as groups (README, "Groups of CHECKs"): two
// transactions of alpha and beta pass, the third is refused whole (alpha by
// its window, beta ABORTED). Following the generations every decision comes
// back (0 flips, 3 groups, no problem). A candidate that loosens alpha to 3
// lets the third transaction through whole: exactly its 2 CHECKs flip to
// allowed, beta's ABORTED among them — decided alone, beta would not flip.
TEST(CallLogReplay, TransactionGroupsReplayAllOrNothing) {
  Daemon d(group_config(2));
  ASSERT_TRUE(d.wait_ready());
  Client c = d.connect();
  auto exec = [&](std::vector<std::string> keys) {
    std::vector<long long> allowed;
    EXPECT_EQ(std::string(command(c.get(), {"MULTI"})->str), "OK");
    for (const std::string& k : keys) EXPECT_EQ(std::string(command(c.get(), {"CHECK", k})->str), "QUEUED");
    Reply r = command(c.get(), {"EXEC"});
    EXPECT_EQ(r->type, REDIS_REPLY_ARRAY);
    if (r->type != REDIS_REPLY_ARRAY) return allowed;
    for (size_t i = 0; i < r->elements; ++i) allowed.push_back(r->element[i]->element[0]->integer);
    return allowed;
  };
  EXPECT_EQ(exec({"alpha", "beta"}), (std::vector<long long>{1, 1}));
  EXPECT_EQ(exec({"alpha", "beta"}), (std::vector<long long>{1, 1}));
  EXPECT_EQ(exec({"beta", "alpha"}), (std::vector<long long>{0, 0}));  // alpha spent: beta ABORTED
  ASSERT_EQ(command(c.get(), {"CHECK", "beta"})->element[0]->integer, 1);
  ASSERT_EQ(d.stop(), 0);

  const std::string log_dir = d.dir().file("calls");
  std::string output;
  nlohmann::json live = replay("", log_dir, output);
  ASSERT_TRUE(live.is_object()) << output;
  EXPECT_EQ(live["calls"], 7) << output;
  EXPECT_EQ(live["groups"], 3) << output;
  EXPECT_EQ(live["allowed_to_denied"], 0) << output;
  EXPECT_EQ(live["denied_to_allowed"], 0) << output;
  EXPECT_TRUE(live["problems"].empty()) << output;

  const std::string looser = d.dir().file("looser.yaml");
  std::ofstream(looser) << group_config(3);
  nlohmann::json j = replay(looser, log_dir, output);
  ASSERT_TRUE(j.is_object()) << output;
  EXPECT_EQ(j["groups"], 3) << output;
  EXPECT_EQ(j["allowed_to_denied"], 0) << output;
  EXPECT_EQ(j["denied_to_allowed"], 2) << output;
  EXPECT_EQ(j["contracts"]["alpha"]["denied_to_allowed"], 1) << output;
  EXPECT_EQ(j["contracts"]["beta"]["denied_to_allowed"], 1) << output;
  EXPECT_EQ(j["contracts"]["beta"]["codes"]["ABORTED"], 1) << output;
  EXPECT_TRUE(j["problems"].empty()) << output;
}

}  // namespace
}  // namespace tollgate::testing
