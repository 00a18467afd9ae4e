// The monitors' learned state kept between runs (control/monitor_baselines.h):
// the embedded mode's checksummed file (round trip, truncation, damage,
// write failures), and a daemon's worth of parts — a real Engine, the
// ContractAdmin and the MonitorRunner on simulated time — that learns for
// eight days, stops cleanly, starts again from the file and decides as the
// run that never stopped. Reloads keep what a kept monitor learned.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "control/contract_admin.h"
#include "control/engine_options.h"
#include "control/monitor_baselines.h"
#include "control/monitor_runner.h"
#include "engine/engine.h"
#include "persist/files/checksummed_file.h"
#include "support/faulty_file_system.h"
#include "unit/config/config_test_util.h"
#include "unit/persist/files/store_test_util.h"

namespace tollgate {
namespace {

using files::testing::TempDir;

constexpr Nanos kMinute = 60 * kNanosPerSecond;
constexpr Nanos kHour = 60 * kMinute;
constexpr Nanos kDay = 24 * kHour;
constexpr Nanos kStart = 1780272000LL * kNanosPerSecond;  // 2026-06-01T00:00:00Z, a Monday

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::expected<void, std::string> save(BaselineStore& store, BaselineStore::Entries entries) {
  std::expected<void, std::string> result = std::unexpected("done never called");
  store.save(std::move(entries), [&](std::expected<void, std::string> r) { result = std::move(r); });
  return result;
}

const BaselineStore::Entries kEntries = {{"acme", std::string("\x01\x02\x00\x03", 4)}, {"beta", ""}, {"gamma", "xyz"}};

// Verifies the file round trip: absent is "nothing saved yet" (not an
// error), a saved set comes back whole, a later save replaces it, and no
// temporary file is left.
TEST(BaselineFile, SavesAndLoadsWhole) {
  TempDir dir;
  auto store = make_baseline_file(dir.path(), files::default_file_system());
  auto empty = store->load();
  ASSERT_TRUE(empty.has_value()) << empty.error();
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(save(*store, kEntries).has_value());
  auto back = make_baseline_file(dir.path(), files::default_file_system())->load();
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, kEntries);
  ASSERT_TRUE(save(*store, {{"acme", "new"}}).has_value());
  back = store->load();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, (BaselineStore::Entries{{"acme", "new"}}));
  EXPECT_EQ(dir.names(), std::vector<std::string>{kBaselineFileName});
}

// Verifies every truncation of the file, and a flipped bit anywhere in it,
// is a clear error naming the file (never a partial set), and the damaged
// file is moved aside so the next save does not destroy the evidence.
TEST(BaselineFile, TruncatedOrDamagedFileIsAClearErrorAndMovedAside) {
  TempDir dir;
  auto store = make_baseline_file(dir.path(), files::default_file_system());
  ASSERT_TRUE(save(*store, kEntries).has_value());
  const std::string path = dir.file(kBaselineFileName);
  const std::string good = read_file(path);
  ASSERT_GT(good.size(), files::kChecksummedHeaderBytes);
  for (size_t n = 0; n < good.size(); ++n) {
    write_file(path, good.substr(0, n));
    auto r = store->load();
    ASSERT_FALSE(r.has_value()) << "a file cut at " << n << " bytes was read";
    EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("moved aside"), std::string::npos) << r.error();
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_EQ(read_file(path + ".unreadable"), good.substr(0, n));
  }
  for (size_t byte = 0; byte < good.size(); ++byte) {
    std::string bad = good;
    bad[byte] ^= 0x10;
    write_file(path, bad);
    auto r = store->load();
    ASSERT_FALSE(r.has_value()) << "a flipped bit at byte " << byte << " was not seen";
  }
  write_file(path, good);
  EXPECT_TRUE(store->load().has_value());
}

// Verifies a file written by a newer format version is refused (not misread).
TEST(BaselineFile, NewerFormatIsRefused) {
  TempDir dir;
  const std::string path = dir.file(kBaselineFileName);
  ASSERT_TRUE(files::write_checksummed_file(files::default_file_system(), dir.path(), path, kBaselineFileMagic,
                                            kBaselineFileVersion + 1, encode_baseline_file(kEntries)));
  auto r = make_baseline_file(dir.path(), files::default_file_system())->load();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("format version 2"), std::string::npos) << r.error();
}

// Verifies the body codec refuses every truncation and trailing bytes.
TEST(BaselineFile, BodyCodecRefusesTruncationAndTrailingBytes) {
  const std::string body = encode_baseline_file(kEntries);
  auto back = decode_baseline_file(body);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, kEntries);
  for (size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(decode_baseline_file(body.substr(0, n)).has_value()) << n;
  EXPECT_FALSE(decode_baseline_file(body + "x").has_value());
  std::string huge = body;
  huge[3] = '\x7f';  // a count far beyond the bytes
  EXPECT_FALSE(decode_baseline_file(huge).has_value());
}

// Verifies a save that fails (ENOSPC on write, EIO on fsync, EROFS on
// rename) is an error and leaves the previous file whole.
TEST(BaselineFile, AFailedSaveLeavesThePreviousFile) {
  TempDir dir;
  files::FaultyFileSystem fs;
  auto store = make_baseline_file(dir.path(), fs);
  ASSERT_TRUE(save(*store, kEntries).has_value());
  for (files::Fault fault : {files::Fault{files::FileOp::kWrite, 1, ENOSPC},
                             files::Fault{files::FileOp::kSync, 1, EIO},
                             files::Fault{files::FileOp::kRename, 1, EROFS}}) {
    fs.clear_faults();
    fs.add_fault(fault);
    auto r = save(*store, {{"acme", "lost"}});
    ASSERT_FALSE(r.has_value());
    fs.clear_faults();
    auto back = store->load();
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, kEntries);
  }
}

constexpr const char* kConfig = R"(
timezone: Europe/Berlin
contracts:
  acme:
    channels: [web, app]
    monitors:
      - name: volume-hour
        kind: volume
        period: hour
        above_baseline: 2.0
        min_calls: 50
        actions:
          - { do: event }
          - { do: event, after: 1h }
      - name: channel-volume
        kind: volume
        per: channel
        period: hour
        above_baseline: 2.0
        min_calls: 50
  other:
    channels: [web]
)";

// One run of the daemon's parts: engine, admin, monitor runner.
struct Process {
  Process(const Config& config, Nanos now) {
    auto built = Engine::create(engine_options_from(config, 1), reclaimer, now, state);
    EXPECT_TRUE(built.has_value());
    engine = std::move(*built);
    runner.configure(config);
  }
  Reclaimer reclaimer{4};
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  ContractAdmin admin{[this]() -> Engine& { return *engine; }, state};
  MonitorRunner runner{[this]() -> Engine& { return *engine; }, state, admin};
};

// Calls in one 5-minute step: office hours, noise, ×4 on day 8 09:00–15:00 UTC.
int step_calls(Nanos t, std::mt19937_64& rng) {
  const int hour = static_cast<int>(((t - kStart) % kDay) / kHour);
  double rate = hour >= 8 && hour < 18 ? 40 : 6;
  if (t >= kStart + 8 * kDay + 9 * kHour && t < kStart + 8 * kDay + 15 * kHour) rate *= 4;
  return static_cast<int>(rate * std::uniform_real_distribution<double>(0.7, 1.3)(rng));
}

// Nine simulated days, a tick every 5 minutes. The learned state is kept in
// a file in `dir`; at `restart_at` (0: never) the process stops cleanly
// (close(): the final save) and a new one starts — on the same file, or
// without it when `restore` is false. Returns the events of every process,
// as "+minutes kind detail".
std::vector<std::string> run(const Config& config, const std::string& dir, Nanos restart_at, bool restore = true) {
  auto process = std::make_unique<Process>(config, kStart);
  // A save a simulated day (each is an fsync; the restart relies on close()'s final save).
  process->runner.keep_baselines(make_baseline_file(dir, files::default_file_system()), kStart, kDay);
  std::vector<std::string> out;
  auto collect = [&out](Process& p) {
    for (const Event& e : p.state.events(0))
      out.push_back("+" + std::to_string((e.time_ms * kNanosPerMilli - kStart) / kMinute) + " " + e.kind + " " +
                    e.detail);
  };
  std::mt19937_64 rng(5);
  for (Nanos t = kStart + 5 * kMinute; t <= kStart + 9 * kDay; t += 5 * kMinute) {
    const int n = step_calls(t, rng);
    for (int i = 0; i < n; ++i) {
      CheckRequest r;
      r.key = "acme";
      r.channel = i % 4 == 0 ? "app" : "web";
      EXPECT_TRUE(process->engine->check(r, t - 5 * kMinute + (i + 1) * (5 * kMinute / (n + 1))).allowed);
    }
    process->runner.tick(t);
    if (t == restart_at) {
      process->runner.close();
      collect(*process);
      process = std::make_unique<Process>(config, t);
      if (!restore) continue;
      process->runner.keep_baselines(make_baseline_file(dir, files::default_file_system()), t, kDay);
      EXPECT_EQ(process->runner.baseline_counts().restored, 1u);
      EXPECT_EQ(process->runner.baseline_counts().failures, 0u);
    }
  }
  collect(*process);
  return out;
}

// Verifies the restart on simulated time: eight days learned, a clean stop
// in the middle of a firing (fired about 09:35, its second stage due an hour
// later),
// a new process restores the file and every event after it — the stage, the
// clearing — is what the uninterrupted run produced, at the same minute,
// with the same values and thresholds. Without the file a restarted
// process warms up and decides differently (the test can fail).
TEST(MonitorBaselines, ARestartedDaemonDecidesAsTheOneThatNeverStopped) {
  const Config config = testing::parse_ok(kConfig);
  TempDir continuous_dir, restarted_dir;
  const Nanos restart = kStart + 8 * kDay + 10 * kHour + 15 * kMinute;
  const std::vector<std::string> continuous = run(config, continuous_dir.path(), 0);
  const std::vector<std::string> restarted = run(config, restarted_dir.path(), restart);
  ASSERT_FALSE(continuous.empty());
  bool stage_after_restart = false;
  for (const std::string& e : continuous) {
    std::printf("  %s\n", e.c_str());
    if (e.find("monitor.action") != std::string::npos && std::stol(e.substr(1)) * kMinute + kStart > restart)
      stage_after_restart = true;
  }
  EXPECT_TRUE(stage_after_restart) << "the stage should fall after the restart";
  EXPECT_EQ(restarted, continuous);

  // The same restart without the file: the new process warms up, and
  // neither the stage nor the clearing comes.
  TempDir lost_dir;
  EXPECT_NE(run(config, lost_dir.path(), restart, /*restore=*/false), continuous);
}

// Verifies an unreadable file does not stop the monitors: the error is
// counted and shown (INFO's monitor_baselines_last_error), every contract
// warms up, and the next save writes a good file again.
TEST(MonitorBaselines, AnUnreadableFileIsReportedAndTheMonitorsWarmUp) {
  const Config config = testing::parse_ok(kConfig);
  TempDir dir;
  write_file(dir.file(kBaselineFileName), "not a baseline file at all, but long enough for a header");
  Process p(config, kStart);
  p.runner.keep_baselines(make_baseline_file(dir.path(), files::default_file_system()), kStart, 10 * kMinute);
  MonitorRunner::BaselineCounts c = p.runner.baseline_counts();
  EXPECT_EQ(c.failures, 1u);
  EXPECT_EQ(c.restored, 0u);
  EXPECT_EQ(c.where, "file " + dir.file(kBaselineFileName));
  EXPECT_NE(c.last_error.find("not a file of this kind"), std::string::npos) << c.last_error;
  EXPECT_TRUE(std::filesystem::exists(dir.file(std::string(kBaselineFileName) + ".unreadable")));
  for (Nanos t = kStart; t <= kStart + 10 * kMinute; t += kMinute) p.runner.tick(t);
  EXPECT_EQ(p.runner.baseline_counts().saved, 1u);
  auto back = make_baseline_file(dir.path(), files::default_file_system())->load();
  ASSERT_TRUE(back.has_value()) << back.error();
  ASSERT_EQ(back->size(), 1u);  // acme (other has no monitor)
  EXPECT_EQ((*back)[0].first, "acme");
}

// Verifies reloads: one that keeps the monitors keeps the learned state
// byte for byte; one that removes every monitor of a contract forgets it,
// so re-adding them starts afresh (warm-up from then).
TEST(MonitorBaselines, AReloadKeepsWhatAKeptMonitorLearned) {
  const Config config = testing::parse_ok(kConfig);
  Process p(config, kStart);
  for (Nanos t = kStart; t <= kStart + 2 * kDay; t += 5 * kMinute) {
    CheckRequest r;
    r.key = "acme";
    r.channel = "web";
    (void)p.engine->check(r, t);
    p.runner.tick(t);
  }
  const auto before = p.runner.monitors().save_state();
  ASSERT_EQ(before.size(), 1u);
  p.runner.configure(config);
  EXPECT_EQ(p.runner.monitors().save_state(), before);
  std::string without = kConfig;
  without = without.substr(0, without.find("    monitors:")) + "  other:\n    channels: [web]\n";
  p.runner.configure(testing::parse_ok(without));
  EXPECT_EQ(p.runner.monitors().watched(), 0u);
  p.runner.configure(config);
  p.runner.tick(kStart + 2 * kDay + 5 * kMinute);
  const auto after = p.runner.monitors().save_state();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].second, before[0].second);  // a new first_seen, no baselines yet
  EXPECT_LT(after[0].second.size(), before[0].second.size());
}

// Verifies a daemon without monitors leaves no baseline file behind, and
// one whose monitors were all removed writes the empty set over its old
// file (so monitors added back after a restart start afresh).
TEST(MonitorBaselines, NoMonitorsNoFileAndRemovedOnesAreNotRestored) {
  TempDir dir;
  const Config bare = testing::parse_ok("contracts:\n  other:\n    channels: [web]\n");
  {
    Process p(bare, kStart);
    p.runner.keep_baselines(make_baseline_file(dir.path(), files::default_file_system()), kStart, kMinute);
    for (Nanos t = kStart; t <= kStart + 5 * kMinute; t += kMinute) p.runner.tick(t);
    p.runner.close();
  }
  EXPECT_TRUE(dir.names().empty());
  const Config config = testing::parse_ok(kConfig);
  {
    Process p(config, kStart);
    p.runner.keep_baselines(make_baseline_file(dir.path(), files::default_file_system()), kStart, kDay);
    p.runner.tick(kStart);
    p.runner.close();
  }
  auto saved = make_baseline_file(dir.path(), files::default_file_system())->load();
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->size(), 1u);
  {
    Process p(bare, kStart + kHour);
    p.runner.keep_baselines(make_baseline_file(dir.path(), files::default_file_system()), kStart + kHour, kDay);
    p.runner.tick(kStart + kHour);
    p.runner.close();
  }
  saved = make_baseline_file(dir.path(), files::default_file_system())->load();
  ASSERT_TRUE(saved.has_value());
  EXPECT_TRUE(saved->empty());
}

}  // namespace
}  // namespace tollgate
