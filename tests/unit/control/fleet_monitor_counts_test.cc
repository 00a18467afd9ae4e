// FleetMonitorCounts (control/fleet_monitor_counts.h): a node's monitor
// sample becomes the fleet's — its own counts plus what the others added
// since it first read the sums — and its deltas go out once.
#include "control/fleet_monitor_counts.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

int gen_a = 0, gen_b = 0;  // identities of two config generations

ContractSample sample(uint64_t calls, uint64_t web, const void* generation = &gen_a) {
  ContractSample s;
  s.contract = "acme";
  s.generation = generation;
  s.calls = calls;
  s.scope_denials = 0;
  s.channels = {"web"};
  s.channel_calls = {web};
  return s;
}

int64_t delta(const FleetMonitorCounts::Report& r, const std::string& field) {
  for (const auto& [f, d] : r.deltas)
    if (f == field) return d;
  return -1;
}

// Verifies the deltas: each local call goes out once, and a report in
// flight holds the next one back.
TEST(FleetMonitorCounts, EachLocalCallIsReportedOnce) {
  FleetMonitorCounts counts;
  ContractSample s = sample(10, 4);
  counts.fleet_sample(s);
  auto reports = counts.take_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(delta(reports[0], "calls"), 10);
  EXPECT_EQ(delta(reports[0], "ch:web"), 4);
  EXPECT_TRUE(counts.take_reports().empty()) << "one report in flight per contract";
  counts.on_reply(reports[0], true, {{"calls", 10}, {"ch:web", 4}});
  ContractSample next = sample(15, 6);
  counts.fleet_sample(next);
  reports = counts.take_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(delta(reports[0], "calls"), 5);
  EXPECT_EQ(delta(reports[0], "ch:web"), 2);
}

// Verifies the fleet's sample: own counts plus the others' since the first
// read (what they counted before is not this node's to see), never this node's twice.
TEST(FleetMonitorCounts, TheSampleAddsWhatTheOthersCountedSinceTheFirstRead) {
  FleetMonitorCounts counts;
  ContractSample s = sample(0, 0);
  counts.fleet_sample(s);
  auto r = counts.take_reports();
  counts.on_reply(r[0], true, {{"calls", 1000}, {"ch:web", 300}});  // the others' past
  ContractSample s1 = sample(10, 10);
  counts.fleet_sample(s1);
  EXPECT_EQ(s1.calls, 10u);
  r = counts.take_reports();
  // Redis: the others added 50 calls (20 on web), this node its 10.
  counts.on_reply(r[0], true, {{"calls", 1060}, {"ch:web", 330}});
  ContractSample s2 = sample(12, 11);
  counts.fleet_sample(s2);
  EXPECT_EQ(s2.calls, 12u + 50u);
  EXPECT_EQ(s2.channel_calls[0], 11u + 20u);
}

// Verifies a new config generation: the channel counters restart at 0, so
// the others' part of a channel restarts too (no jump of the fleet's past).
TEST(FleetMonitorCounts, AGenerationRestartsTheChannelParts) {
  FleetMonitorCounts counts;
  ContractSample s = sample(0, 0);
  counts.fleet_sample(s);
  auto r = counts.take_reports();
  counts.on_reply(r[0], true, {});
  ContractSample s1 = sample(5, 5);
  counts.fleet_sample(s1);
  r = counts.take_reports();
  counts.on_reply(r[0], true, {{"calls", 105}, {"ch:web", 105}});  // the others: 100 each
  ContractSample s2 = sample(5, 0, &gen_b);  // reload: the policy's channel counters are new
  counts.fleet_sample(s2);
  EXPECT_EQ(s2.calls, 105u);
  EXPECT_EQ(s2.channel_calls[0], 0u);
  r = counts.take_reports();
  EXPECT_EQ(delta(r[0], "ch:web"), 0);
  counts.on_reply(r[0], true, {{"calls", 107}, {"ch:web", 107}});  // the others: 2 more
  ContractSample s3 = sample(5, 1, &gen_b);
  counts.fleet_sample(s3);
  EXPECT_EQ(s3.channel_calls[0], 1u + 2u);
}

// Verifies a lost reply: its deltas count as added (never counted twice as
// the others' when the next totals include them).
TEST(FleetMonitorCounts, ALostReplyIsNeverCountedTwice) {
  FleetMonitorCounts counts;
  ContractSample s = sample(0, 0);
  counts.fleet_sample(s);
  auto r = counts.take_reports();
  counts.on_reply(r[0], true, {});
  ContractSample s1 = sample(7, 0);
  counts.fleet_sample(s1);
  r = counts.take_reports();
  counts.on_reply(r[0], false, {});  // applied in Redis, reply lost
  ContractSample s2 = sample(7, 0);
  counts.fleet_sample(s2);
  r = counts.take_reports();
  counts.on_reply(r[0], true, {{"calls", 7}});
  ContractSample s3 = sample(7, 0);
  counts.fleet_sample(s3);
  EXPECT_EQ(s3.calls, 7u);
}

// Verifies which monitors are the leader's: those on the fleet's counts.
TEST(FleetMonitorCounts, FleetKindsAreTheCountBasedOnes) {
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kVolume));
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kScopeProbing));
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kNightShare));
  EXPECT_FALSE(FleetMonitorCounts::fleet_kind(MonitorKind::kNewSubjects));
  EXPECT_FALSE(FleetMonitorCounts::fleet_kind(MonitorKind::kBalance));
}

}  // namespace
}  // namespace tollgate
