// tollgate-replay's candidate monitors and lot prices (replay/replay_monitors.h),
// driven through the Replayer with hand-made call-log records on a simulated
// clock: no daemon, no files. Expected values are computed here from the
// scenario, not read back from the code under test.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "calllog/block_codec.h"
#include "calllog/worker_buffer.h"
#include "config/config_loader.h"
#include "config/units.h"
#include "control/engine_options.h"
#include "engine/admin_record.h"
#include "engine/monitor_action.h"
#include "engine/reclaimer.h"
#include "replay/replay.h"
#include "unit/config/config_test_util.h"

namespace tollgate::replay {
namespace {

constexpr Nanos kSecond = kNanosPerSecond;
constexpr Nanos kMinute = 60 * kSecond;

std::unique_ptr<Replayer> replayer_for(std::string_view yaml, Nanos start) {
  auto config = parse_config(yaml, "candidate.yaml");
  EXPECT_TRUE(config.has_value()) << (config ? "" : testing::joined(config.error()));
  if (!config) return nullptr;
  auto made = Replayer::create(*config, start);
  EXPECT_TRUE(made.has_value()) << (made ? "" : made.error());
  return made ? std::move(*made) : nullptr;
}

calllog::CallRecord allowed_call(Nanos time, std::string_view key, std::string_view channel, int64_t cost = 1,
                                 int64_t balance = -1) {
  calllog::CallRecord r;
  r.kind = calllog::RecordKind::kCheck;
  r.time = time;
  r.key = key;
  r.channel = channel;
  r.cost = cost;
  r.allowed = true;
  r.code = Code::kOk;
  r.balance = balance;
  return r;
}

// The candidate watches every contract's channels per hour (monitor_defaults),
// absolute 100 calls, and blocks the channel for 30 minutes. Live allowed
// everything.
constexpr std::string_view kMonitored = R"(
timezone: UTC
monitor_defaults:
  - name: api-volume
    kind: volume
    per: channel
    period: hour
    above: 100
    actions:
      - { do: event }
      - { do: block_channel, for: 30m }
contracts:
  acme:
    channels: [api, batch]
    limits:
      - { name: burst, type: token_bucket, rate: 1000, per: 1s, burst: 1000 }
  globex:
    channels: [api]
)";

// Verifies the candidate's volume monitor fires at the first tick (whole
// simulated second) after the 101st api call of the hour, blocks api for
// 30 minutes from that instant — exactly those api calls flip to denied
// CHANNEL by "monitor" — while batch keeps working, and that ticks without
// records are skipped.
TEST(ReplayMonitors, CandidateVolumeMonitorBlocksTheChannelAtTheSimulatedInstant) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  auto replayer = replayer_for(kMonitored, t0);
  ASSERT_TRUE(replayer);
  // api: one call every 10 s, half a second past (360 in the hour); batch: one a minute (60).
  auto api_time = [&](int k) { return t0 + k * 10 * kSecond + kSecond / 2; };
  auto batch_time = [&](int k) { return t0 + k * kMinute + kSecond / 4; };
  std::vector<calllog::CallRecord> records;
  for (int k = 0; k < 360; ++k) records.push_back(allowed_call(api_time(k), "acme", "api"));
  for (int k = 0; k < 60; ++k) records.push_back(allowed_call(batch_time(k), "acme", "batch"));
  for (int k = 0; k < 90; ++k) records.push_back(allowed_call(t0 + k * 40 * kSecond, "globex", "api"));  // under 100
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  for (const auto& r : records) replayer->apply(r);
  replayer->finish();
  const ReplayReport& report = replayer->report();

  // Independently: the 101st api call (k = 100) passes 100; the monitor
  // tick after it is the next whole second; api is blocked until 30 min later.
  const Nanos fired = (api_time(100) / kSecond + 1) * kSecond;
  const Nanos until = fired + 30 * kMinute;
  uint64_t expected_denied = 0;
  Nanos first_denied = 0;
  for (int k = 0; k < 360; ++k) {
    if (api_time(k) > fired && api_time(k) < until) {
      ++expected_denied;
      if (first_denied == 0) first_denied = api_time(k);
    }
  }
  ASSERT_EQ(expected_denied, 180u);  // k = 101 .. 280

  ASSERT_TRUE(report.contracts.contains("acme"));
  const ContractReport& c = report.contracts.at("acme");
  EXPECT_EQ(c.calls, 420u);
  EXPECT_EQ(c.flips.allowed_to_denied, expected_denied);
  EXPECT_EQ(c.flips.denied_to_allowed, 0u);
  EXPECT_EQ(c.flips.codes, (std::map<std::string, uint64_t>{{"CHANNEL", expected_denied}}));
  ASSERT_TRUE(c.limits.contains("monitor"));
  EXPECT_EQ(c.limits.at("monitor").allowed_to_denied, expected_denied);
  EXPECT_EQ(c.limits.size(), 1u);  // batch never flipped
  EXPECT_EQ(c.first_flip, first_denied);
  EXPECT_EQ(c.allowed_candidate, 420u - expected_denied);
  EXPECT_EQ(report.contracts.at("globex").flips.allowed_to_denied, 0u);

  EXPECT_EQ(report.monitors.size(), 1u);  // globex never fired
  ASSERT_TRUE(report.monitors.contains("acme"));
  ASSERT_TRUE(report.monitors.at("acme").contains("api-volume"));
  const MonitorReport& m = report.monitors.at("acme").at("api-volume");
  EXPECT_EQ(m.fired, 1u);
  EXPECT_EQ(m.first_fired, fired);
  EXPECT_EQ(m.first_channel, "api");
  EXPECT_EQ(m.first_measure, "calls_hour");
  EXPECT_EQ(m.first_value, 101);
  EXPECT_EQ(m.first_threshold, 100);
  ASSERT_EQ(m.actions.size(), 1u);  // the event is the firing itself
  EXPECT_EQ(m.actions[0].action, "block_channel");
  EXPECT_EQ(m.actions[0].channel, "api");
  EXPECT_EQ(m.actions[0].at, fired);
  EXPECT_EQ(m.actions[0].until, until);
  EXPECT_TRUE(m.actions[0].applied);

  // A tick per simulated second with records, plus the quarter hours and the
  // lift: far fewer than the 3,600 seconds of the hour.
  EXPECT_GT(report.monitor_ticks, 300u);
  EXPECT_LT(report.monitor_ticks, 530u);

  const auto json = nlohmann::json::parse(report_json(report));
  const auto& mj = json["contracts"]["acme"]["monitors"]["api-volume"];
  EXPECT_EQ(mj["fired"], 1);
  EXPECT_EQ(mj["first_fired"], format_instant(fired));
  EXPECT_EQ(mj["actions"][0]["do"], "block_channel");
  EXPECT_EQ(mj["actions"][0]["at"], format_instant(fired));
  EXPECT_EQ(mj["actions"][0]["until"], format_instant(until));
  // The README's example ("Monitors in replay") is this text.
  const std::string text = report_text(report, 2);
  EXPECT_NE(text.find("contract acme: 420 calls, allowed live 420 / candidate 240\n"
                      "  allowed -> denied 180, denied -> allowed 0 (CHANNEL 180)\n"
                      "  first flip 2026-06-01T10:16:50.5Z, busiest hour 2026-06-01T10:00:00Z (180 flips), end users "
                      "affected 0\n"
                      "  limit monitor: allowed -> denied 180, denied -> allowed 0 (CHANNEL 180), money +0 minor units "
                      "(+0.00)\n"
                      "  monitor api-volume: fired 1 time, first 2026-06-01T10:16:41Z channel api (calls_hour 101 > "
                      "100), cleared 0\n"
                      "    2026-06-01T10:16:41Z block_channel api until 2026-06-01T10:46:41Z\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("simulated clock"), std::string::npos) << text;
}

// Verifies a candidate without monitors reports none and the same records do not flip.
TEST(ReplayMonitors, WithoutMonitorsNothingFires) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  auto replayer = replayer_for(R"(
contracts:
  acme:
    channels: [api, batch]
    limits:
      - { name: burst, type: token_bucket, rate: 1000, per: 1s, burst: 1000 }
)",
                               t0);
  ASSERT_TRUE(replayer);
  for (int k = 0; k < 360; ++k) replayer->apply(allowed_call(t0 + k * 10 * kSecond, "acme", "api"));
  replayer->finish();
  EXPECT_TRUE(replayer->report().monitors.empty());
  EXPECT_EQ(replayer->report().monitor_ticks, 0u);
  EXPECT_EQ(replayer->report().allowed_to_denied(), 0u);
}

// A candidate whose per-channel hourly volume monitor (above 100) puts
// `action` in force for 30 minutes; acme also has a shadow token bucket of
// one call per 55 s.
std::string staged_candidate(std::string_view action) {
  return fmt::format(R"(
timezone: UTC
contracts:
  acme:
    channels: [api, batch]
    limits:
      - {{ name: burst, type: token_bucket, rate: 1000, per: 1s, burst: 1000 }}
      - {{ name: soft, type: token_bucket, rate: 1, per: 55s, burst: 1, shadow: true }}
    monitors:
      - name: api-volume
        kind: volume
        per: channel
        period: hour
        above: 100
        actions:
          - {}
)",
                     action);
}

// One allowed api call every 10 s (half a second past) for the hour, and a
// batch call a minute; returns the api call times. Live allowed everything.
std::vector<Nanos> apply_hour_of_calls(Replayer& replayer, Nanos t0) {
  std::vector<Nanos> api;
  std::vector<calllog::CallRecord> records;
  for (int k = 0; k < 360; ++k) {
    api.push_back(t0 + k * 10 * kSecond + kSecond / 2);
    records.push_back(allowed_call(api.back(), "acme", "api"));
  }
  for (int k = 0; k < 60; ++k) records.push_back(allowed_call(t0 + k * kMinute + kSecond / 4, "acme", "batch"));
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  for (const auto& r : records) replayer.apply(r);
  replayer.finish();
  return api;
}

// Verifies a candidate's throttle is simulated: from the tick after the
// 101st api call, api calls go through a fresh bucket of one per 55 s
// (full when put in force) for 30 minutes, so of the calls in that half
// hour only one a minute passes and the rest flip to RATE by "monitor";
// batch is not throttled.
TEST(ReplayMonitors, CandidateThrottleIsSimulatedOnTheChannelThatFired) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  auto replayer = replayer_for(staged_candidate("{ do: throttle, rate: 1, per: 55s, burst: 1, for: 30m }"), t0);
  ASSERT_TRUE(replayer);
  const std::vector<Nanos> api = apply_hour_of_calls(*replayer, t0);

  // Independently: a GCRA of one call per 55 s and burst 1, full at `fired`.
  const Nanos fired = (api[100] / kSecond + 1) * kSecond;
  const Nanos until = fired + 30 * kMinute;
  uint64_t denied = 0, passed = 0;
  Nanos tat = fired;
  for (Nanos t : api) {
    if (t <= fired || t >= until) continue;
    if (t >= tat) {
      ++passed;
      tat = t + 55 * kSecond;
    } else {
      ++denied;
    }
  }
  ASSERT_EQ(passed + denied, 180u);  // k = 101 .. 280
  ASSERT_EQ(passed, 30u);            // one call in six

  const ContractReport& c = replayer->report().contracts.at("acme");
  EXPECT_EQ(c.flips.allowed_to_denied, denied);
  EXPECT_EQ(c.flips.denied_to_allowed, 0u);
  EXPECT_EQ(c.flips.codes, (std::map<std::string, uint64_t>{{"RATE", denied}}));
  ASSERT_TRUE(c.limits.contains("monitor"));
  EXPECT_EQ(c.limits.at("monitor").allowed_to_denied, denied);
  const MonitorReport& m = replayer->report().monitors.at("acme").at("api-volume");
  ASSERT_EQ(m.actions.size(), 1u);
  EXPECT_EQ(m.actions[0].action, "throttle");
  EXPECT_EQ(m.actions[0].channel, "api");
  EXPECT_EQ(m.actions[0].until, until);
  EXPECT_TRUE(m.actions[0].applied);
  EXPECT_EQ(m.actions[0].refused, "");
  const std::string text = report_text(replayer->report(), 2);
  EXPECT_NE(text.find("throttle api until"), std::string::npos) << text;
  EXPECT_EQ(text.find("not simulated"), std::string::npos) << text;
}

// Verifies a candidate's enforce is simulated: the shadow bucket (one call
// per 55 s, charged only by the calls it would allow, from the first call
// of the hour) denies with its own code and name for the 30 minutes after
// the tick that follows the 101st api call — on api and batch alike, since
// an enforced limit is the whole contract's — and is a shadow limit again
// afterwards.
TEST(ReplayMonitors, CandidateEnforceMakesTheShadowLimitDeny) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  auto replayer = replayer_for(staged_candidate("{ do: enforce, limit: soft, for: 30m }"), t0);
  ASSERT_TRUE(replayer);
  const std::vector<Nanos> api = apply_hour_of_calls(*replayer, t0);

  // Independently: every call of acme (api and batch, in time order) goes
  // through the shadow bucket; the ones it would deny inside the window flip.
  std::vector<Nanos> all = api;
  for (int k = 0; k < 60; ++k) all.push_back(t0 + k * kMinute + kSecond / 4);
  std::sort(all.begin(), all.end());
  const Nanos fired = (api[100] / kSecond + 1) * kSecond;
  const Nanos until = fired + 30 * kMinute;
  uint64_t denied = 0;
  Nanos tat = t0;
  for (Nanos t : all) {
    if (t >= tat) tat = t + 55 * kSecond;  // would allow: charged
    else if (t > fired && t < until) ++denied;
  }
  ASSERT_GT(denied, 150u);

  const ContractReport& c = replayer->report().contracts.at("acme");
  EXPECT_EQ(c.flips.allowed_to_denied, denied);
  EXPECT_EQ(c.flips.denied_to_allowed, 0u);
  EXPECT_EQ(c.flips.codes, (std::map<std::string, uint64_t>{{"RATE", denied}}));
  ASSERT_TRUE(c.limits.contains("soft"));
  EXPECT_EQ(c.limits.at("soft").allowed_to_denied, denied);
  const MonitorReport& m = replayer->report().monitors.at("acme").at("api-volume");
  ASSERT_EQ(m.actions.size(), 1u);
  EXPECT_EQ(m.actions[0].action, "enforce");
  EXPECT_TRUE(m.actions[0].applied);
}

// Verifies an action the daemon would refuse is not simulated and says why,
// in the text and the JSON: 17 monitors fire at the same tick, each with its
// own throttle (distinct rates), and a contract has 16 throttle slots, so
// exactly one is refused.
TEST(ReplayMonitors, ACandidateActionTheDaemonWouldRefuseIsReportedNotApplied) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  std::string yaml = "timezone: UTC\ncontracts:\n  acme:\n    channels: [api, batch]\n    monitors:\n";
  const size_t monitors = kMaxThrottles + 1;
  for (size_t i = 0; i < monitors; ++i)
    yaml += fmt::format("      - {{ name: m{}, kind: volume, per: contract, period: hour, above: 100, "
                        "actions: [{{ do: throttle, rate: {}, per: 1s, for: 30m }}] }}\n",
                        i, 1000 + i);
  auto replayer = replayer_for(yaml, t0);
  ASSERT_TRUE(replayer);
  apply_hour_of_calls(*replayer, t0);
  size_t applied = 0;
  std::string refused_monitor, refused;
  for (const auto& [name, m] : replayer->report().monitors.at("acme")) {
    ASSERT_EQ(m.actions.size(), 1u) << name;
    if (m.actions[0].applied) {
      ++applied;
      EXPECT_EQ(m.actions[0].refused, "");
    } else {
      refused_monitor = name;
      refused = m.actions[0].refused;
    }
  }
  EXPECT_EQ(applied, kMaxThrottles);
  EXPECT_EQ(refused, fmt::format("throttle cannot apply: at most {} throttles at a time per contract", kMaxThrottles));
  const std::string text = report_text(replayer->report(), 2);
  EXPECT_NE(text.find("(refused: throttle cannot apply"), std::string::npos) << text;
  const auto json = nlohmann::json::parse(report_json(replayer->report()));
  const auto& action = json["contracts"]["acme"]["monitors"][refused_monitor]["actions"][0];
  EXPECT_EQ(action["applied"], false);
  EXPECT_EQ(action["refused"], refused);
  // The throttles applied are generous (1,000 calls a second and more): nothing flips.
  EXPECT_EQ(replayer->report().allowed_to_denied(), 0u);
}

// A prepaid account as the daemon keeps it, for computing expectations:
// lots bought at a ladder's price, spent oldest first, leftover in the wallet.
struct LotModel {
  struct Lot {
    int64_t price;
    int64_t credits;
  };
  std::vector<std::pair<int64_t, int64_t>> ladder;  // (prepay_from, unit_price), highest first
  std::vector<Lot> lots;
  int64_t wallet = 0;

  void recharge(int64_t amount) {
    int64_t price = 0;
    for (const auto& [from, p] : ladder)
      if (amount >= from) {
        price = p;
        break;
      }
    const int64_t credits = (amount + wallet) / price;
    wallet = amount + wallet - credits * price;
    lots.push_back({price, credits});
  }
  // Takes `cost` credits oldest lot first: (price, credits) per lot taken from.
  std::vector<std::pair<int64_t, int64_t>> take(int64_t cost) {
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (Lot& l : lots) {
      if (cost == 0) break;
      const int64_t n = std::min(cost, l.credits);
      if (n == 0) continue;
      l.credits -= n;
      cost -= n;
      taken.emplace_back(l.price, n);
    }
    EXPECT_EQ(cost, 0) << "the scenario must stay funded";
    return taken;
  }
  int64_t balance() const {
    int64_t b = wallet;
    for (const Lot& l : lots) b += l.price * l.credits;
    return b;
  }
};

// Verifies the per-lot breakdown with a two-step ladder on a log written
// before the lot split was recorded (records without lots_known): the
// candidate's charges are split exactly by the price of the lot each credit
// came from (a call crossing from one lot into the next counts under both
// prices); live's by fall / COST, with the crossing call under "mixed"
// (price 0) because its fall is not a multiple of its cost. Totals are exact.
TEST(ReplayLots, TwoStepLadderSplitsMoneyByLotPrice) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  auto replayer = replayer_for(R"(
pricing:
  tiered:
    - { prepay_from: 0, unit_price: 10 }
    - { prepay_from: 1000, unit_price: 8 }
contracts:
  acme:
    pricing: tiered
    limits:
      - { name: burst, type: token_bucket, rate: 1000, per: 1s, burst: 1000 }
)",
                               t0);
  ASSERT_TRUE(replayer);
  // Live had another ladder: 10 below 1000, 9 from 1000 (its balances are what the log holds).
  LotModel live{{{1000, 9}, {0, 10}}, {}, 0};
  LotModel candidate{{{1000, 8}, {0, 10}}, {}, 0};
  std::map<int64_t, LotCounts> expected;
  Nanos t = t0;
  auto recharge = [&](int64_t amount, uint64_t payment, bool repeated = false) {
    calllog::CallRecord r;
    r.kind = calllog::RecordKind::kRecharge;
    r.time = t += kSecond;
    r.key = "acme";
    r.cost = amount;
    r.id_hash = payment;
    r.allowed = true;
    if (!repeated) {
      live.recharge(amount);
      candidate.recharge(amount);
    }
    replayer->apply(r);
  };
  auto call = [&](int64_t cost) {
    const auto live_taken = live.take(cost);
    int64_t fall = 0;
    for (const auto& [price, n] : live_taken) fall += price * n;
    LotCounts& l = expected[live_taken.size() == 1 ? live_taken[0].first : 0];
    ++l.live_calls;
    l.live_credits += live_taken.size() == 1 ? cost : 0;
    l.live_minor += fall;
    for (const auto& [price, n] : candidate.take(cost)) {
      LotCounts& c = expected[price];
      ++c.candidate_calls;
      c.candidate_credits += n;
      c.candidate_minor += price * n;
    }
    replayer->apply(allowed_call(t += kSecond, "acme", "", cost, live.balance()));
  };
  recharge(500, 1);                     // 50 credits at 10, both sides
  for (int i = 0; i < 40; ++i) call(1);  // 10 credits left in the first lot
  recharge(1000, 2);                    // live: 111 at 9 (wallet 1); candidate: 125 at 8
  recharge(1000, 2, true);              // the same payment id again: not applied
  for (int i = 0; i < 30; ++i) call(3);  // the 4th crosses from the first lot into the second
  replayer->finish();
  const ReplayReport& report = replayer->report();
  EXPECT_EQ(report.recharges_repeated, 1u);
  ASSERT_TRUE(report.contracts.contains("acme"));
  const ContractReport& c = report.contracts.at("acme");
  EXPECT_EQ(c.flips.allowed_to_denied + c.flips.denied_to_allowed, 0u);

  // The scenario's own numbers, as a check of the model above.
  ASSERT_EQ(expected.size(), 4u);  // mixed, 8, 9, 10
  EXPECT_EQ(expected[10].candidate_calls, 44u);
  EXPECT_EQ(expected[10].candidate_minor, 500);
  EXPECT_EQ(expected[8].candidate_calls, 27u);
  EXPECT_EQ(expected[8].candidate_minor, 640);
  EXPECT_EQ(expected[0].live_calls, 1u);
  EXPECT_EQ(expected[0].live_minor, 10 + 2 * 9);

  const auto& got = c.lots.by_price();
  ASSERT_EQ(got.size(), expected.size());
  int64_t live_sum = 0, candidate_sum = 0;
  for (const auto& [price, e] : expected) {
    ASSERT_TRUE(got.contains(price)) << price;
    const LotCounts& g = got.at(price);
    EXPECT_EQ(g.live_calls, e.live_calls) << price;
    EXPECT_EQ(g.candidate_calls, e.candidate_calls) << price;
    EXPECT_EQ(g.live_credits, e.live_credits) << price;
    EXPECT_EQ(g.candidate_credits, e.candidate_credits) << price;
    EXPECT_EQ(g.live_minor, e.live_minor) << price;
    EXPECT_EQ(g.candidate_minor, e.candidate_minor) << price;
    live_sum += g.live_minor;
    candidate_sum += g.candidate_minor;
  }
  EXPECT_EQ(live_sum, c.live_charged_minor);
  EXPECT_EQ(candidate_sum, c.candidate_charged_minor);
  EXPECT_EQ(c.live_charged_minor, 400 + 3 * 3 * 10 + 28 + 26 * 3 * 9);
  EXPECT_EQ(c.candidate_charged_minor, 500 + 640);

  const auto json = nlohmann::json::parse(report_json(report));
  const auto& lots = json["contracts"]["acme"]["lots"];
  ASSERT_EQ(lots.size(), 4u);
  EXPECT_EQ(lots[1]["price_minor"], 8);
  EXPECT_EQ(lots[1]["candidate_calls"], 27);
  EXPECT_EQ(lots[1]["money_delta_minor"], 640);
  EXPECT_EQ(lots[3]["price_minor"], 10);
  EXPECT_EQ(lots[3]["money_delta_minor"], 500 - expected[10].live_minor);
  // The README's example ("Money by lot price") is this text.
  const std::string text = report_text(report, 2);
  EXPECT_NE(text.find("contract acme: 70 calls, allowed live 70 / candidate 70\n"
                      "  allowed -> denied 0, denied -> allowed 0\n"
                      "  money: live charged 1220, candidate 1140, delta -80 minor units (-0.80)\n"
                      "  lot price mixed: live 1 calls 28 minor, candidate 0 calls 0 minor, delta -28 minor units "
                      "(-0.28)\n"
                      "  lot price 8: live 0 calls 0 minor, candidate 27 calls 640 minor, delta +640 minor units "
                      "(+6.40)\n"
                      "  lot price 9: live 26 calls 702 minor, candidate 0 calls 0 minor, delta -702 minor units "
                      "(-7.02)\n"
                      "  lot price 10: live 43 calls 490 minor, candidate 44 calls 500 minor, delta +10 minor units "
                      "(+0.10)\n"),
            std::string::npos)
      << text;
}

constexpr std::string_view kTwoStepLadder = R"(
pricing:
  tiered:
    - { prepay_from: 0, unit_price: 10 }
    - { prepay_from: 1000, unit_price: 8 }
contracts:
  acme:
    pricing: tiered
    limits:
      - { name: burst, type: token_bucket, rate: 1000, per: 1s, burst: 1000 }
)";

// The live daemon's side of a scenario: an Engine on a config, whose
// decided CHECKs go into the log the way the daemon's do (the call-log hook's
// WorkerBuffer::append_check, then the block codec), beside the RECHARGE and
// SETTLE records the daemon writes. records() is the decoded block.
class LiveRun {
 public:
  LiveRun(std::string_view yaml, Nanos start) {
    auto config = parse_config(yaml, "live.yaml");
    EXPECT_TRUE(config.has_value());
    auto engine = Engine::create(engine_options_from(*config, 1), reclaimer_, start, state_);
    EXPECT_TRUE(engine.has_value());
    if (engine) engine_ = std::move(*engine);
  }
  void recharge(Nanos now, std::string_view key, int64_t amount, uint64_t payment) {
    Account* account = state_.find(key)->account();
    auto plan = account->plan_recharge(amount, now);
    ASSERT_TRUE(plan.has_value());
    ASSERT_TRUE(account->add_lot(recharge_lot(*plan, now), plan->wallet).has_value());
    calllog::CallRecord r;
    r.kind = calllog::RecordKind::kRecharge;
    r.time = now;
    r.key = key;
    r.cost = amount;
    r.id_hash = payment;
    r.allowed = true;
    encoder_.add(r);
  }
  Decision check(Nanos now, std::string_view key, int64_t cost, std::string_view id = {}, int64_t hold_ms = -1) {
    CheckRequest q;
    q.key = key;
    q.cost = cost;
    q.id = id;
    q.hold_ms = hold_ms;
    const Decision d = engine_->check(q, now, 0);
    EXPECT_TRUE(ring_.append_check(now, q, d, 0));
    std::vector<calllog::CallRecord> got;
    const uint64_t position = ring_.collect(got);
    for (const calllog::CallRecord& r : got) encoder_.add(r);
    ring_.release(position);
    return d;
  }
  void settle(Nanos now, std::string_view key, std::string_view id, bool commit) {
    ASSERT_TRUE(engine_->settle(key, id, commit, now));
    calllog::CallRecord r;
    r.kind = calllog::RecordKind::kSettle;
    r.time = now;
    r.key = key;
    r.id_hash = calllog::log_hash(id);
    r.allowed = commit;
    encoder_.add(r);
  }
  const std::vector<calllog::CallRecord>& records() {
    std::string raw;
    encoder_.finish(raw);
    EXPECT_TRUE(calllog::decode_block(std::move(raw), block_).has_value());
    return block_.records;
  }

 private:
  Reclaimer reclaimer_;
  RuntimeState state_;
  std::unique_ptr<Engine> engine_;
  calllog::WorkerBuffer ring_{1 << 16};
  calllog::BlockEncoder encoder_;
  calllog::DecodedBlock block_;
};

// Verifies that with the lot split recorded, live's money by lot price is
// exact: a live engine crossing from a lot at 10 into one at 8 (one call
// takes from both), a HOLD cancelled (its credits back to their price) and
// one committed, replayed with the same config: every price's line has the
// same calls, credits and money on both sides, there is no "mixed" or
// "other" line, and the lines add up to the totals.
TEST(ReplayLots, RecordedSplitMakesLiveExactAcrossPrices) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  LiveRun live(kTwoStepLadder, t0);
  Nanos t = t0;
  live.recharge(t += kSecond, "acme", 500, 1);  // 50 credits at 10
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(live.check(t += kSecond, "acme", 1).allowed);
  live.recharge(t += kSecond, "acme", 1000, 2);  // 125 at 8
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(live.check(t += kSecond, "acme", 3).allowed);
  const Decision crossing = live.check(t += kSecond, "acme", 3);  // the last credit at 10, two at 8
  ASSERT_EQ(crossing.lot_prices, LotPrices::kTwo);
  EXPECT_EQ(crossing.lots.price, 10);
  EXPECT_EQ(crossing.lots.credits, 1);
  EXPECT_EQ(crossing.lots.rest, 8);
  ASSERT_TRUE(live.check(t += kSecond, "acme", 4, "h1", 60'000).allowed);
  live.check(t += kSecond, "acme", 2);
  live.settle(t += kSecond, "acme", "h1", false);  // 4 credits back at 8
  ASSERT_TRUE(live.check(t += kSecond, "acme", 2, "h2", 60'000).allowed);
  live.settle(t += kSecond, "acme", "h2", true);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(live.check(t += kSecond, "acme", 3).allowed);

  const std::vector<calllog::CallRecord>& records = live.records();
  size_t two_prices = 0;
  for (const calllog::CallRecord& r : records) {
    if (r.kind != calllog::RecordKind::kCheck) continue;
    EXPECT_TRUE(r.lots_known);
    two_prices += r.lot_prices == LotPrices::kTwo;
  }
  EXPECT_EQ(two_prices, 1u);

  auto replayer = replayer_for(kTwoStepLadder, t0);
  ASSERT_TRUE(replayer);
  for (const calllog::CallRecord& r : records) replayer->apply(r);
  replayer->finish();
  const ContractReport& c = replayer->report().contracts.at("acme");
  EXPECT_EQ(c.flips.allowed_to_denied + c.flips.denied_to_allowed, 0u);
  const auto& got = c.lots.by_price();
  EXPECT_FALSE(got.contains(LotBreakdown::kMixed));
  EXPECT_FALSE(got.contains(LotBreakdown::kOther));
  ASSERT_TRUE(got.contains(10));
  ASSERT_TRUE(got.contains(8));
  // At 10: 40 calls of 1, 3 of 3, the crossing call's 1 credit.
  // At 8: the crossing call's 2, the hold's 4 less its refund, 2, the
  // committed hold's 2, then 10 calls of 3.
  const struct {
    int64_t price;
    uint64_t calls;
    int64_t credits;
  } want[] = {{10, 40 + 3 + 1, 40 + 9 + 1}, {8, 1 + 1 + 1 + 1 + 10, 2 + 4 - 4 + 2 + 2 + 30}};
  int64_t live_sum = 0, candidate_sum = 0;
  for (const auto& w : want) {
    SCOPED_TRACE(w.price);
    const LotCounts& l = got.at(w.price);
    EXPECT_EQ(l.live_calls, w.calls);
    EXPECT_EQ(l.candidate_calls, w.calls);
    EXPECT_EQ(l.live_credits, w.credits);
    EXPECT_EQ(l.candidate_credits, w.credits);
    EXPECT_EQ(l.live_minor, w.credits * w.price);
    EXPECT_EQ(l.candidate_minor, w.credits * w.price);
    live_sum += l.live_minor;
    candidate_sum += l.candidate_minor;
  }
  EXPECT_EQ(live_sum, c.live_charged_minor);
  EXPECT_EQ(candidate_sum, c.candidate_charged_minor);
  EXPECT_EQ(c.live_charged_minor, 500 + 36 * 8);
  EXPECT_EQ(c.candidate_charged_minor, c.live_charged_minor);
}

// Verifies each recorded split is attributed as recorded, with no
// inference: a call from two prices under both, one from three or more
// under its first price and "mixed" for the rest's money, and a balance
// fall beyond a call's charge (what no call explains, e.g. an expired lot)
// under "other"; the lines still add up to the live total.
TEST(ReplayLots, RecordedSplitsOfTwoAndMorePricesAreExact) {
  const Nanos t0 = *parse_instant("2026-06-01T10:00:00Z");
  auto replayer = replayer_for(kTwoStepLadder, t0);
  ASSERT_TRUE(replayer);
  calllog::CallRecord recharge;
  recharge.kind = calllog::RecordKind::kRecharge;
  recharge.time = t0 + kSecond;
  recharge.key = "acme";
  recharge.cost = 10'000;
  recharge.id_hash = 7;
  recharge.allowed = true;
  replayer->apply(recharge);
  int64_t balance = 10'000;
  auto call = [&](Nanos at, int64_t cost, LotPrices prices, int64_t price, int64_t credits, int64_t rest,
                  int64_t fall) {
    calllog::CallRecord r = allowed_call(at, "acme", "", cost, balance -= fall);
    r.lots_known = true;
    r.lot_prices = prices;
    r.lot_price = price;
    r.lot_credits = credits;
    r.lot_rest = rest;
    replayer->apply(r);
  };
  call(t0 + 2 * kSecond, 5, LotPrices::kTwo, 9, 2, 7, 2 * 9 + 3 * 7);
  call(t0 + 3 * kSecond, 6, LotPrices::kMany, 7, 1, 40, 7 + 40);
  call(t0 + 4 * kSecond, 2, LotPrices::kOne, 9, 2, 0, 2 * 9 + 5);  // 5 more: not this call's
  replayer->finish();
  const ContractReport& c = replayer->report().contracts.at("acme");
  const auto& got = c.lots.by_price();
  ASSERT_TRUE(got.contains(9) && got.contains(7) && got.contains(LotBreakdown::kMixed) &&
              got.contains(LotBreakdown::kOther));
  EXPECT_EQ(got.at(9).live_calls, 2u);
  EXPECT_EQ(got.at(9).live_credits, 4);
  EXPECT_EQ(got.at(9).live_minor, 36);
  EXPECT_EQ(got.at(7).live_calls, 2u);
  EXPECT_EQ(got.at(7).live_credits, 4);
  EXPECT_EQ(got.at(7).live_minor, 28);
  EXPECT_EQ(got.at(LotBreakdown::kMixed).live_calls, 1u);
  EXPECT_EQ(got.at(LotBreakdown::kMixed).live_credits, 0);
  EXPECT_EQ(got.at(LotBreakdown::kMixed).live_minor, 40);
  EXPECT_EQ(got.at(LotBreakdown::kOther).live_calls, 0u);
  EXPECT_EQ(got.at(LotBreakdown::kOther).live_minor, 5);
  int64_t live_sum = 0;
  for (const auto& [price, l] : got) live_sum += l.live_minor;
  EXPECT_EQ(live_sum, c.live_charged_minor);
  EXPECT_EQ(c.live_charged_minor, 39 + 47 + 23);
  const std::string text = report_text(replayer->report(), 2);
  EXPECT_NE(text.find("  lot price other: live 0 calls 5 minor"), std::string::npos) << text;
  EXPECT_NE(text.find("  lot price mixed: live 1 calls 40 minor"), std::string::npos) << text;
}

}  // namespace
}  // namespace tollgate::replay
