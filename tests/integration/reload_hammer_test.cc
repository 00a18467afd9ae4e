// Live reload hammered end to end: a real tollgated with the embedded store
// checkpointing every millisecond, reloaded a few hundred times through the
// admin socket (RELOAD and `tollgate reload`) and SIGHUP while clients CHECK.
// Before reloads were serialized on the control thread, admin RELOADs crashed
// the daemon within about 80 (a checkpoint walking the distinct sets as the
// reload moved them), and a refused reload freed the running engine's sets.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

constexpr int64_t kDaily = 1'000'000'000;

std::string body(int distinct_cap, bool refused = false) {
  std::string text =
      "contracts:\n"
      "  acme:\n"
      "    limits:\n"
      "      - { name: daily, type: quota, limit: 1000000000, period: day }\n"
      "  users:\n"
      "    limits:\n"
      "      - { name: distinct, type: distinct_subjects, limit: " +
      std::to_string(distinct_cap) +
      ", period: day }\n"
      "      - { name: q, type: quota, limit: 1000000000, period: day }\n";
  // A later contract the old --check-config accepted and the old engine refused.
  if (refused)
    text += "  zzz:\n    limits:\n      - { name: d, type: distinct_subjects, limit: 16777217, period: day }\n";
  return text;
}

// The daemon's file with its contracts replaced, swapped in atomically.
void rewrite(const Daemon& d, const std::string& header, const std::string& contracts) {
  const std::string tmp = d.config_path() + ".tmp";
  std::ofstream(tmp) << header << contracts;
  std::filesystem::rename(tmp, d.config_path());
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string code(const Reply& r) {
  return r && r->type == REDIS_REPLY_ARRAY && r->elements > 1 ? r->element[1]->str : "?";
}

// Verifies 300 reloads (admin RELOAD, `tollgate reload` and SIGHUP in turn,
// a distinct cap alternating 20000/20001, every tenth file refused) with
// checkpoints every millisecond and two clients CHECKing with SUBJECT: the
// daemon stays up, every RELOAD is answered (OK, or the refusal with the
// file's line), and the quota counted every allowed call exactly once.
TEST(ReloadHammer, ThreeHundredReloadsThroughEveryPathWhileCheckpointing) {
  TempDir state;
  Daemon d(body(20000), EmbeddedStorage{state.file("var"), 1, ""});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  std::string header;
  {
    std::ifstream in(d.config_path());
    std::stringstream all;
    all << in.rdbuf();
    header = all.str().substr(0, all.str().find("contracts:"));
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> acme_allowed{0};
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> clients;
  // Stops and joins the clients however the test ends (an ASSERT returns early).
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } joiner{stop, clients};
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      Client c = d.connect();
      for (uint64_t n = 0; !stop.load(); ++n) {
        Reply a = command(c.get(), {"CHECK", "acme"});
        if (!a) return;  // the daemon is gone: the reload loop reports it
        (code(a) == "OK" ? acme_allowed : failures).fetch_add(1);
        const std::string subject = "s" + std::to_string((n * 2 + static_cast<uint64_t>(t)) % 10'000);
        if (code(command(c.get(), {"CHECK", "users", "SUBJECT", subject})) != "OK") failures.fetch_add(1);
      }
    });
  }

  Client admin = d.connect_admin();
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const bool refuse = i % 10 == 9;
    rewrite(d, header, body(20000 + i % 2, refuse));
    switch (i % 3) {
      case 0: {
        Reply r = command(admin.get(), {"RELOAD"});
        ASSERT_TRUE(r) << "RELOAD " << i << " got no reply (daemon down?)\n" << d.log();
        if (refuse) {
          ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
          EXPECT_NE(std::string(r->str).find("tollgate.yaml:"), std::string::npos) << r->str;
          ++refused;
        } else {
          ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
        }
        break;
      }
      case 1: {
        std::string out;
        const int status = Daemon::run_tool(
            {TOLLGATE_CLI_PATH, "--socket", d.socket(), "--admin-socket", d.admin_socket(), "reload"}, out);
        EXPECT_EQ(status, refuse ? 2 : 0) << out;
        if (refuse) ++refused;
        break;
      }
      default: {
        const size_t before = count_of(d.log(), "config reloaded from") + count_of(d.log(), "reload rejected: ");
        ASSERT_EQ(::kill(d.pid(), SIGHUP), 0);
        // Handled on the daemon's control loop: poll its log, bounded.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        size_t after = before;
        while (after == before && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          const std::string log = d.log();
          after = count_of(log, "config reloaded from") + count_of(log, "reload rejected: ");
        }
        ASSERT_GT(after, before) << "SIGHUP " << i << " not handled\n" << d.log();
        if (refuse) ++refused;
        break;
      }
    }
    ASSERT_TRUE(d.running()) << "after reload " << i << "\n" << d.log();
  }
  stop = true;
  for (auto& c : clients) c.join();

  EXPECT_EQ(refused, 30);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(acme_allowed.load(), 0);
  Client c = d.connect();
  Reply peek = command(c.get(), {"PEEK", "acme", "COST", "0"});
  ASSERT_EQ(code(peek), "OK");
  EXPECT_EQ(peek->element[3]->integer, kDaily - acme_allowed.load());
  EXPECT_EQ(code(command(c.get(), {"CHECK", "users", "SUBJECT", "a-new-subject"})), "OK");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.log();
  EXPECT_EQ(d.log().find("runtime error"), std::string::npos) << d.log();  // UBSan, in a sanitizer build
}

}  // namespace
}  // namespace tollgate::testing
