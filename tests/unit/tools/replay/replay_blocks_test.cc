// tollgate-replay's reading path (replay_log): blocks decoded a chunk at a
// time, each block's keys resolved once (Replayer::start_block and
// apply(record, key index)), must report exactly what the records applied
// one by one (Replayer::apply) report, over a log of several blocks with
// contracts, a key class and an unknown key; and the flips of a halved quota
// are the ones computed here from the scenario.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calllog/call_log.h"
#include "config/config_loader.h"
#include "control/engine_options.h"
#include "replay/replay.h"
#include "unit/config/config_test_util.h"

namespace tollgate::replay {
namespace {

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;

std::string config_yaml(int quota) {
  return R"(
key_classes:
  - match: "ip:*"
    limits:
      - { name: per-ip, type: token_bucket, rate: 20, per: 1s, burst: 5 }
contracts:
  acme:
    limits:
      - { name: daily, type: quota, limit: )" +
         std::to_string(quota) + R"(, period: day }
  globex:
    channels: [web]
    limits:
      - { name: burst, type: token_bucket, rate: 50, per: 1s, burst: 10 }
)";
}

Config parsed(const std::string& yaml) {
  auto config = parse_config(yaml, "replay_blocks.yaml");
  EXPECT_TRUE(config.has_value()) << (config ? "" : testing::joined(config.error()));
  return config ? std::move(*config) : Config{};
}

// The calls, decided by the live config (40 a day for acme).
std::vector<calllog::CallRecord> live_calls(std::vector<std::string>& subjects) {
  static const char* kKeys[] = {"acme", "globex", "ip:10.0.0.1", "ip:10.0.0.2", "nobody"};
  static const char* kChannels[] = {"web", "", "batch"};
  const Config config = parsed(config_yaml(40));
  Reclaimer reclaimer{4};
  RuntimeState state;
  auto engine = std::move(*Engine::create(engine_options_from(config, 1), reclaimer, kT0, state));
  std::vector<calllog::CallRecord> out;
  char hex[17];
  for (int i = 0; i < 600; ++i) {
    calllog::CallRecord r;
    r.time = kT0 + i * 7 * kNanosPerMilli;
    r.key = kKeys[(i * 7) % 5];
    r.channel = kChannels[i % 3];
    r.subject_hash = calllog::log_hash(subjects[static_cast<size_t>(i) % subjects.size()]);
    CheckRequest q;
    q.key = r.key;
    q.channel = r.channel;
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r.subject_hash));
    q.subject = std::string_view(hex, 16);  // as replay stands the hash in for the subject
    const Decision d = engine->check(q, r.time, 0);
    r.allowed = d.allowed;
    r.code = d.code;
    r.limit = d.limit;  // views into the engine's policies: valid while `config` and `engine` live
    out.push_back(r);
  }
  // The limit names outlive the engine as views into static strings.
  for (auto& r : out) {
    if (r.limit == "daily") r.limit = "daily";
    else if (r.limit == "burst") r.limit = "burst";
    else if (r.limit == "per-ip") r.limit = "per-ip";
    else if (!r.limit.empty()) ADD_FAILURE() << "unexpected limit " << r.limit;
  }
  return out;
}

// The report without what depends on the reading (time taken, segments).
nlohmann::json comparable(const ReplayReport& report) {
  auto j = nlohmann::json::parse(report_json(report));
  j.erase("seconds");
  j.erase("calls_per_second");
  j.erase("segments");
  return j;
}

// Verifies replay_log over a log of 12 blocks reports exactly what applying
// the same records one by one reports, and that halving acme's quota flips
// exactly its 21st to 40th calls to denied QUOTA (daily) and nothing else.
TEST(ReplayBlocks, ChunkedReadingReportsWhatRecordByRecordReports) {
  std::vector<std::string> subjects;
  for (int i = 0; i < 9; ++i) subjects.push_back("user-" + std::to_string(i));
  const std::vector<calllog::CallRecord> calls = live_calls(subjects);

  std::string dir = ::testing::TempDir() + "replay-blocks-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  {
    calllog::CallLogOptions o;
    o.dir = dir;
    calllog::CallLog log(o, 1, files::default_file_system());
    ASSERT_TRUE(log.open().has_value());
    for (size_t i = 0; i < calls.size(); ++i) {
      log.record(0, calls[i]);
      if (i % 50 == 49) log.flush(calls[i].time);
    }
    log.stop(calls.back().time);
  }

  const Config candidate = parsed(config_yaml(20));
  ReplayOptions options;
  options.log_dir = dir;
  auto read = replay_log(candidate, options);
  ASSERT_TRUE(read.has_value()) << read.error();
  EXPECT_EQ(read->blocks, 12u);
  EXPECT_TRUE(read->problems.empty());

  auto one_by_one = Replayer::create(candidate, calls.front().time);
  ASSERT_TRUE(one_by_one.has_value()) << one_by_one.error();
  for (const calllog::CallRecord& r : calls) (*one_by_one)->apply(r);
  (*one_by_one)->finish();
  EXPECT_EQ(comparable(*read), comparable((*one_by_one)->report()));

  // Independently: acme's calls in order; live allowed the first 40, the
  // candidate the first 20.
  uint64_t acme_calls = 0, acme_allowed_live = 0;
  for (const auto& r : calls)
    if (r.key == "acme") {
      ++acme_calls;
      acme_allowed_live += r.allowed;
    }
  ASSERT_EQ(acme_allowed_live, 40u);
  ASSERT_GT(acme_calls, 40u);
  const ReplayReport& report = *read;
  EXPECT_EQ(report.calls, calls.size());
  EXPECT_EQ(report.allowed_to_denied(), 20u);
  EXPECT_EQ(report.denied_to_allowed(), 0u);
  ASSERT_TRUE(report.contracts.contains("acme"));
  const ContractReport& acme = report.contracts.at("acme");
  EXPECT_EQ(acme.calls, acme_calls);
  EXPECT_EQ(acme.allowed_live, 40u);
  EXPECT_EQ(acme.allowed_candidate, 20u);
  EXPECT_EQ(acme.flips.codes, (std::map<std::string, uint64_t>{{"QUOTA", 20}}));
  ASSERT_TRUE(acme.limits.contains("daily"));
  EXPECT_EQ(acme.limits.at("daily").allowed_to_denied, 20u);
  // The key class and the unknown key are reported together, unflipped.
  ASSERT_TRUE(report.contracts.contains("(key classes)"));
  EXPECT_EQ(report.contracts.at("(key classes)").calls, acme_calls * 3);  // ip:1, ip:2, nobody: as many as acme
  EXPECT_EQ(report.contracts.at("(key classes)").flips.allowed_to_denied, 0u);
  ASSERT_TRUE(report.contracts.contains("globex"));
  EXPECT_EQ(report.contracts.at("globex").flips.allowed_to_denied, 0u);
  std::filesystem::remove_all(dir);
}

// Verifies holds expire at their deadlines with a candidate, also when the
// records between are hold-less CHECKs of other keys (Replayer::advance
// asks the hold heap only while a hold may be open): with one slot of
// concurrency, acme's second hold is denied while the first is open and
// allowed once its 100 ms have passed, and a third hold opened after the
// heap was seen empty expires as well.
TEST(ReplayBlocks, HoldsExpireAtTheirDeadlinesAcrossHoldlessRecords) {
  const Config candidate = parsed(R"(
key_classes:
  - match: "ip:*"
    limits:
      - { name: per-ip, type: token_bucket, rate: 1000, per: 1s, burst: 1000 }
contracts:
  acme:
    hold_timeout: cancel
    limits:
      - { name: inflight, type: concurrency, limit: 1 }
)");
  auto made = Replayer::create(candidate, kT0);
  ASSERT_TRUE(made.has_value()) << made.error();
  Replayer& replayer = **made;
  uint64_t id = 1;
  auto hold = [&](Nanos at, bool live_allowed) {
    calllog::CallRecord r;
    r.time = at;
    r.key = "acme";
    r.hold_ms = 100;
    r.id_hash = id++;
    r.allowed = live_allowed;
    r.code = live_allowed ? Code::kOk : Code::kConcurrency;
    replayer.apply(r);
  };
  auto other = [&](Nanos at) {
    calllog::CallRecord r;
    r.time = at;
    r.key = "ip:10.0.0.9";
    r.allowed = true;
    r.code = Code::kOk;
    replayer.apply(r);
  };
  // Live decisions as they must come out: no flips means replay agrees.
  hold(kT0, true);
  other(kT0 + 10 * kNanosPerMilli);
  hold(kT0 + 50 * kNanosPerMilli, false);  // the first hold is open
  for (int i = 1; i <= 10; ++i) other(kT0 + (50 + 10 * i) * kNanosPerMilli);
  hold(kT0 + 160 * kNanosPerMilli, true);  // the first expired at 100 ms
  for (int i = 1; i <= 30; ++i) other(kT0 + (160 + 10 * i) * kNanosPerMilli);
  hold(kT0 + 470 * kNanosPerMilli, true);  // the third expired at 260 ms
  replayer.finish();
  const ReplayReport& report = replayer.report();
  EXPECT_EQ(report.calls, 45u);
  EXPECT_EQ(report.allowed_to_denied(), 0u);
  EXPECT_EQ(report.denied_to_allowed(), 0u);
  ASSERT_TRUE(report.contracts.contains("acme"));
  EXPECT_EQ(report.contracts.at("acme").allowed_candidate, 3u);
}

}  // namespace
}  // namespace tollgate::replay
