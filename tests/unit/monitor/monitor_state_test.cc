// The monitors' learned state across a restart, on simulated time: the
// entry codec (round trip, truncated and damaged input), and a contract
// whose monitors restart in the middle of a firing decide exactly as if
// they had never stopped — while monitors that start afresh (warming up)
// would not have fired at all.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "monitor/monitors.h"

namespace tollgate {
namespace {

constexpr Nanos kMinute = 60 * kNanosPerSecond;
constexpr Nanos kHour = 60 * kMinute;
constexpr Nanos kDay = 24 * kHour;
// 2026-06-01T00:00:00Z, a Monday.
constexpr Nanos kStart = 1780272000LL * kNanosPerSecond;

std::vector<MonitorSpec> specs() {
  MonitorSpec hour;
  hour.name = "volume-hour";
  hour.kind = MonitorKind::kVolume;
  hour.period = MonitorPeriod::kHour;
  hour.above_baseline = 2.0;
  hour.min_calls = 50;
  hour.actions = {MonitorActionSpec{}, MonitorActionSpec{}};
  hour.actions[1].after = kHour;  // a stage: the firing state must survive for it
  MonitorSpec channel = hour;
  channel.name = "channel-volume";
  channel.per = MonitorScope::kChannel;
  MonitorSpec users;
  users.name = "new-users";
  users.kind = MonitorKind::kNewSubjects;
  users.above_baseline = 2.0;
  users.min_calls = 50;
  MonitorSpec night;
  night.name = "night";
  night.kind = MonitorKind::kNightShare;
  night.above = 0.3;
  night.min_calls = 50;
  return {hour, channel, users, night};
}

// One contract's counters as a process counts them: from 0 at its start.
struct Counters {
  uint64_t calls = 0, web = 0, app = 0, scope = 0;
  double subjects = 0;
  ContractSample sample(const void* generation) const {
    ContractSample s;
    s.contract = "acme";
    s.zone = "Europe/Berlin";
    s.generation = generation;
    s.calls = calls;
    s.scope_denials = scope;
    s.channels = {"app", "web"};
    s.channel_calls = {app, web};
    s.subjects_today = subjects;
    s.balance = -1;
    return s;
  }
};

// Calls in one 5-minute step: an office-hours rhythm with noise; ×4 during
// the spike (day 9, 09:00–15:00 UTC).
uint64_t step_calls(Nanos t, std::mt19937_64& rng) {
  const int hour = static_cast<int>(((t - kStart) % kDay) / kHour);
  double rate = hour >= 8 && hour < 18 ? 40 : 6;
  if (t >= kStart + 9 * kDay + 9 * kHour && t < kStart + 9 * kDay + 15 * kHour) rate *= 4;
  return static_cast<uint64_t>(rate * std::uniform_real_distribution<double>(0.7, 1.3)(rng));
}

std::string describe(const MonitorOutcome& o) {
  return std::to_string(static_cast<int>(o.kind)) + " " + o.monitor + "/" + o.channel + " " + o.measure + " " +
         std::to_string(o.value) + " " + std::to_string(o.threshold) + " @" + std::to_string((o.time - kStart) / kMinute);
}

// Runs 10 simulated days, one tick every 5 minutes. `restart_at` (0: never):
// just after that tick the monitors' state is saved, a new Monitors (a new
// process) takes it back — or starts afresh when `restore` is false — and
// the counters start again from 0. Returns every outcome, described.
std::vector<std::string> run(Nanos restart_at, bool restore, std::vector<std::string>* saved = nullptr) {
  const std::vector<MonitorSpec> monitor_specs = specs();
  const std::vector<Monitors::SpecsOf> of = {monitor_specs};
  auto monitors = std::make_unique<Monitors>();
  Counters counters;
  int generation_tag = 0;
  const void* generation = &generation_tag;
  std::mt19937_64 rng(7);
  std::vector<std::string> out;
  for (Nanos t = kStart + 5 * kMinute; t <= kStart + 10 * kDay; t += 5 * kMinute) {
    const uint64_t n = step_calls(t, rng);
    counters.calls += n;
    counters.web += n * 3 / 4;
    counters.app += n - n * 3 / 4;
    counters.scope += rng() % 2;
    // Distinct users of the day: about one per 4 calls, restarting at midnight.
    counters.subjects = ((t - kStart) % kDay) < 5 * kMinute ? 0 : counters.subjects + static_cast<double>(n) / 4;
    const std::vector<ContractSample> samples = {counters.sample(generation)};
    for (const MonitorOutcome& o : monitors->tick(t, samples, of)) out.push_back(describe(o));
    if (t == restart_at) {
      const auto state = monitors->save_state();
      EXPECT_EQ(state.size(), 1u);
      if (saved != nullptr)
        for (const auto& [contract, entry] : state) saved->push_back(entry);
      monitors = std::make_unique<Monitors>();
      if (restore) {
        for (const auto& [contract, entry] : state) EXPECT_TRUE(monitors->restore_state(contract, entry).has_value());
      }
      const double subjects = counters.subjects;  // the engine's estimate is not ours to reset
      counters = Counters{};
      counters.subjects = subjects;
      static int next_generation = 0;
      generation = &next_generation;  // a new process: new policies
    }
  }
  return out;
}

// The restart falls during the spike, mid-hour: the hour monitors fired once
// the hour's count passed twice its baseline (about 09:35) and their second
// stage (after: 1h) is due after the restart.
constexpr Nanos kRestart = kStart + 9 * kDay + 10 * kHour + 15 * kMinute;

// Verifies the restored state decides exactly as the uninterrupted run: the
// same firings, stages, clears, values and thresholds at the same ticks —
// and that the test can tell: monitors that start afresh (warm-up) miss the
// spike's second stage and its clearing.
TEST(MonitorState, ARestoredContractDecidesAsIfNeverStopped) {
  const std::vector<std::string> continuous = run(0, true);
  const std::vector<std::string> restored = run(kRestart, true);
  const std::vector<std::string> fresh = run(kRestart, false);
  size_t fired_before = 0, after_restart = 0;
  for (const std::string& o : continuous) {
    const long minute = std::stol(o.substr(o.rfind('@') + 1));
    (minute * kMinute + kStart <= kRestart ? fired_before : after_restart) += 1;
  }
  ASSERT_GT(fired_before, 0u) << "nothing fired before the restart: the test proves nothing";
  ASSERT_GT(after_restart, 0u) << "nothing happens after the restart: the test proves nothing";
  EXPECT_EQ(restored, continuous);
  EXPECT_NE(fresh, continuous);
  for (const std::string& o : continuous) std::printf("  %s\n", o.c_str());
}

// Verifies save → restore → save gives the same bytes (the entry holds
// everything that is saved, doubles bit for bit), and an entry of the
// format's version 1 decodes.
TEST(MonitorState, SaveRestoreSaveIsTheSameBytes) {
  std::vector<std::string> saved;
  run(kRestart, true, &saved);
  ASSERT_EQ(saved.size(), 1u);
  Monitors m;
  ASSERT_TRUE(m.restore_state("acme", saved[0]).has_value());
  const auto again = m.save_state();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].first, "acme");
  EXPECT_EQ(again[0].second, saved[0]);
  EXPECT_EQ(static_cast<uint8_t>(saved[0][0]), 1) << "entry format version";
  EXPECT_GT(saved[0].size(), 1000u) << "baselines of two channels and the contract";
}

// Verifies damaged entries are refused whole and change nothing: every
// truncation, a trailing byte, an unknown version, a baseline slot past the
// week, and random damage never crash (and the contract stays unwatched
// when refused).
TEST(MonitorState, TruncatedOrDamagedEntriesAreRefusedWhole) {
  std::vector<std::string> saved;
  run(kRestart, true, &saved);
  ASSERT_EQ(saved.size(), 1u);
  const std::string& good = saved[0];
  for (size_t n = 0; n < good.size(); ++n) {
    Monitors m;
    auto r = m.restore_state("acme", std::string_view(good).substr(0, n));
    ASSERT_FALSE(r.has_value()) << "a prefix of " << n << " bytes was taken";
    EXPECT_EQ(m.watched(), 0u);
  }
  {
    Monitors m;
    auto r = m.restore_state("acme", good + '\0');
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("unexpected bytes"), std::string::npos) << r.error();
  }
  {
    Monitors m;
    std::string newer = good;
    newer[0] = 2;
    auto r = m.restore_state("acme", newer);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("version 2"), std::string::npos) << r.error();
  }
  {
    // The first baseline slot of the contract's calls: after the fixed
    // header (1 + 3×8 + 5), the zone (4 + 13) and the four counts (32) and the slot count (1).
    const size_t slot = 1 + 24 + 5 + 4 + std::string("Europe/Berlin").size() + 32 + 1;
    std::string bad = good;
    bad[slot] = static_cast<char>(168);
    Monitors m;
    auto r = m.restore_state("acme", bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("out of range"), std::string::npos) << r.error();
  }
  std::mt19937_64 rng(11);
  size_t refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    Monitors m;
    if (!m.restore_state("acme", bad)) {
      ++refused;
      EXPECT_EQ(m.watched(), 0u);
    } else {
      EXPECT_EQ(m.watched(), 1u);
    }
  }
  EXPECT_GT(refused, 0u);
}

// Verifies prune: a contract with no monitor left is forgotten (it would
// start afresh), a removed monitor's firing is forgotten, kept ones stay.
TEST(MonitorState, PruneForgetsWhatIsNoLongerConfigured) {
  std::vector<std::string> saved;
  run(kRestart, true, &saved);
  Monitors m;
  ASSERT_TRUE(m.restore_state("acme", saved[0]).has_value());
  const size_t firing = m.firing_now();
  ASSERT_GT(firing, 0u);
  m.prune([](std::string_view, std::string_view monitor) { return monitor != "volume-hour"; });
  EXPECT_EQ(m.watched(), 1u);
  EXPECT_EQ(m.firing_now(), firing - 1);
  m.prune([](std::string_view, std::string_view) { return true; });
  EXPECT_EQ(m.firing_now(), firing - 1);
  m.prune([](std::string_view contract, std::string_view) { return contract != "acme"; });
  EXPECT_EQ(m.watched(), 0u);
}

}  // namespace
}  // namespace tollgate
