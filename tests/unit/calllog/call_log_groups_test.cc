// Groups of CHECKs decided all-or-nothing in the call log
// (calllog/group_hook.h) and in tollgate-replay (replay/replay_group.h):
// the kGroup kind round-trips beside the old kinds, a group the writer
// collects half-appended waits for its members, and replay decides a group
// together (Engine::check_all) and reports one cut short. Expected values
// are computed here from the scenario.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "calllog/block_codec.h"
#include "calllog/call_log.h"
#include "calllog/group_hook.h"
#include "calllog/segment.h"
#include "config/config_loader.h"
#include "replay/replay.h"
#include "unit/config/config_test_util.h"

namespace tollgate::calllog {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

CallRecord check_record(Nanos time, std::string_view key, bool allowed, Code code = Code::kOk) {
  CallRecord r;
  r.kind = RecordKind::kCheck;
  r.time = time;
  r.key = key;
  r.allowed = allowed;
  r.code = allowed ? Code::kOk : code;
  return r;
}

CallRecord group_record(Nanos time, std::string_view first, int64_t members) {
  CallRecord r;
  r.kind = RecordKind::kGroup;
  r.time = time;
  r.key = first;
  r.cost = members;
  r.allowed = true;
  return r;
}

// Verifies a kGroup record round-trips in a block with CHECKs, a SETTLE and
// a RECHARGE, costs at most 8 bytes before compression, and leaves the old
// kinds' encoding alone (the same block without it is a byte-for-byte
// subset: the members are encoded as lone CHECKs).
TEST(CallLogGroups, GroupKindRoundTripsBesideOldKinds) {
  std::vector<CallRecord> in;
  in.push_back(group_record(kStart, "acme", 2));
  in.push_back(check_record(kStart, "acme", true));
  in.push_back(check_record(kStart, "beta", false, Code::kAborted));
  CallRecord settle;
  settle.kind = RecordKind::kSettle;
  settle.time = kStart + 1;
  settle.key = "acme";
  settle.id_hash = 42;
  settle.allowed = true;
  in.push_back(settle);
  CallRecord recharge;
  recharge.kind = RecordKind::kRecharge;
  recharge.time = kStart + 2;
  recharge.key = "acme";
  recharge.cost = 500;
  recharge.id_hash = 7;
  in.push_back(recharge);
  BlockEncoder encoder;
  for (const CallRecord& r : in) encoder.add(r);
  std::string raw;
  encoder.finish(raw);
  DecodedBlock out;
  ASSERT_TRUE(decode_block(raw, out).has_value());
  ASSERT_EQ(out.records.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out.records[i].kind, in[i].kind) << i;
    EXPECT_EQ(out.records[i].time, in[i].time) << i;
    EXPECT_EQ(out.records[i].key, in[i].key) << i;
    EXPECT_EQ(out.records[i].cost, in[i].cost) << i;
    EXPECT_EQ(out.records[i].allowed, in[i].allowed) << i;
    EXPECT_EQ(out.records[i].code, in[i].code) << i;
    EXPECT_EQ(out.records[i].id_hash, in[i].id_hash) << i;
  }
  BlockEncoder without;
  for (size_t i = 1; i < in.size(); ++i) without.add(in[i]);
  std::string raw_without;
  without.finish(raw_without);
  EXPECT_LE(raw.size() - raw_without.size(), 8u);
  // The records after the group's are encoded exactly as without it.
  const std::string tail_without = raw_without.substr(raw_without.size() - 12);
  EXPECT_EQ(raw.substr(raw.size() - 12), tail_without);
}

struct GroupsDir {
  std::string path;
  GroupsDir() {
    std::string pattern = ::testing::TempDir() + "calllog-groups-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path = pattern;
  }
  ~GroupsDir() { std::filesystem::remove_all(path); }
};

// Every block of the log as its own list of "key" (a CHECK) or "G<n>".
std::vector<std::vector<std::string>> blocks_of(const std::string& dir) {
  std::vector<std::vector<std::string>> out;
  std::vector<SegmentProblem> problems;
  auto segments = list_segments(dir);
  EXPECT_TRUE(segments.has_value());
  for (const std::string& path : *segments) {
    auto reader = SegmentReader::open(path);
    EXPECT_TRUE(reader.has_value());
    if (!reader) continue;
    DecodedBlock block;
    while (reader->next(block, problems)) {
      auto& names = out.emplace_back();
      for (const CallRecord& r : block.records)
        names.push_back(r.kind == RecordKind::kGroup ? "G" + std::to_string(r.cost) : std::string(r.key));
    }
  }
  EXPECT_TRUE(problems.empty());
  return out;
}

// Verifies the writer never splits a group: collected after its second
// member only, the group waits (copied, its ring bytes released) and goes
// out whole in the next block with its last member, while another worker's
// record of the same instant goes out at once; at stop() a group still
// short is written as it is (replay reports it as cut).
TEST(CallLogGroups, HalfAppendedGroupWaitsForItsMembers) {
  GroupsDir dir;
  CallLogOptions options;
  options.dir = dir.path;
  CallLog log(options, 2, files::default_file_system());
  ASSERT_TRUE(log.open().has_value());
  log.record_unsampled(0, group_record(kStart, "a", 3));
  log.record(0, check_record(kStart, "a", true));
  log.record(0, check_record(kStart, "b", true));
  log.record(1, check_record(kStart, "other", true));
  EXPECT_EQ(log.flush(kStart), 1u);  // "other"; the group waits
  log.record(0, check_record(kStart, "c", true));
  log.record(0, check_record(kStart + 1, "after", true));
  EXPECT_EQ(log.flush(kStart), 5u);
  log.record_unsampled(0, group_record(kStart + 2, "d", 2));
  log.record(0, check_record(kStart + 2, "d", false, Code::kQuota));
  log.stop(kStart);  // the workers are gone: the short group is written
  const auto blocks = blocks_of(dir.path);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0], (std::vector<std::string>{"other"}));
  EXPECT_EQ(blocks[1], (std::vector<std::string>{"G3", "a", "b", "c", "after"}));
  EXPECT_EQ(blocks[2], (std::vector<std::string>{"G2", "d"}));
}

// Verifies record_group keeps only the sampled members and counts them:
// with sample 0 nothing is recorded; with sample 1 the group and each
// member with its own decision.
TEST(CallLogGroups, RecordGroupWritesTheGroupThenEachMember) {
  for (double sample : {0.0, 1.0}) {
    GroupsDir dir;
    CallLogOptions options;
    options.dir = dir.path;
    options.sample = sample;
    CallLog log(options, 1, files::default_file_system());
    ASSERT_TRUE(log.open().has_value());
    std::vector<CheckRequest> requests(2);
    requests[0].key = "acme";
    requests[1].key = "beta";
    std::vector<Decision> decisions(2);
    decisions[0].code = Code::kAborted;
    decisions[1].code = Code::kQuota;
    decisions[1].limit = "daily";
    record_group(&log, 0, kStart, requests, decisions, 0);
    log.stop(kStart);
    const auto blocks = blocks_of(dir.path);
    if (sample == 0.0) {
      EXPECT_TRUE(blocks.empty());
    } else {
      ASSERT_EQ(blocks.size(), 1u);
      EXPECT_EQ(blocks[0], (std::vector<std::string>{"G2", "acme", "beta"}));
    }
  }
}

}  // namespace
}  // namespace tollgate::calllog

namespace tollgate::replay {
namespace {

using calllog::CallRecord;
using calllog::check_record;
using calllog::group_record;
using calllog::kStart;

// alpha: 1 call a day; beta: 10.
constexpr std::string_view kConfig = R"(
contracts:
  alpha:
    limits:
      - { name: daily, type: sliding_window, limit: 1, window: 1d }
  beta:
    limits:
      - { name: daily, type: sliding_window, limit: 10, window: 1d }
)";

std::unique_ptr<Replayer> replayer() {
  auto config = parse_config(kConfig, "candidate.yaml");
  EXPECT_TRUE(config.has_value()) << (config ? "" : testing::joined(config.error()));
  if (!config) return nullptr;
  auto made = Replayer::create(*config, kStart);
  EXPECT_TRUE(made.has_value()) << (made ? "" : made.error());
  return made ? std::move(*made) : nullptr;
}

// Verifies replay decides a group together: live (a looser alpha) allowed
// alpha and beta twice; through the candidate (alpha 1 a day) the first
// group passes and the second is refused whole — alpha by its limit and
// beta ABORTED, which checking beta on its own would have allowed.
TEST(ReplayGroups, GroupIsDecidedAllOrNothing) {
  auto r = replayer();
  ASSERT_NE(r, nullptr);
  for (int i = 0; i < 2; ++i) {
    const Nanos t = kStart + i * kNanosPerSecond;
    r->apply(group_record(t, "beta", 2));
    r->apply(check_record(t, "beta", true));
    r->apply(check_record(t, "alpha", true));
  }
  r->finish();
  const ReplayReport& report = r->report();
  EXPECT_EQ(report.calls, 4u);
  EXPECT_EQ(report.groups, 2u);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.allowed_to_denied(), 2u);
  EXPECT_EQ(report.contracts.at("alpha").flips.allowed_to_denied, 1u);
  EXPECT_EQ(report.contracts.at("beta").flips.allowed_to_denied, 1u);
  EXPECT_EQ(report.contracts.at("beta").flips.codes.at("ABORTED"), 1u);
}

// Verifies a group cut short (its third member lost with a damaged block:
// a record of another time comes first) is reported, and the members that
// came are replayed one by one: beta allowed as live, so no flip.
TEST(ReplayGroups, CutGroupIsReportedAndItsMembersReplayedAlone) {
  auto r = replayer();
  ASSERT_NE(r, nullptr);
  r->apply(group_record(kStart, "alpha", 3));
  r->apply(check_record(kStart, "alpha", true));
  r->apply(check_record(kStart, "beta", true));
  r->apply(check_record(kStart + 5, "beta", true));  // not a member: the group is cut
  r->apply(group_record(kStart + 6, "beta", 2));
  r->apply(check_record(kStart + 6, "beta", true));  // the log ends before its second member
  r->finish();
  const ReplayReport& report = r->report();
  EXPECT_EQ(report.calls, 4u);
  EXPECT_EQ(report.groups, 2u);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_NE(report.problems[0].text().find("cut short after 2"), std::string::npos) << report.problems[0].text();
  EXPECT_NE(report.problems[1].text().find("the log ends"), std::string::npos) << report.problems[1].text();
  EXPECT_EQ(report.allowed_to_denied(), 0u);
  EXPECT_EQ(report.denied_to_allowed(), 0u);
}

}  // namespace
}  // namespace tollgate::replay
