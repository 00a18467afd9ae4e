// Monitor actions fleet-wide (docs/fleet.md, "Monitor actions";
// control/fleet_actions.h): tollgated nodes with fleet: on one real
// redis-server. A volume monitor fires on node A; node B denies the channel
// within a bounded time and shows the same action (expiry, reason) in
// CONTRACT; MONITOR CLEAR on B lifts it on A; a node restarted while the
// action is in force comes back with it; an expired action lifts on every
// node, with one ledger entry for its expiry fleet-wide; a volume monitor
// counts the calls of every node; a balance monitor sees the fleet's balance. refill_ms and
// `for:` are short so that each test takes seconds; waits poll a condition
// with a deadline, nothing sleeps for time to pass.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "integration/daemon_harness.h"
#include "support/eventually.h"

namespace tollgate::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

const std::string kReplay = std::string(TOLLGATE_BINARY_DIR) + "/tollgate-replay";

std::string config(const std::string& node, const std::string& block_for, const std::string& extra = "") {
  return extra + R"(
fleet:
  node: )" + node + R"(
  lease_ttl: 2s
  refill_ms: 20
contracts:
  live:
    channels: [web, batch]
    monitors:
      - name: web-volume
        kind: volume
        per: channel
        period: hour
        above: 5
        actions:
          - { do: event }
          - { do: block_channel, for: )" + block_for + R"( }
)";
}

// One priced contract whose balance monitor fires below 900 (unit price 1: credits = minor units).
std::string priced_config(const std::string& node) {
  return R"(
fleet:
  node: )" + node + R"(
  lease_ttl: 2s
  refill_ms: 20
pricing:
  flat:
    - { prepay_from: 0, unit_price: 1 }
contracts:
  paid:
    pricing: flat
    monitors:
      - name: low
        kind: balance
        below: 900
        actions:
          - { do: event }
)";
}

// A contract whose new_subjects monitor fires above 250 distinct end users a day.
std::string subjects_config(const std::string& node) {
  return R"(
fleet:
  node: )" + node + R"(
  lease_ttl: 2s
  refill_ms: 20
contracts:
  people:
    monitors:
      - name: many-users
        kind: new_subjects
        above: 250
        actions:
          - { do: event }
)";
}

// The detail of `d`'s first monitor.fired event ("" when none).
std::string fired_detail(redisContext* admin) {
  Reply r = command(admin, {"EVENTS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return "";
  for (size_t i = 0; i < r->elements; ++i) {
    std::map<std::string, std::string> e;
    for (size_t f = 0; f + 1 < r->element[i]->elements; f += 2)
      e[r->element[i]->element[f]->str] = std::string(r->element[i]->element[f + 1]->str,
                                                      r->element[i]->element[f + 1]->len);
    if (e["kind"] == "monitor.fired") return e["detail"];
  }
  return "";
}

// CHECK on `channel` of `live`: its code ("OK" when allowed).
std::string code(redisContext* c, const std::string& channel) {
  Reply r = command(c, {"CHECK", "live", "CHANNEL", channel});
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 7) return "no reply";
  return std::string(r->element[1]->str, r->element[1]->len);
}

// How many actions `d` has in force (CONTRACT), polled instead of CHECK so
// that waiting adds no calls to the node's own volume monitor.
std::string actions(const Daemon& d) { return fields(d.connect_admin().get(), {"CONTRACT", "live"})["actions"]; }

int64_t info_value(redisContext* c, const std::string& section, const std::string& name) {
  Reply r = command(c, {"INFO", section});
  if (!r || r->type != REDIS_REPLY_STRING) return -1;
  const std::string text(r->str, r->len);
  const size_t at = text.find("\n" + name + ":");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}

// Ledger entries in Redis (every daemon's) whose text holds `what`.
int64_t ledger_entries_with(redisContext* redis, const std::string& what) {
  Reply r = command(redis, {"HVALS", "tollgate:ledger"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < r->elements; ++i)
    n += std::string(r->element[i]->str, r->element[i]->len).find(what) != std::string::npos;
  return n;
}

class FleetMonitor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.start());
    storage_ = RedisStorage{redis_.socket(), "", "", 20, ""};
  }
  std::unique_ptr<Daemon> start(const std::string& node, const std::string& block_for,
                                const std::string& extra = "") {
    auto d = std::make_unique<Daemon>(config(node, block_for, extra), storage_);
    EXPECT_TRUE(d->wait_ready()) << d->log();
    return d;
  }
  // Six calls on web cross `above: 5` on `d`; true once `d` itself blocks web (its monitor ticks each second).
  static bool fire(Daemon& d) {
    Client c = d.connect();
    for (int i = 0; i < 6; ++i)
      if (code(c.get(), "web") != "OK") return false;
    return eventually([&] { return code(c.get(), "web") == "CHANNEL"; }, 3000);
  }
  RedisServer redis_;
  RedisStorage storage_;
};

// Verifies issue 13 with fleet: on: a block_channel fired by node A's
// monitor denies web on node B (B's own monitor never fired: it saw no
// calls) within a bound, printed; B's CONTRACT shows the same action, expiry
// and reason; batch keeps working on both; MONITOR CLEAR on B lifts it on A
// too, and Redis holds no action after. B's call log holds the action it
// applied from A like a local one: tollgate-replay of B's log, following
// its recorded config, flips no decision (without the record the CHANNEL
// denials would replay as allowed).
TEST_F(FleetMonitor, ActionOnOneNodeDeniesOnAllAndAClearAnywhereLiftsEverywhere) {
  auto a = start("gw-a", "60s"), b = start("gw-b", "60s", "call_log:\n  dir: calls\n  flush_interval: 20ms\n");
  Client ca = a->connect(), cb = b->connect();
  Client admin_a = a->connect_admin(), admin_b = b->connect_admin();
  ASSERT_EQ(code(cb.get(), "web"), "OK");
  ASSERT_TRUE(fire(*a)) << a->log();
  const auto blocked_on_a = SteadyClock::now();
  ASSERT_TRUE(eventually([&] { return actions(*b) == "1"; }, 3000)) << b->log();
  EXPECT_EQ(code(cb.get(), "web"), "CHANNEL");
  std::printf("fleet: node B denies %lld ms after node A's monitor blocked the channel (refill_ms 20)\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - blocked_on_a).count()));
  EXPECT_EQ(code(cb.get(), "batch"), "OK");
  EXPECT_EQ(code(ca.get(), "batch"), "OK");
  auto fa = fields(admin_a.get(), {"CONTRACT", "live"});
  auto fb = fields(admin_b.get(), {"CONTRACT", "live"});
  EXPECT_EQ(fb["actions"], "1");
  EXPECT_EQ(fb["action.0.kind"], "block_channel");
  EXPECT_EQ(fb["action.0.channel"], "web");
  EXPECT_EQ(fb["action.0.monitor"], "web-volume");
  EXPECT_EQ(fb["action.0.until"], fa["action.0.until"]) << "the same absolute expiry on every node";
  EXPECT_EQ(fb["action.0.reason"], fa["action.0.reason"]);
  EXPECT_GE(info_value(admin_b.get(), "fleet", "fleet_action_changes"), 1);
  EXPECT_EQ(info_value(admin_b.get(), "monitors", "monitor_firings"), 0) << "B's own monitor did not fire";

  // An operator clears it on B: lifted on A within a bound, and in Redis.
  Reply cleared = command(admin_b.get(), {"MONITOR", "CLEAR", "live"});
  ASSERT_TRUE(cleared && cleared->type == REDIS_REPLY_INTEGER);
  EXPECT_EQ(cleared->integer, 1);
  EXPECT_EQ(code(cb.get(), "web"), "OK");
  ASSERT_TRUE(eventually([&] { return actions(*a) == "0"; }, 3000)) << a->log();
  EXPECT_EQ(code(ca.get(), "web"), "OK");
  Client r = redis_.connect();
  EXPECT_EQ(command(r.get(), {"HLEN", "tollgate:actions"})->integer, 0);
  // A's monitor heard of the clear: it stays quiet for its cool-down (no re-block of web).
  for (int i = 0; i < 5; ++i) EXPECT_EQ(code(ca.get(), "web"), "OK");
  EXPECT_EQ(ledger_entries_with(r.get(), "cleared by an operator"), 1) << "one entry for the clear, fleet-wide";

  // Replay of B's call log: 1 allowed before, 1 denied CHANNEL (the remote action), 2 allowed after.
  ASSERT_EQ(b->stop(15), 0) << b->log();
  std::string output;
  EXPECT_EQ(Daemon::run_tool({kReplay, "--log", b->dir().file("calls"), "--json"}, output), 0) << output;
  auto count = [&](const std::string& name) {
    const size_t at = output.find("\"" + name + "\":");
    return at == std::string::npos ? -1 : std::stoll(output.substr(at + name.size() + 3));
  };
  EXPECT_GE(count("calls"), 4) << output;
  EXPECT_EQ(count("allowed_to_denied"), 0) << output;
  EXPECT_EQ(count("denied_to_allowed"), 0) << output;
}

// Verifies restart and expiry: node B restarted (kill -9) while A's action
// is in force comes back denying with it, before any read of Redis by its
// fleet loop; at `for:` (3 s) every node lifts it by itself, Redis holds
// none, and the global ledger has one expiry entry, not one per node.
TEST_F(FleetMonitor, ARestartedNodeComesBackWithTheActionAndExpiryLiftsEverywhere) {
  auto a = start("gw-a", "3s"), b = start("gw-b", "3s");
  Client cb = b->connect();
  ASSERT_TRUE(fire(*a)) << a->log();
  ASSERT_TRUE(eventually([&] { return actions(*b) == "1"; }, 3000)) << b->log();
  const std::string until = fields(a->connect_admin().get(), {"CONTRACT", "live"})["action.0.until"];
  b->stop(9);
  b = start("gw-b", "3s");
  cb = b->connect();
  EXPECT_EQ(code(cb.get(), "web"), "CHANNEL") << "the action did not survive the restart";
  EXPECT_EQ(fields(b->connect_admin().get(), {"CONTRACT", "live"})["action.0.until"], until);
  // A third node joining now gets it from Redis as well.
  auto c = start("gw-c", "3s");
  Client cc = c->connect();
  EXPECT_EQ(code(cc.get(), "web"), "CHANNEL");
  // Expiry: every node lifts by the action's own instant (3 s after it fired).
  Client ca = a->connect();
  ASSERT_TRUE(eventually([&] { return actions(*a) == "0" && actions(*b) == "0" && actions(*c) == "0"; }, 8000))
      << a->log() << b->log() << c->log();
  for (Client* client : {&ca, &cb, &cc}) EXPECT_EQ(code(client->get(), "web"), "OK");
  Client r = redis_.connect();
  EXPECT_TRUE(eventually([&] { return command(r.get(), {"HLEN", "tollgate:actions"})->integer == 0; }, 2000));
  // Each node's runner lifted it at `until`; only the first delete wrote an entry.
  EXPECT_TRUE(eventually([&] { return ledger_entries_with(r.get(), "lifted: expired") == 1; }, 2000))
      << ledger_entries_with(r.get(), "lifted: expired");
  for (Daemon* d : {a.get(), b.get(), c.get()}) EXPECT_TRUE(d->running());
}

// Verifies monitors on the fleet's counts: two calls on web at each of
// three nodes (six in all, none alone above 5) cross `above: 5`; the
// monitor leader (the smallest node id, gw-a) fires, the others do not
// (they would fire the same action again), and every node blocks web.
TEST_F(FleetMonitor, AVolumeMonitorSeesTheFleetsCallsNotOneNodes) {
  auto a = start("gw-a", "60s"), b = start("gw-b", "60s"), c = start("gw-c", "60s");
  for (Daemon* d : {a.get(), b.get(), c.get()}) {
    Client client = d->connect();
    for (int i = 0; i < 2; ++i) ASSERT_EQ(code(client.get(), "web"), "OK");
  }
  ASSERT_TRUE(eventually([&] { return actions(*a) == "1" && actions(*b) == "1" && actions(*c) == "1"; }, 5000))
      << a->log() << b->log() << c->log();
  for (Daemon* d : {a.get(), b.get(), c.get()}) {
    Client client = d->connect();
    EXPECT_EQ(code(client.get(), "web"), "CHANNEL");
    EXPECT_EQ(code(client.get(), "batch"), "OK");
  }
  EXPECT_EQ(fields(a->connect_admin().get(), {"CONTRACT", "live"})["action.0.reason"], "calls_hour 6 > 5");
  EXPECT_EQ(info_value(a->connect_admin().get(), "monitors", "monitor_firings"), 1);
  EXPECT_EQ(info_value(b->connect_admin().get(), "monitors", "monitor_firings"), 0);
  EXPECT_EQ(info_value(c->connect_admin().get(), "monitors", "monitor_firings"), 0);
  EXPECT_EQ(info_value(b->connect_admin().get(), "fleet", "fleet_monitor_leader"), 0);
  EXPECT_EQ(info_value(a->connect_admin().get(), "fleet", "fleet_monitor_leader"), 1);
}

// Verifies balance monitors on the fleet's balance: 1,000 credits bought
// (the lot reaches both nodes at start); 200 calls on gw-b only. gw-b's own
// account falls to 800 (below 900) but gw-b is not the leader: it never
// fires. gw-a's own account still shows 1,000, yet it fires on the fleet's
// balance (what the global pool has left, read with the monitor counts).
TEST_F(FleetMonitor, ABalanceMonitorSeesTheFleetsBalanceOnTheLeaderOnly) {
  {
    Daemon first(priced_config("gw-a"), storage_);
    ASSERT_TRUE(first.wait_ready()) << first.log();
    Reply rc = command(first.connect_admin().get(), {"RECHARGE", "paid", "1000", "pay-1"});
    ASSERT_TRUE(rc && rc->type == REDIS_REPLY_ARRAY) << first.log();
    ASSERT_EQ(first.stop(15), 0);
  }
  Daemon a(priced_config("gw-a"), storage_), b(priced_config("gw-b"), storage_);
  ASSERT_TRUE(a.wait_ready()) << a.log();
  ASSERT_TRUE(b.wait_ready()) << b.log();
  Client admin_a = a.connect_admin(), admin_b = b.connect_admin();
  Client cb = b.connect();
  // A call finding gw-b's lease short is denied BALANCE with a retry hint
  // of one refill while the pool still has credits: it is asked again.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(eventually(
        [&] {
          Reply r = command(cb.get(), {"CHECK", "paid"});
          return r && r->type == REDIS_REPLY_ARRAY && r->element[0]->integer == 1;
        },
        3000))
        << b.log();
  }
  ASSERT_TRUE(eventually([&] { return info_value(admin_a.get(), "monitors", "monitor_firings") == 1; }, 5000))
      << a.log();
  // The fleet's balance when it fired: 800 once gw-b reported all 200 (a tick may fall between two reports).
  const std::string detail = fired_detail(admin_a.get());
  const size_t at = detail.find("balance=");
  ASSERT_NE(at, std::string::npos) << detail;
  const long long fleet_balance = std::stoll(detail.substr(at + 8));
  EXPECT_GE(fleet_balance, 800) << detail;
  EXPECT_LT(fleet_balance, 900) << detail;
  EXPECT_EQ(fields(admin_a.get(), {"CONTRACT", "paid"})["balance"], "1000") << "gw-a's own account did not move";
  EXPECT_EQ(fields(admin_b.get(), {"CONTRACT", "paid"})["balance"], "800");
  EXPECT_EQ(info_value(admin_b.get(), "monitors", "monitor_firings"), 0) << "only the leader evaluates";
  EXPECT_EQ(fired_detail(admin_b.get()), "");
}

// Verifies new_subjects on the fleet's users: 100 distinct end users at
// each of three nodes (300 in all), and the first 50 of them also at a
// second node. No node alone sees more than 150 (< 250), so per node nothing
// fires; the union of the nodes' HLL registers in Redis (merged by the
// subject_registers script) holds 300 — not 350: a user seen on two nodes
// counts once — and the leader fires on it; the others never.
TEST_F(FleetMonitor, NewSubjectsCountTheFleetsDistinctUsersOnce) {
  Daemon a(subjects_config("gw-a"), storage_), b(subjects_config("gw-b"), storage_),
      c(subjects_config("gw-c"), storage_);
  Daemon* nodes[] = {&a, &b, &c};
  for (Daemon* d : nodes) ASSERT_TRUE(d->wait_ready()) << d->log();
  for (int n = 0; n < 3; ++n) {
    Client client = nodes[n]->connect();
    Client next = nodes[(n + 1) % 3]->connect();
    for (int u = 0; u < 100; ++u) {
      const std::string user = "user-" + std::to_string(n * 100 + u);
      Reply r = command(client.get(), {"CHECK", "people", "SUBJECT", user});
      ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->element[0]->integer == 1);
      if (u < 50) {
        ASSERT_EQ(command(next.get(), {"CHECK", "people", "SUBJECT", user})->element[0]->integer, 1);
      }
    }
  }
  Client admin_a = a.connect_admin();
  ASSERT_TRUE(eventually([&] { return info_value(admin_a.get(), "monitors", "monitor_firings") == 1; }, 5000))
      << a.log();
  const std::string detail = fired_detail(admin_a.get());
  const size_t at = detail.find("subjects_day ");
  ASSERT_NE(at, std::string::npos) << detail;
  const double fleet_users = std::stod(detail.substr(at + 13));
  EXPECT_GT(fleet_users, 250) << detail;
  EXPECT_LT(fleet_users, 325) << detail << " (300 distinct users; 350 would count the shared ones twice)";
  for (Daemon* d : {&b, &c}) {
    Client admin = d->connect_admin();
    EXPECT_EQ(info_value(admin.get(), "monitors", "monitor_firings"), 0) << "only the leader evaluates";
    EXPECT_LT(std::stod(fields(admin.get(), {"CONTRACT", "people"})["distinct_subjects_estimate"]), 250)
        << "no node alone crosses the threshold";
  }
}

}  // namespace
}  // namespace tollgate::testing
