// FleetMonitorCounts (control/fleet_monitor_counts.h): a node's monitor
// sample becomes the fleet's — its own counts plus what the others added
// since it first read the sums, its balance the fleet's credits left — and
// its deltas go out once. The balance tests run a real Engine and
// MonitorRunner per node on simulated time, with Redis' answers handed in.
#include "control/fleet_monitor_counts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "control/contract_admin.h"
#include "control/engine_options.h"
#include "control/monitor_runner.h"
#include "engine/engine.h"
#include "support/recharge.h"
#include "unit/config/config_test_util.h"

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

// Verifies which monitors are the leader's: every kind (all are on fleet figures).
TEST(FleetMonitorCounts, EveryKindIsTheLeaders) {
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kVolume));
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kScopeProbing));
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kNightShare));
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kBalance));
  EXPECT_TRUE(FleetMonitorCounts::fleet_kind(MonitorKind::kNewSubjects));
}

// Verifies the value of the fleet's credits left: the newest lots' credits
// at their own prices (the oldest are spent first), plus the wallet; credits
// beyond the lots known here at the newest lot's price.
TEST(FleetMonitorCounts, CreditsLeftAreValuedAtTheNewestLotsPrices) {
  Account account(PriceLadder::flat(10));
  LotState old_lot;
  old_lot.index = 0;
  old_lot.amount = 1000;
  old_lot.unit_price = 10;
  old_lot.credits = 100;
  ASSERT_TRUE(account.add_lot(old_lot, 0).has_value());
  LotState new_lot;
  new_lot.index = 1;
  new_lot.amount = 503;
  new_lot.unit_price = 5;
  new_lot.credits = 100;
  ASSERT_TRUE(account.add_lot(new_lot, 3).has_value());
  EXPECT_EQ(FleetMonitorCounts::credits_value(account, 0), 3);
  EXPECT_EQ(FleetMonitorCounts::credits_value(account, 60), 3 + 60 * 5);
  EXPECT_EQ(FleetMonitorCounts::credits_value(account, 150), 3 + 100 * 5 + 50 * 10);
  EXPECT_EQ(FleetMonitorCounts::credits_value(account, 200), 3 + 100 * 5 + 100 * 10);
  EXPECT_EQ(FleetMonitorCounts::credits_value(account, 230), 3 + 100 * 5 + 100 * 10 + 30 * 5);
}

// Verifies the report of a priced contract asks for the credits left, and
// the sample's balance: unknown (-1) until an answer, then the fleet's; a
// lost reply keeps the last known; a contract without an account keeps -1.
TEST(FleetMonitorCounts, TheSampleBalanceIsTheFleetsOnceAnswered) {
  Account account(PriceLadder::flat(2));
  LotState lot;
  lot.amount = 2000;
  lot.unit_price = 2;
  lot.credits = 1000;
  ASSERT_TRUE(account.add_lot(lot, 0).has_value());
  FleetMonitorCounts counts;
  ContractSample s = sample(0, 0);
  s.balance = account.balance();
  counts.fleet_sample(s, &account);
  EXPECT_EQ(s.balance, -1) << "no answer yet: the local account is not the fleet's";
  auto r = counts.take_reports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].priced);
  counts.on_reply(r[0], true, {}, 300);
  ContractSample s1 = sample(0, 0);
  counts.fleet_sample(s1, &account);
  EXPECT_EQ(s1.balance, 600);
  r = counts.take_reports();
  counts.on_reply(r[0], false, {}, -1);  // lost
  ContractSample s2 = sample(0, 0);
  counts.fleet_sample(s2, &account);
  EXPECT_EQ(s2.balance, 600);

  ContractSample unpriced = sample(0, 0);
  unpriced.contract = "free";
  counts.fleet_sample(unpriced);
  EXPECT_EQ(unpriced.balance, -1);
  for (const auto& report : counts.take_reports()) {
    if (report.contract == "free") {
      EXPECT_FALSE(report.priced);
    }
  }
}

// A well-mixed 64-bit hash of user `u` (splitmix64), as the engine's subject hashes are.
uint64_t user_hash(uint64_t u) {
  uint64_t z = u + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// What Redis' subject_registers script does to the union: a byte-wise max per word.
void merge_into(std::string& union_registers, const FleetMonitorCounts::Report& r) {
  for (const auto& [index, word] : r.subject_words) {
    if (union_registers.size() < (index + 1) * 8) union_registers.resize((index + 1) * 8, '\0');
    for (int k = 0; k < 8; ++k) {
      const auto b = static_cast<unsigned char>((word >> (8 * k)) & 0xff);
      auto& have = reinterpret_cast<unsigned char&>(union_registers[index * 8 + k]);
      have = std::max(have, b);
    }
  }
}

// Verifies new_subjects on the fleet's users: node A saw users 0..999,
// node B users 500..1499 (500 on both); each node's estimate is its own
// (≈ 1,000), the union's — through the register words each sends — is the
// fleet's distinct users (≈ 1,500, not 2,000: a user seen on both counts
// once). Only words that rose are sent again; a lost reply sends them again.
TEST(FleetMonitorCounts, NewSubjectsSeeTheUnionOfTheNodesUsers) {
  const Nanos now = Nanos{1'780'000'000} * kNanosPerSecond;
  auto a_hll = PeriodHll::make(Period::kDay, "UTC");
  auto b_hll = PeriodHll::make(Period::kDay, "UTC");
  ASSERT_TRUE(a_hll.has_value() && b_hll.has_value());
  for (uint64_t u = 0; u < 1000; ++u) a_hll->add(user_hash(u), now);
  for (uint64_t u = 500; u < 1500; ++u) b_hll->add(user_hash(u), now);
  const double a_alone = a_hll->estimate(now).current;
  EXPECT_DOUBLE_EQ(FleetMonitorCounts::union_estimate("", a_hll->registers(now).words, a_hll->precision()), a_alone)
      << "an empty union leaves the node's own estimate";

  std::string redis;  // the period's union in Redis
  FleetMonitorCounts a, b;
  auto round = [&](FleetMonitorCounts& node, PeriodHll& hll, bool lost = false) {
    ContractSample s = sample(0, 0);
    node.fleet_sample(s);
    node.fleet_subjects(s, hll, now);
    auto reports = node.take_reports();
    EXPECT_EQ(reports.size(), 1u);
    if (!lost) merge_into(redis, reports[0]);
    node.on_reply(reports[0], !lost, {});
    node.on_subjects_reply(reports[0], !lost, redis);
    return reports[0].subject_words.size();
  };
  ContractSample first = sample(0, 0);
  a.fleet_sample(first);
  a.fleet_subjects(first, *a_hll, now);
  EXPECT_EQ(first.subjects_today, -1) << "unknown until the union was read";
  // Reports until one has nothing left to send: the words sent in all.
  auto drain = [&](FleetMonitorCounts& node, PeriodHll& hll) {
    size_t total = 0;
    for (size_t n = round(node, hll); n > 0; n = round(node, hll)) {
      EXPECT_LE(n, 256u) << "at most 256 words per report";
      total += n;
    }
    return total;
  };
  const size_t all_a = a_hll->registers(now).words.size();
  EXPECT_EQ(round(a, *a_hll, true), std::min<size_t>(all_a, 256));  // lost
  const size_t words_b = drain(b, *b_hll);
  EXPECT_EQ(drain(a, *a_hll), all_a) << "the lost words go again, and the rest";
  EXPECT_EQ(round(a, *a_hll), 0u) << "nothing rose: nothing sent";
  EXPECT_EQ(words_b, b_hll->registers(now).words.size());
  EXPECT_EQ(round(b, *b_hll), 0u) << "B reads the union again (A's words are in it now), sending nothing";

  ContractSample sa = sample(0, 0), sb = sample(0, 0);
  a.fleet_sample(sa);
  a.fleet_subjects(sa, *a_hll, now);
  b.fleet_sample(sb);
  b.fleet_subjects(sb, *b_hll, now);
  EXPECT_NEAR(a_alone, 1000, 30);
  EXPECT_NEAR(sa.subjects_today, 1500, 45) << "A's sample: the fleet's users";
  EXPECT_NEAR(sb.subjects_today, 1500, 45) << "B saw A's users through Redis";
  EXPECT_DOUBLE_EQ(FleetMonitorCounts::union_estimate(redis, {}, a_hll->precision()), sa.subjects_today);

  // A node that saw no user today (say, the leader) still reads the day's union.
  auto c_hll = PeriodHll::make(Period::kDay, "UTC");
  ASSERT_TRUE(c_hll.has_value());
  FleetMonitorCounts c;
  EXPECT_EQ(round(c, *c_hll), 0u);
  ContractSample sc = sample(0, 0);
  c.fleet_sample(sc);
  c.fleet_subjects(sc, *c_hll, now);
  EXPECT_DOUBLE_EQ(sc.subjects_today, sa.subjects_today);

  // The next day is a new union.
  ContractSample next_day = sample(0, 0);
  a.fleet_sample(next_day);
  a.fleet_subjects(next_day, *a_hll, now + 24 * 3600 * kNanosPerSecond);
  EXPECT_EQ(next_day.subjects_today, -1);
}

constexpr Nanos kMinute = 60 * kNanosPerSecond;
constexpr Nanos kHour = 60 * kMinute;
constexpr Nanos kT0 = Nanos{1'780'000'000} * kNanosPerSecond;

constexpr const char* kPricedConfig = R"(
pricing:
  flat: [{ prepay_from: 0, unit_price: 1 }]
contracts:
  acme:
    pricing: flat
    monitors:
      - name: low
        kind: balance
        below: 5000
        runs_out_within: 10h
        actions:
          - { do: event }
)";

// One fleet node below the sockets: its engine (a local account recharged
// with `local_balance`), its monitor runner and its fleet counts, whose
// Redis answers the test hands in.
struct Node {
  Node(bool leader, int64_t local_balance) {
    auto built = Engine::create(engine_options_from(config, 1), reclaimer, kT0, state);
    EXPECT_TRUE(built.has_value());
    engine = std::move(*built);
    EXPECT_TRUE(apply_recharge(*state.find("acme")->account(), local_balance, kT0).has_value());
    runner.configure(config);
    runner.set_fleet_counts(&counts);
    counts.set_leader(leader);
  }
  // One monitor tick at `now`, then the report it made answered with the fleet's credits left.
  void tick(Nanos now, int64_t fleet_credits_left) {
    runner.tick(now);
    for (const auto& report : counts.take_reports()) counts.on_reply(report, true, {}, fleet_credits_left);
  }
  std::vector<Event> fired() const {
    std::vector<Event> out;
    for (const Event& e : state.events(0))
      if (e.kind == "monitor.fired") out.push_back(e);
    return out;
  }

  Config config = testing::parse_ok(kPricedConfig);
  Reclaimer reclaimer{4};
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  ContractAdmin admin{[this]() -> Engine& { return *engine; }, state};
  MonitorRunner runner{[this]() -> Engine& { return *engine; }, state, admin};
  FleetMonitorCounts counts;
};

// Verifies balance monitors in fleet mode: the leader evaluates the fleet's
// balance, not its own account's — a node whose own account is low but
// whose fleet still has 50,000 does not fire; when the fleet's falls to
// 4,000 the leader fires with that figure while its own account still
// shows 100,000, and a non-leader seeing the same figures never fires.
TEST(FleetBalanceMonitors, TheLeaderFiresOnTheFleetsBalanceAndTheOthersNever) {
  Node leader(true, 100'000), other(false, 100'000), low_local(true, 100);
  for (int minute = 0; minute < 10; ++minute) {
    const Nanos now = kT0 + minute * kMinute;
    leader.tick(now, 50'000);
    other.tick(now, 50'000);
    low_local.tick(now, 50'000);
  }
  EXPECT_TRUE(leader.fired().empty());
  EXPECT_TRUE(low_local.fired().empty()) << "its own account (100) is not the fleet's balance (50,000)";
  for (int minute = 10; minute < 20; ++minute) {
    const Nanos now = kT0 + minute * kMinute;
    leader.tick(now, 4'000);
    other.tick(now, 4'000);
  }
  const auto fired = leader.fired();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_NE(fired[0].detail.find("balance=4000"), std::string::npos) << fired[0].detail;
  EXPECT_EQ(leader.state.find("acme")->account()->balance(), 100'000) << "the local account did not move";
  EXPECT_TRUE(other.fired().empty()) << "only the leader evaluates (one firing fleet-wide)";
  EXPECT_EQ(other.runner.monitors().firings(), 0u);
}

// Verifies the burn rate is the fleet's: the fleet's credits left fall by
// 1,000 an hour from 14,000 while the leader's own account never moves; the
// monitor fires on runs_out_within (10 h) once fewer than 10 hours are left
// at that rate (below 10,000, four hours in), well before `below` (5,000).
// A non-leader that kept the same series takes over with the same burn rate.
TEST(FleetBalanceMonitors, TheBurnRateIsTheFleetsAndANewLeaderHasIt) {
  Node leader(true, 100'000), other(false, 100'000);
  auto left_at = [](Nanos since) { return 14'000 - 1'000 * since / kHour; };
  Nanos fired_at = -1;
  for (Nanos t = 0; t <= 6 * kHour && fired_at < 0; t += 5 * kMinute) {
    leader.tick(kT0 + t, left_at(t));
    other.tick(kT0 + t, left_at(t));
    if (!leader.fired().empty()) fired_at = t;
  }
  ASSERT_GE(fired_at, 0) << "never fired";
  EXPECT_NE(leader.fired()[0].detail.find("hours_left="), std::string::npos) << leader.fired()[0].detail;
  EXPECT_GT(fired_at, 3 * kHour) << "fewer than 10 hours left only after 4,000 were spent";
  // A tick samples the answer to the previous tick's report (here 5 minutes old): 9,917 at 4 h 10.
  EXPECT_LE(fired_at, 4 * kHour + 10 * kMinute);
  EXPECT_TRUE(other.fired().empty());
  // The leader goes; the other takes over at its next tick with the same series.
  other.counts.set_leader(true);
  other.tick(kT0 + fired_at + 5 * kMinute, left_at(fired_at + 5 * kMinute));
  ASSERT_EQ(other.fired().size(), 1u);
  EXPECT_NE(other.fired()[0].detail.find("hours_left="), std::string::npos) << other.fired()[0].detail;
}

}  // namespace
}  // namespace tollgate
