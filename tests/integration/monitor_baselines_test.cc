// What the monitors learned survives a restart of a real tollgated, in both
// storage modes: the day's counts go on from where they were (a monitor
// whose threshold only the sum of both runs' calls crosses fires), a monitor
// that was firing stays firing instead of firing again, and INFO says where
// the state is kept and that it came back. An unreadable baseline file is a
// logged, counted error and the daemon serves (warming up).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "control/monitor_baselines.h"
#include "integration/daemon_harness.h"
#include "persist/files/file_system.h"

namespace tollgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

// `early` fires at the 4th call of the day; `late` only past 6: the second
// run's four calls cross it only if the first run's four are still counted.
// The contract's zone is one where it is about noon now, so the local day
// does not end during the test.
std::string noon_zone() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const long hour = std::chrono::duration_cast<std::chrono::hours>(now).count() % 24;
  const long offset = 12 - hour;  // -11 … +12 hours from UTC
  return offset == 0 ? "UTC" : offset > 0 ? "Etc/GMT-" + std::to_string(offset) : "Etc/GMT+" + std::to_string(-offset);
}

const std::string kConfig = "timezone: " + noon_zone() + R"(
contracts:
  watched:
    monitors:
      - { name: early, kind: volume, period: day, above: 3, actions: [ { do: event } ] }
      - { name: late, kind: volume, period: day, above: 6, actions: [ { do: event } ] }
)";

std::string info_monitors(redisContext* admin) {
  Reply r = command(admin, {"INFO", "monitors"});
  return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
}

std::string info_field(const std::string& info, const std::string& name) {
  const size_t at = info.find(name + ":");
  if (at == std::string::npos) return "?";
  const size_t from = at + name.size() + 1;
  return info.substr(from, info.find("\r\n", from) - from);
}

// The monitor names of the monitor.fired events, in order.
std::vector<std::string> fired(redisContext* admin) {
  std::vector<std::string> out;
  Reply r = command(admin, {"EVENTS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < r->elements; ++i) {
    std::map<std::string, std::string> f;
    const redisReply* e = r->element[i];
    for (size_t k = 0; k + 1 < e->elements; k += 2) f[e->element[k]->str] = e->element[k + 1]->str;
    if (f["kind"] == "monitor.fired") out.push_back(f["detail"].substr(8, f["detail"].find(':') - 8));
  }
  return out;
}

// Polls until `want` monitors fired in this run (the monitors tick once a second), at most 5 s.
std::vector<std::string> wait_fired(redisContext* admin, size_t want) {
  const auto start = Clock::now();
  std::vector<std::string> got = fired(admin);
  while (got.size() < want && Clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition, with a deadline
    got = fired(admin);
  }
  return got;
}

void calls(const Daemon& d, int n) {
  Client c = d.connect();
  for (int i = 0; i < n; ++i) {
    Reply r = command(c.get(), {"CHECK", "watched"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->element[0]->integer == 1) << i;
  }
}

// Both runs of one storage mode.
template <typename Storage>
void restart_keeps_what_was_learned(const Storage& storage, const std::string& where_prefix) {
  {
    Daemon d(kConfig, storage);
    ASSERT_TRUE(d.wait_ready()) << d.log();
    calls(d, 4);
    Client admin = d.connect_admin();
    EXPECT_EQ(wait_fired(admin.get(), 1), std::vector<std::string>{"early"});
    const std::string first = info_monitors(admin.get());
    EXPECT_EQ(info_field(first, "monitor_baselines_restored"), "0") << first;  // nothing saved yet: not an error
    EXPECT_EQ(info_field(first, "monitor_baseline_failures"), "0") << first;
    ASSERT_EQ(d.stop(), 0) << d.log();
  }
  Daemon d(kConfig, storage);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client admin = d.connect_admin();
  const std::string info = info_monitors(admin.get());
  EXPECT_TRUE(info_field(info, "monitor_baselines").starts_with(where_prefix)) << info;
  EXPECT_EQ(info_field(info, "monitor_baselines_restored"), "1") << info;
  EXPECT_EQ(info_field(info, "monitor_baseline_failures"), "0") << info;
  EXPECT_EQ(info_field(info, "monitor_baselines_last_error"), "none") << info;
  calls(d, 4);
  // 4 + 4 calls today: `late` fires; `early` was firing and still is — no second firing.
  EXPECT_EQ(wait_fired(admin.get(), 1), std::vector<std::string>{"late"}) << d.log();
  ASSERT_EQ(d.stop(), 0) << d.log();
}

// Verifies storage.mode embedded: the file is written at the clean stop
// and the next start restores the day's count and the firing.
TEST(MonitorBaselines, EmbeddedRestartKeepsCountsAndFirings) {
  TempDir state;
  const EmbeddedStorage storage{state.file("var"), 20, ""};
  restart_keeps_what_was_learned(storage, "file " + state.file("var") + "/" + kBaselineFileName);
  auto saved = make_baseline_file(state.file("var"), files::default_file_system())->load();
  ASSERT_TRUE(saved.has_value()) << saved.error();
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].first, "watched");
}

// Verifies storage.mode redis: the state is in `<prefix>baselines` and the
// next start (any node) restores it; a run without the contract's monitors
// deletes its field.
TEST(MonitorBaselines, RedisRestartKeepsCountsAndFirings) {
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  const RedisStorage storage{redis.socket(), "", "tgb:", 50, ""};
  restart_keeps_what_was_learned(storage, "redis hash tgb:baselines");
  Client r = redis.connect();
  Reply fields = command(r.get(), {"HKEYS", "tgb:baselines"});
  ASSERT_TRUE(fields && fields->type == REDIS_REPLY_ARRAY);
  ASSERT_EQ(fields->elements, 1u);
  EXPECT_EQ(std::string(fields->element[0]->str), "watched");
  // A run where the contract has no monitor left drops its field at the clean stop.
  {
    Daemon d("contracts:\n  watched:\n    channels: [web]\n", storage);
    ASSERT_TRUE(d.wait_ready()) << d.log();
    ASSERT_EQ(d.stop(), 0) << d.log();
  }
  Reply left = command(r.get(), {"HLEN", "tgb:baselines"});
  ASSERT_TRUE(left && left->type == REDIS_REPLY_INTEGER);
  EXPECT_EQ(left->integer, 0);
}

// Verifies a damaged baseline file: the daemon starts and serves, the error
// is logged and in INFO, the file is moved aside, and the clean stop writes
// a good one again.
TEST(MonitorBaselines, AnUnreadableFileIsReportedAndTheDaemonServes) {
  TempDir state;
  const std::string dir = state.file("var");
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir + "/" + kBaselineFileName, std::ios::binary);
    out << std::string(100, 'x');
  }
  Daemon d(kConfig, EmbeddedStorage{dir, 20, ""});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  calls(d, 1);
  Client admin = d.connect_admin();
  const std::string info = info_monitors(admin.get());
  EXPECT_EQ(info_field(info, "monitor_baseline_failures"), "1") << info;
  EXPECT_NE(info_field(info, "monitor_baselines_last_error").find("not a file of this kind"), std::string::npos)
      << info;
  EXPECT_NE(d.log().find("the learned baselines could not be read"), std::string::npos) << d.log();
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + kBaselineFileName + ".unreadable"));
  ASSERT_EQ(d.stop(), 0) << d.log();
  auto saved = make_baseline_file(dir, files::default_file_system())->load();
  ASSERT_TRUE(saved.has_value()) << saved.error();
  EXPECT_EQ(saved->size(), 1u);
}

}  // namespace
}  // namespace tollgate::testing
