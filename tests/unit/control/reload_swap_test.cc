// The Reloader's swap (control/reloader.h): a reload that succeeds publishes
// the new engine through its subscribers, after current() has switched; a
// rejected one leaves the running engine in force and publishes nothing.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "control/engine_options.h"
#include "control/reloader.h"
#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

std::string config_text(int64_t daily) {
  return "storage:\n  mode: memory\n"
         "contracts:\n"
         "  acme:\n"
         "    limits:\n"
         "      - { name: daily, type: quota, limit: " +
         std::to_string(daily) + ", period: day }\n";
}

// A config file in a fresh directory, and a Reloader over the engine it
// builds, with a subscriber that records what it is handed.
struct Fixture {
  Fixture() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/tollgate-reload-XXXXXX";
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
    path = dir + "/tollgate.yaml";
    write(config_text(5));
    auto config = load_config_file(path);
    EXPECT_TRUE(config.has_value());
    auto engine = Engine::create(engine_options_from(*config, 1), reclaimer, kStart, state);
    EXPECT_TRUE(engine.has_value());
    reloader = std::make_unique<Reloader>(path, *config, std::move(*engine), reclaimer, state, 1);
    reloader->add_subscriber([this](Engine* fresh) {
      published.push_back(fresh);
      current_when_published.push_back(&reloader->current());
    });
  }
  ~Fixture() {
    reloader.reset();
    std::filesystem::remove_all(dir);
  }
  void write(const std::string& text) { std::ofstream(path) << text; }
  int64_t remaining(Engine& engine) {
    CheckRequest r;
    r.key = "acme";
    return engine.peek(r, kStart).remaining;
  }

  std::string dir;
  std::string path;
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Reloader> reloader;
  std::vector<Engine*> published;
  std::vector<Engine*> current_when_published;
};

// Verifies a reload that succeeds builds a new engine from the new file,
// switches current() to it and then hands it to every subscriber, once.
TEST(ReloadSwap, AcceptedReloadPublishesTheNewEngine) {
  Fixture f;
  Engine* before = &f.reloader->current();
  EXPECT_EQ(f.remaining(*before), 4);
  int second_subscriber_calls = 0;
  Engine* second_got = nullptr;
  f.reloader->add_subscriber([&](Engine* fresh) {
    ++second_subscriber_calls;
    second_got = fresh;
  });
  f.write(config_text(50));
  ReloadResult r = f.reloader->reload(kStart);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.changes.empty());
  ASSERT_EQ(f.published.size(), 1u);
  Engine* after = &f.reloader->current();
  EXPECT_NE(after, before);
  EXPECT_EQ(f.published[0], after);
  EXPECT_EQ(f.current_when_published[0], after) << "subscribers run after current() switched";
  EXPECT_EQ(second_subscriber_calls, 1);
  EXPECT_EQ(second_got, after);
  EXPECT_EQ(f.remaining(*after), 49);  // the new file's limit
  EXPECT_EQ(f.reloader->reloads(), 1u);
  EXPECT_EQ(f.reloader->rejected(), 0u);
}

// Verifies a rejected reload (a file that does not load, then one whose
// engine does not compile) keeps the running engine, publishes nothing and
// says why; the next good file is published as usual.
TEST(ReloadSwap, RejectedReloadKeepsTheRunningEngineAndPublishesNothing) {
  Fixture f;
  Engine* before = &f.reloader->current();
  f.write("contracts: [this is not a map\n");
  ReloadResult bad_yaml = f.reloader->reload(kStart);
  EXPECT_FALSE(bad_yaml.ok);
  EXPECT_FALSE(bad_yaml.errors.empty());
  f.write(config_text(-3));
  ReloadResult bad_limit = f.reloader->reload(kStart);
  EXPECT_FALSE(bad_limit.ok);
  EXPECT_FALSE(bad_limit.errors.empty());
  EXPECT_TRUE(f.published.empty());
  EXPECT_EQ(&f.reloader->current(), before);
  EXPECT_EQ(f.remaining(*before), 4);
  EXPECT_EQ(f.reloader->rejected(), 2u);
  EXPECT_EQ(f.reloader->reloads(), 0u);

  f.write(config_text(7));
  ASSERT_TRUE(f.reloader->reload(kStart).ok);
  ASSERT_EQ(f.published.size(), 1u);
  EXPECT_EQ(f.remaining(*f.published[0]), 6);
}

// Verifies the engine a reload retires is freed through the reclaimer only
// (the subscriber's engine stays valid while a reader may hold the old one):
// the retired engine is pending until collected.
TEST(ReloadSwap, TheOldEngineIsRetiredNotFreed) {
  Fixture f;
  f.write(config_text(9));
  const size_t pending_before = f.reclaimer.pending();
  ASSERT_TRUE(f.reloader->reload(kStart).ok);
  EXPECT_EQ(f.reclaimer.pending(), pending_before + 1);
  f.reclaimer.collect();
  EXPECT_EQ(f.reclaimer.pending(), pending_before);
}

}  // namespace
}  // namespace tollgate
