// plan_remote_actions (control/fleet_actions.h): the changes that make the
// actions in force on one daemon equal to Redis' actions hash.
#include "control/fleet_actions.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

constexpr Nanos kSecond = kNanosPerSecond;

ActiveAction block(std::string channel, Nanos since, Nanos until, std::string monitor = "web-volume") {
  ActiveAction a;
  a.kind = MonitorActionKind::kBlockChannel;
  a.monitor = std::move(monitor);
  a.channel = std::move(channel);
  a.reason = "calls_hour 6 > 5";
  a.since = since;
  a.until = until;
  return a;
}

// Verifies a stored action not in force here is put in force, with its own instance (expiry, reason).
TEST(PlanRemoteActions, PutsWhatRedisHoldsAndThisNodeLacks) {
  const auto plan = plan_remote_actions({{"acme", block("web", 10 * kSecond, 70 * kSecond)}}, {}, 20 * kSecond);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_FALSE(plan[0].lift);
  EXPECT_EQ(plan[0].contract, "acme");
  EXPECT_EQ(plan[0].action.until, 70 * kSecond);
  EXPECT_EQ(plan[0].action.reason, "calls_hour 6 > 5");
}

// Verifies a change is never applied twice: the same instance in both is no change.
TEST(PlanRemoteActions, TheSameInstanceInBothChangesNothing) {
  const ActiveAction a = block("web", 10 * kSecond, 70 * kSecond);
  EXPECT_TRUE(plan_remote_actions({{"acme", a}}, {{"acme", {a}}}, 20 * kSecond).empty());
}

// Verifies an expired instance in Redis is never put in force by a read
// (every node's runner lifts it), while one in force here and in Redis is left to the runner.
TEST(PlanRemoteActions, AnExpiredInstanceIsNotPutAndNotLiftedByARead) {
  const ActiveAction a = block("web", 10 * kSecond, 70 * kSecond);
  EXPECT_TRUE(plan_remote_actions({{"acme", a}}, {}, 70 * kSecond).empty());
  EXPECT_TRUE(plan_remote_actions({{"acme", a}}, {{"acme", {a}}}, 80 * kSecond).empty());
}

// Verifies a target Redis no longer holds is lifted here: before its
// `until` as a clear made elsewhere (the monitor is told), after it as expired.
TEST(PlanRemoteActions, LiftsWhatRedisNoLongerHoldsAndSaysWhy) {
  const ActiveAction a = block("web", 10 * kSecond, 70 * kSecond);
  auto cleared = plan_remote_actions({}, {{"acme", {a}}}, 20 * kSecond);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_TRUE(cleared[0].lift);
  EXPECT_TRUE(cleared[0].cleared);
  EXPECT_EQ(cleared[0].why, "cleared on another daemon");
  auto expired = plan_remote_actions({}, {{"acme", {a}}}, 70 * kSecond);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_TRUE(expired[0].lift);
  EXPECT_FALSE(expired[0].cleared);
  EXPECT_EQ(expired[0].why, "expired");
}

// Verifies a re-fire after a clear (a newer instance on the same target in
// Redis) is one put that replaces the local instance, not a lift then a put.
TEST(PlanRemoteActions, ANewerInstanceOnTheSameTargetReplacesTheLocalOne) {
  const ActiveAction old_one = block("web", 10 * kSecond, 70 * kSecond);
  const ActiveAction new_one = block("web", 30 * kSecond, 90 * kSecond);
  const auto plan = plan_remote_actions({{"acme", new_one}}, {{"acme", {old_one}}}, 40 * kSecond);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_FALSE(plan[0].lift);
  EXPECT_EQ(plan[0].action.since, 30 * kSecond);
}

// Verifies targets and contracts are told apart: another channel, another
// monitor or another contract is another action.
TEST(PlanRemoteActions, TargetsAndContractsAreToldApart) {
  const ActiveAction web = block("web", 10 * kSecond, 70 * kSecond);
  const ActiveAction batch = block("batch", 10 * kSecond, 70 * kSecond);
  const auto plan = plan_remote_actions({{"acme", batch}, {"other", web}}, {{"acme", {web}}}, 20 * kSecond);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_FALSE(plan[0].lift);
  EXPECT_EQ(plan[0].action.channel, "batch");
  EXPECT_FALSE(plan[1].lift);
  EXPECT_EQ(plan[1].contract, "other");
  EXPECT_TRUE(plan[2].lift);
  EXPECT_EQ(plan[2].contract, "acme");
  EXPECT_EQ(plan[2].action.channel, "web");
}

// Verifies same_instance: a throttle's later stage (another rate) is another instance of the same target.
TEST(PlanRemoteActions, SameInstanceComparesTheTermsNotOnlyTheTarget) {
  ActiveAction t = block("", 10 * kSecond, 70 * kSecond);
  t.kind = MonitorActionKind::kThrottle;
  t.rate = 10;
  t.per = kSecond;
  t.burst = 10;
  ActiveAction tighter = t;
  tighter.rate = 1;
  EXPECT_TRUE(same_instance(t, t));
  EXPECT_FALSE(same_instance(t, tighter));
  EXPECT_TRUE(t.same_target(tighter));
}

}  // namespace
}  // namespace tollgate
