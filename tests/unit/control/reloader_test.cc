// The Reloader: every reload, SIGHUP or admin RELOAD, runs on the control
// thread, one at a time with the checkpoints, snapshots and sweeps that read
// the engine's state there. Hammered with CHECK load on worker threads; meant
// for the ASan and TSan builds as much as the release one.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "control/engine_options.h"
#include "control/reloader.h"
#include "config/config_loader.h"
#include "control/contract_admin.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"
#include "unit/persist/files/store_test_util.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;
constexpr int kWorkers = 2;

// Two valid configs that differ in a distinct_subjects cap (a reload that
// replaces the subject set the checkpoint drains) and in whether contract
// `paid` has a price ladder (the first reload that gives it one creates its
// account while workers read it), and one that is refused.
std::string config_text(const std::string& state_dir, int distinct_cap, bool broken = false) {
  const bool priced = distinct_cap % 2 == 1;
  std::string text = "storage:\n  mode: embedded\n  dir: " + state_dir + "\n  checkpoint_ms: 1\n" +
                     "pricing:\n  standard:\n    - { prepay_from: 0, unit_price: 100 }\n" +
                     "contracts:\n"
                     "  paid:\n" +
                     (priced ? "    pricing: standard\n" : "") +
                     "    limits:\n"
                     "      - { name: daily, type: quota, limit: 1000000000, period: day }\n"
                     "  acme:\n"
                     "    limits:\n"
                     "      - { name: daily, type: quota, limit: 1000000000, period: day }\n"
                     "  users:\n"
                     "    limits:\n"
                     "      - { name: distinct, type: distinct_subjects, limit: " +
                     std::to_string(distinct_cap) + ", period: day }\n" +
                     "      - { name: q, type: quota, limit: 1000000000, period: day }\n";
  if (broken)
    text += "  zzz:\n    limits:\n      - { name: d, type: distinct_subjects, limit: 16777217, period: day }\n";
  text += "key_classes:\n  - match: \"ip:*\"\n    limits:\n"
          "      - { name: ip, type: quota, limit: 1000000000, period: day }\n";
  return text;
}

// Replaces the file atomically (as an editor should; see README "Live reload").
void write_config(const std::string& path, const std::string& text, const std::string& writer) {
  const std::string tmp = path + "." + writer + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, path);
}

// The daemon's control plane in miniature: a libuv loop on its own thread
// running checkpoints (and now and then a snapshot), the eviction sweep with
// reclaimer.collect(), SIGHUP → reload(), and the Reloader's request handle,
// as control/control_plane.cc runs them.
class ControlThread {
 public:
  ControlThread(Reloader& reloader, persist::EmbeddedStore& store, Reclaimer& reclaimer, const Clock& clock)
      : reloader_(reloader), store_(store), reclaimer_(reclaimer), clock_(clock) {
    std::atomic<bool> started{false};
    thread_ = std::thread([this, &started] {
      uv_loop_init(&loop_);
      reloader_.start(&loop_, clock_);
      uv_timer_init(&loop_, &checkpoint_);
      checkpoint_.data = this;
      uv_timer_start(&checkpoint_, on_checkpoint, 1, 1);
      uv_timer_init(&loop_, &sweep_);
      sweep_.data = this;
      uv_timer_start(&sweep_, on_sweep, 1, 1);
      uv_signal_init(&loop_, &hup_);
      hup_.data = this;
      uv_signal_start(&hup_, on_hup, SIGHUP);
      uv_async_init(&loop_, &stop_, on_stop);
      stop_.data = this;
      started = true;
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    });
    while (!started) std::this_thread::yield();
  }
  ~ControlThread() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_);
    thread_.join();
  }
  uint64_t checkpoints() const { return checkpoints_.load(); }
  uint64_t checkpoint_failures() const { return checkpoint_failures_.load(); }

 private:
  static void on_checkpoint(uv_timer_t* timer) {
    auto* self = static_cast<ControlThread*>(timer->data);
    const bool snapshot = ++self->ticks_ % 64 == 0;
    bool ok = snapshot ? self->store_.snapshot(self->clock_.now()).has_value()
                       : self->store_.checkpoint(self->clock_.now()).has_value();
    (ok ? self->checkpoints_ : self->checkpoint_failures_).fetch_add(1);
  }
  static void on_sweep(uv_timer_t* timer) {
    auto* self = static_cast<ControlThread*>(timer->data);
    self->reloader_.current().sweep(self->clock_.now(), 1 << 16);
    self->reclaimer_.collect();
  }
  static void on_hup(uv_signal_t* handle, int) {
    auto* self = static_cast<ControlThread*>(handle->data);
    self->reloader_.reload(self->clock_.now());
  }
  static void on_stop(uv_async_t* handle) {
    auto* self = static_cast<ControlThread*>(handle->data);
    self->reloader_.close();
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&self->checkpoint_), reinterpret_cast<uv_handle_t*>(&self->sweep_),
          reinterpret_cast<uv_handle_t*>(&self->hup_), reinterpret_cast<uv_handle_t*>(&self->stop_)})
      uv_close(h, nullptr);
  }

  Reloader& reloader_;
  persist::EmbeddedStore& store_;
  Reclaimer& reclaimer_;
  const Clock& clock_;
  uv_loop_t loop_{};
  uv_timer_t checkpoint_{}, sweep_{};
  uv_signal_t hup_{};
  uv_async_t stop_{};
  uint64_t ticks_ = 0;
  std::atomic<uint64_t> checkpoints_{0}, checkpoint_failures_{0};
  std::thread thread_;
};

// One daemon's worth of objects over a temp dir, in the daemon's order.
struct Daemon {
  explicit Daemon(const std::string& dir) : config_path(dir + "/tollgate.yaml"), state_dir(dir + "/state") {
    std::filesystem::create_directories(state_dir);
    write_config(config_path, config_text(state_dir, 20000), "init");
    auto config = load_config_file(config_path);
    EXPECT_TRUE(config.has_value());
    auto engine = Engine::create(engine_options_from(*config, kWorkers), reclaimer, clock.now(), state);
    EXPECT_TRUE(engine.has_value());
    reloader = std::make_unique<Reloader>(config_path, *config, std::move(*engine), reclaimer, state, kWorkers);
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return reloader->current(); }, state);
    persist::EmbeddedStoreOptions so;
    so.dir = state_dir;
    so.clock = &clock;
    store = std::make_unique<persist::EmbeddedStore>(so, state,
                                                     [this]() -> Engine& { return reloader->current(); });
    auto recovered = store->recover(clock.now());
    EXPECT_TRUE(recovered.has_value()) << recovered.error();
    admin->set_durability(store.get());
  }

  std::string config_path;
  std::string state_dir;
  ManualClock clock{kStart};  // never advanced: readable from any thread
  Reclaimer reclaimer{16};
  RuntimeState state;
  std::unique_ptr<Reloader> reloader;
  std::unique_ptr<ContractAdmin> admin;
  std::unique_ptr<persist::EmbeddedStore> store;
};

// Verifies a few hundred reloads, half through request_reload() from an
// "admin" thread and half through SIGHUP, alternating a distinct_subjects cap
// (and now and then a refused file), run one at a time on the control thread
// while it checkpoints and snapshots every millisecond and workers CHECK with
// SUBJECT: no crash, no sanitizer report, every reload answered, and the
// quota counts stay exact (the reloads change no counter's layout).
TEST(Reloader, HammeredThroughBothPathsWhileCheckpointing) {
  files::testing::TempDir dir;
  Daemon d(dir.path());
  ControlThread control(*d.reloader, *d.store, d.reclaimer, d.clock);

  std::atomic<bool> stop_load{false};
  std::atomic<int64_t> acme_allowed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kWorkers; ++t) {
    workers.emplace_back([&, t] {
      const int slot = d.reclaimer.register_reader();
      uint64_t n = 0;
      while (!stop_load.load()) {
        ReadGuard guard(d.reclaimer, slot);
        Engine& engine = d.reloader->current();
        for (int i = 0; i < 16; ++i, ++n) {
          CheckRequest acme;
          acme.key = "acme";
          if (engine.check(acme, d.clock.now(), t).allowed) acme_allowed.fetch_add(1);
          // 10,000 subjects, below the cap: a new subject is always admitted.
          const std::string subject = "s" + std::to_string((n * 7 + static_cast<uint64_t>(t)) % 10'000);
          CheckRequest users;
          users.key = "users";
          users.subject = subject;
          (void)engine.check(users, d.clock.now(), t);
          CheckRequest paid;
          paid.key = "paid";
          (void)engine.check(paid, d.clock.now(), t);  // OK unpriced, BALANCE once priced
          const std::string ip = "ip:" + std::to_string(n % 64);
          CheckRequest dynamic;
          dynamic.key = ip;
          (void)engine.check(dynamic, d.clock.now(), t);
        }
      }
    });
  }

  constexpr int kPerPath = 150;
  std::atomic<int> admin_ok{0}, admin_rejected{0};
  std::thread admin([&] {
    for (int i = 0; i < kPerPath; ++i) {
      const bool broken = i % 10 == 9;
      write_config(d.config_path, config_text(d.state_dir, 20000 + i % 2, broken), "admin");
      ReloadResult r = d.reloader->request_reload();
      (r.ok ? admin_ok : admin_rejected).fetch_add(1);
      if (!r.ok) {
        EXPECT_FALSE(r.errors.empty());
      }
    }
  });
  for (int i = 0; i < kPerPath; ++i) {
    write_config(d.config_path, config_text(d.state_dir, 20001 - i % 2), "hup");
    const uint64_t before = d.reloader->reloads() + d.reloader->rejected();
    ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
    // The signal is handled on the control loop: wait for it (bounded).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (d.reloader->reloads() + d.reloader->rejected() == before && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    ASSERT_GT(d.reloader->reloads() + d.reloader->rejected(), before) << "SIGHUP " << i << " was not handled";
  }
  admin.join();
  stop_load = true;
  for (auto& w : workers) w.join();
  control.stop();

  EXPECT_EQ(admin_ok + admin_rejected, kPerPath);
  EXPECT_GE(d.reloader->reloads() + d.reloader->rejected(), 2u * kPerPath);
  EXPECT_GT(d.reloader->reloads(), uint64_t{kPerPath});
  EXPECT_GT(control.checkpoints(), 0u);
  EXPECT_EQ(control.checkpoint_failures(), 0u);

  // The running engine is whole: its subject set is there and counts, and
  // the quota charged exactly once per allowed call through every reload.
  Engine& engine = d.reloader->current();
  int sets = 0;
  engine.for_each_distinct_set([&](const std::string& contract, const std::string& limit, DistinctSubjects& set) {
    ++sets;
    EXPECT_EQ(contract, "users");
    EXPECT_EQ(limit, "distinct");
    EXPECT_GE(set.count(d.clock.now()), 0);
  });
  EXPECT_EQ(sets, 1);
  CheckRequest peek;
  peek.key = "acme";
  peek.cost = 0;
  EXPECT_EQ(engine.peek(peek, d.clock.now()).remaining, 1'000'000'000 - acme_allowed.load());
  CheckRequest fresh;
  fresh.key = "users";
  fresh.subject = "a-new-subject";
  EXPECT_TRUE(engine.check(fresh, d.clock.now(), 0).allowed);
}

// Verifies a request made after close() (the daemon is stopping) is refused
// at once instead of waiting for a loop that no longer serves it.
TEST(Reloader, RequestAfterCloseIsRefused) {
  files::testing::TempDir dir;
  Daemon d(dir.path());
  {
    ControlThread control(*d.reloader, *d.store, d.reclaimer, d.clock);
    ReloadResult served;
    std::thread admin([&] { served = d.reloader->request_reload(); });
    admin.join();
    EXPECT_TRUE(served.ok) << (served.errors.empty() ? "" : served.errors.front());
    control.stop();
  }
  ReloadResult refused;
  std::thread admin([&] { refused = d.reloader->request_reload(); });
  admin.join();
  EXPECT_FALSE(refused.ok);
  ASSERT_FALSE(refused.errors.empty());
  EXPECT_NE(refused.errors.front().find("shutting down"), std::string::npos);
}

}  // namespace
}  // namespace tollgate
