// Scheduled contract changes end to end below the sockets: a config file
// with `changes:`, the engine the daemon builds from it (config_at(now)),
// decisions on both sides of each instant with a simulated clock, the control
// plane's rebuild (Reloader::apply_due_changes) and its EVENTS, reloads and
// restarts, the money ledger across a pricing change, and workers deciding
// while the switch happens (run under TSan).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "config/contract_changes.h"
#include "config/units.h"
#include "control/engine_options.h"
#include "control/reloader.h"
#include "engine/engine.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

Nanos at(std::string_view text) { return *parse_instant(text); }

const Nanos kT = at("2027-01-01T12:00:00Z");  // the first change's instant in most tests
const Nanos kT2 = at("2027-01-01T18:00:00Z");

// A config file in a fresh directory; the engine built from it at `now` as
// the daemon builds it, and a Reloader over that engine.
class Scheduled {
 public:
  Scheduled(const std::string& text, Nanos now) {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/tollgate-sched-XXXXXX";
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/tollgate.yaml";
    write(text);
    start(now);
  }
  ~Scheduled() {
    reloader_.reset();
    std::filesystem::remove_all(dir_);
  }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  // A (re)start: fresh state, the engine of the file's terms at `now`.
  void start(Nanos now) {
    reloader_.reset();
    state_ = std::make_unique<RuntimeState>();
    auto config = load_config_file(path_);
    ASSERT_TRUE(config.has_value()) << config.error().front().to_string();
    auto engine =
        Engine::create(engine_options_from(config_at(*config, now - kScheduleHistory), 1), reclaimer_, now, *state_);
    ASSERT_TRUE(engine.has_value()) << engine.error().front();
    reloader_ = std::make_unique<Reloader>(path_, *config, std::move(*engine), reclaimer_, *state_, 1);
  }
  Engine& engine() { return reloader_->current(); }
  Reloader& reloader() { return *reloader_; }
  RuntimeState& state() { return *state_; }
  Reclaimer& reclaimer() { return reclaimer_; }

  Decision check(Nanos now, std::string_view channel = {}, int64_t hold_ms = -1, std::string_view id = {}) {
    CheckRequest r;
    r.key = "acme";
    r.channel = channel;
    r.hold_ms = hold_ms;
    r.id = id;
    return engine().check(r, now, 0);
  }
  Decision peek(Nanos now, std::string_view channel = {}) {
    CheckRequest r;
    r.key = "acme";
    r.channel = channel;
    return engine().peek(r, now);
  }
  std::vector<Event> changes() {
    std::vector<Event> out;
    for (auto& e : state_->events(0))
      if (e.kind == "change") out.push_back(e);
    return out;
  }

 private:
  std::string dir_, path_;
  Reclaimer reclaimer_;
  std::unique_ptr<RuntimeState> state_;
  std::unique_ptr<Reloader> reloader_;
};

std::string contract(const std::string& body) {
  return "storage:\n  mode: memory\n"
         "pricing:\n"
         "  standard:\n    - { prepay_from: 0, unit_price: 10 }\n"
         "  discount:\n    - { prepay_from: 0, unit_price: 5 }\n"
         "contracts:\n  acme:\n" + body;
}

// Verifies the terms switch exactly at the instant, before any control-plane
// tick: 1 ns before it the old quota denies, at it the new one allows, and
// the units used under the old terms still count (same limit: kept, as a
// reload keeps them).
TEST(ScheduledChanges, SwitchExactlyAtTheInstant) {
  Scheduled s(contract("    limits:\n"
                       "      - { name: daily, type: quota, limit: 2, period: day }\n"
                       "    changes:\n"
                       "      - at: 2027-01-01T12:00:00Z\n"
                       "        limits:\n"
                       "          - { name: daily, type: quota, limit: 4, period: day }\n"),
              kT - kNanosPerSecond);
  EXPECT_TRUE(s.check(kT - 2).allowed);
  EXPECT_TRUE(s.check(kT - 1).allowed);
  EXPECT_EQ(s.check(kT - 1).code, Code::kQuota);
  EXPECT_EQ(s.peek(kT - 1).code, Code::kQuota);
  EXPECT_TRUE(s.peek(kT).allowed);
  EXPECT_EQ(s.peek(kT).remaining, 1);  // 4 - 2 used - this one
  EXPECT_TRUE(s.check(kT).allowed);
  EXPECT_TRUE(s.check(kT).allowed);
  EXPECT_EQ(s.check(kT).code, Code::kQuota);
  EXPECT_TRUE(s.changes().empty());  // no rebuild yet: decisions did not wait for one
}

// Verifies a limit the change adds starts fresh and one it removes stops
// counting, exactly at the instant.
TEST(ScheduledChanges, AddedLimitStartsFreshRemovedLimitStops) {
  Scheduled s(contract("    limits:\n"
                       "      - { name: tight, type: token_bucket, rate: 1, per: 1d, burst: 1 }\n"
                       "    changes:\n"
                       "      - at: 2027-01-01T12:00:00Z\n"
                       "        limits:\n"
                       "          - { name: daily, type: quota, limit: 3, period: day }\n"),
              kT - kNanosPerSecond);
  EXPECT_TRUE(s.check(kT - 1).allowed);
  Decision denied = s.check(kT - 1);
  EXPECT_EQ(denied.code, Code::kRate);
  EXPECT_EQ(denied.limit, "tight");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.check(kT).allowed) << i;
  Decision quota = s.check(kT);
  EXPECT_EQ(quota.code, Code::kQuota);
  EXPECT_EQ(quota.limit, "daily");
}

// Verifies several changes apply in order, each at its instant: suspended,
// then active again with a narrower channel list; and an admin override
// outranks the schedule as it outranks a reload.
TEST(ScheduledChanges, SuspendedAndBackInOrder) {
  Scheduled s(contract("    channels: [web, app]\n"
                       "    changes:\n"
                       "      - { at: 2027-01-01T12:00:00Z, status: suspended }\n"
                       "      - { at: 2027-01-01T18:00:00Z, status: active, channels: [web] }\n"),
              kT - kNanosPerSecond);
  EXPECT_TRUE(s.check(kT - 1, "app").allowed);
  EXPECT_EQ(s.check(kT, "app").code, Code::kSuspended);
  EXPECT_EQ(s.check(kT2 - 1, "web").code, Code::kSuspended);
  EXPECT_EQ(s.peek(kT2 - 1, "web").code, Code::kSuspended);
  EXPECT_TRUE(s.check(kT2, "web").allowed);
  EXPECT_EQ(s.check(kT2, "app").code, Code::kChannel);
  // An admin RESUME in force: the scheduled suspension does not apply.
  s.state().contract("acme").override_status(ContractStatus::kActive, "");
  EXPECT_TRUE(s.check(kT, "app").allowed);
}

// Verifies the control plane's rebuild: nothing before the instant; after it
// one rebuild, one `change` EVENTS entry per change now in effect (at its
// instant, saying what changed), counters carried over as by a reload, and
// the next change still pending and still exact.
TEST(ScheduledChanges, ControlPlaneRebuildAnnouncesEachChangeOnce) {
  Scheduled s(contract("    limits:\n"
                       "      - { name: daily, type: quota, limit: 2, period: day }\n"
                       "    changes:\n"
                       "      - at: 2027-01-01T12:00:00Z\n"
                       "        limits:\n"
                       "          - { name: daily, type: quota, limit: 4, period: day }\n"
                       "      - { at: 2027-01-01T18:00:00Z, status: suspended }\n"),
              kT - kNanosPerSecond);
  EXPECT_TRUE(s.check(kT - 1).allowed);
  Engine* before = &s.engine();
  EXPECT_EQ(before->next_change_at(), kT);
  EXPECT_FALSE(s.reloader().apply_due_changes(kT - 1));
  EXPECT_EQ(&s.engine(), before);
  EXPECT_TRUE(s.reloader().apply_due_changes(kT + kNanosPerSecond));
  EXPECT_NE(&s.engine(), before);
  EXPECT_EQ(s.engine().next_change_at(), kT2);
  EXPECT_FALSE(s.reloader().apply_due_changes(kT + 2 * kNanosPerSecond));
  auto events = s.changes();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].contract, "acme");
  EXPECT_EQ(events[0].time_ms, kT / kNanosPerMilli);
  EXPECT_EQ(events[0].detail, "at 2027-01-01T12:00:00Z: limits [daily]");
  EXPECT_EQ(s.peek(kT + 3 * kNanosPerSecond).remaining, 2);  // 4 - 1 used - this one
  EXPECT_EQ(s.check(kT2).code, Code::kSuspended);           // the rebuilt engine keeps the rest exact
  s.reclaimer().collect();
  EXPECT_TRUE(s.reloader().apply_due_changes(kT2));
  EXPECT_EQ(s.changes().size(), 2u);
  EXPECT_EQ(s.engine().next_change_at(), INT64_MAX);
  EXPECT_EQ(s.check(kT2).code, Code::kSuspended);
}

// Verifies a restart takes the terms in force at its `now` (changes already
// past are in effect, and not announced again), and a reload replaces the
// schedule with the file's: its terms at now, its pending changes.
TEST(ScheduledChanges, RestartAndReloadTakeTheTermsAtNow) {
  const std::string first = contract("    changes:\n"
                                     "      - { at: 2027-01-01T12:00:00Z, status: suspended }\n"
                                     "      - { at: 2027-01-01T18:00:00Z, status: active }\n");
  Scheduled s(first, kT + kNanosPerSecond);  // started after the first change
  EXPECT_EQ(s.check(kT + kNanosPerSecond).code, Code::kSuspended);
  EXPECT_EQ(s.engine().next_change_at(), kT2);
  EXPECT_FALSE(s.reloader().apply_due_changes(kT + kNanosPerSecond));
  EXPECT_TRUE(s.changes().empty());

  // The new file moves the resumption two hours earlier: in force at once.
  s.write(contract("    changes:\n"
                   "      - { at: 2027-01-01T12:00:00Z, status: suspended }\n"
                   "      - { at: 2027-01-01T16:00:00Z, status: active }\n"
                   "      - { at: 2027-01-02T00:00:00Z, status: terminated }\n"));
  const Nanos reload_at = at("2027-01-01T17:00:00Z");
  ASSERT_TRUE(s.reloader().reload(reload_at).ok);
  EXPECT_TRUE(s.check(reload_at).allowed);
  EXPECT_EQ(s.engine().next_change_at(), at("2027-01-02T00:00:00Z"));
  EXPECT_EQ(s.check(at("2027-01-02T00:00:00Z")).code, Code::kTerminated);
  EXPECT_TRUE(s.changes().empty());

  s.start(at("2027-01-03T00:00:00Z"));  // a restart after every change
  EXPECT_EQ(s.check(at("2027-01-03T00:00:00Z")).code, Code::kTerminated);
  EXPECT_EQ(s.engine().next_change_at(), INT64_MAX);
}

// Verifies a local `at:` in Europe/Berlin inside the spring-forward gap
// (02:30 does not exist on 2027-03-28) takes effect at the jump, 01:00Z.
TEST(ScheduledChanges, LocalInstantAcrossDaylightSaving) {
  Scheduled s(contract("    timezone: Europe/Berlin\n"
                       "    changes:\n"
                       "      - { at: 2027-03-28T02:30:00, status: suspended }\n"),
              at("2027-03-28T00:00:00Z"));
  const Nanos jump = at("2027-03-28T01:00:00Z");
  EXPECT_EQ(s.engine().next_change_at(), jump);
  EXPECT_TRUE(s.check(jump - 1).allowed);
  EXPECT_EQ(s.check(jump).code, Code::kSuspended);
}

// Verifies a HOLD charged before the instant and cancelled after it gives
// its units back to the limits that charged it (the terms at its charge),
// not to whatever sits at the same position in the new terms.
TEST(ScheduledChanges, HoldAcrossTheInstantRefundsWhatItCharged) {
  Scheduled s(contract("    limits:\n"
                       "      - { name: daily, type: quota, limit: 2, period: day }\n"
                       "    changes:\n"
                       "      - at: 2027-01-01T12:00:00Z\n"
                       "        limits:\n"
                       "          - { name: hourly, type: quota, limit: 10, period: hour }\n"
                       "          - { name: daily, type: quota, limit: 3, period: day }\n"),
              kT - kNanosPerSecond);
  ASSERT_TRUE(s.check(kT - 1, {}, 60'000, "h1").allowed);
  ASSERT_TRUE(s.check(kT - 1).allowed);
  EXPECT_TRUE(s.engine().settle("acme", "h1", /*commit=*/false, kT + 1));
  // daily: 2 used - 1 refunded = 1 of 3; hourly untouched (10 of 10 left).
  Decision d = s.peek(kT + 1);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, "daily");
  EXPECT_EQ(d.remaining, 1);
}

// Verifies a pricing change: recharges before it buy at the old ladder,
// after the rebuild at the new one, calls spend the lots across it, and
// Σ ledger = balance after each step.
TEST(ScheduledChanges, PricingChangeKeepsTheLedgerInvariant) {
  Scheduled s(contract("    pricing: standard\n"
                       "    changes:\n"
                       "      - { at: 2027-01-01T12:00:00Z, pricing: discount }\n"),
              kT - kNanosPerSecond);
  RuntimeState& st = s.state();
  Account& account = *st.find("acme")->account();
  auto invariant = [&](Nanos now) {
    const FlushResult f = st.ledger().flush_debits(account, "acme", now);
    auto ok = check_invariant(st.ledger(), "acme", f.balance);
    EXPECT_TRUE(ok.has_value()) << ok.error();
    return f.balance;
  };
  auto first = apply_recharge(account, st.ledger(), nullptr, "acme", 100, kT - 10);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->credits, 10);  // unit price 10
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.check(kT - 5).allowed);
  EXPECT_EQ(invariant(kT - 4), 70);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.check(kT + i).allowed);
  EXPECT_EQ(invariant(kT + 4), 40);
  ASSERT_TRUE(s.reloader().apply_due_changes(kT + 5));
  auto second = apply_recharge(account, st.ledger(), nullptr, "acme", 100, kT + 6);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->credits, 20);  // unit price 5 from the instant's rebuild on
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.check(kT + 7).allowed);
  // 4 credits left of the first lot (10 each) ... the oldest lot is spent first.
  EXPECT_EQ(invariant(kT + 8), 40 + 100 - 4 * 10);
  EXPECT_EQ(account.credits(), 4 - 4 + 20);
}

// Verifies workers deciding while the instant passes and the control plane
// rebuilds: every decision with now < at sees the old terms and every one
// with now >= at the new ones, whichever engine the worker holds (its `now`
// lagging the rebuild's, as a batch's clock read may). Hammered by
// four threads inside Reclaimer sections (TSan: nothing the switch writes is
// read unsynchronized).
TEST(ScheduledChanges, WorkersDecideExactlyWhileTheSwitchHappens) {
  Scheduled s(contract("    channels: [web, app]\n"
                       "    changes:\n"
                       "      - { at: 2027-01-01T12:00:00Z, status: suspended }\n"
                       "      - { at: 2027-01-01T12:00:30Z, status: active, channels: [web] }\n"),
              kT - kNanosPerSecond);
  // Within kScheduleHistory of each other: a worker's `now` may lag the
  // control plane's by up to that much and still get exact terms.
  const Nanos resume = kT + 30 * kNanosPerSecond;
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<int64_t> decided{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      const int slot = s.reclaimer().register_reader();
      const Nanos instants[] = {kT - 1, kT, resume - 1, resume};
      for (uint64_t i = w; !stop.load(std::memory_order_relaxed) || i < 20'000; ++i) {
        const Nanos now = instants[i % 4];
        s.reclaimer().enter(slot);
        CheckRequest r;
        r.key = "acme";
        r.channel = "app";
        const Decision d = s.reloader().current().check(r, now, 0);
        s.reclaimer().exit(slot);
        const Code expected = now < kT ? Code::kOk : now < resume ? Code::kSuspended : Code::kChannel;
        if (d.code != expected) wrong.fetch_add(1, std::memory_order_relaxed);
        decided.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // The control plane: its ticks rebuild once each instant has passed.
  while (decided.load() < 2'000) std::this_thread::yield();
  EXPECT_TRUE(s.reloader().apply_due_changes(kT));
  while (decided.load() < 6'000) std::this_thread::yield();
  s.reclaimer().collect();
  EXPECT_TRUE(s.reloader().apply_due_changes(resume));
  while (decided.load() < 10'000) std::this_thread::yield();
  s.reclaimer().collect();
  stop = true;
  for (auto& t : workers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(s.changes().size(), 2u);
}

}  // namespace
}  // namespace tollgate
