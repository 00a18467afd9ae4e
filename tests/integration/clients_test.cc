// The Redis clients people use, against a real tollgated: redis-py (Debian
// python3-redis) with its default transactional pipeline, ioredis and
// node-redis 4/5 (RESP3) multi() from npm. The client scripts live in
// tests/clients/; a script exits 77 when its client is not installed, and
// the Node test is skipped when npm or its registry is unreachable.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

const std::string kConfig = R"(
contracts:
  partner:acme:
    limits:
      - { name: daily, type: quota, limit: 2, period: day }
      - { name: trial, type: quota, limit: 1, period: day, shadow: true }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 1, per: 1d, burst: 5 }
)";

// Runs `command` through the shell; returns its exit status, output in `out`.
int run(const std::string& command, std::string& out) {
  out.clear();
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

class ClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(kConfig, std::string("threads: 2\n  requirepass: ") + kPassword);
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  // INFO's unknown_commands, read over an authenticated connection.
  std::string unknown_commands() {
    Client c = daemon_->connect();
    command(c.get(), {"AUTH", kPassword});
    Reply info = command(c.get(), {"INFO", "stats"});
    const std::string text = info ? info->str : "";
    const size_t at = text.find("unknown_commands:");
    return at == std::string::npos ? "?" : text.substr(at + 17, text.find('\r', at) - at - 17);
  }
  std::unique_ptr<Daemon> daemon_;
};

// Verifies redis-py's default (transactional) pipeline of CHECKs is all-or-nothing, AUTH, INFO parsing of escaped
// contract keys, SELECT/CONFIG GET/CLIENT — and that nothing it sent was unknown.
TEST_F(ClientsTest, RedisPy) {
  std::string out;
  const int rc = run("/usr/bin/python3 " + quoted(std::string(TOLLGATE_SOURCE_DIR) + "/tests/clients/redis_py_test.py") +
                         " " + quoted(daemon_->socket()) + " " + quoted(kPassword),
                     out);
  if (rc == 77) GTEST_SKIP() << out;
  EXPECT_EQ(rc, 0) << out << daemon_->log();
  EXPECT_EQ(unknown_commands(), "0");
}

// Verifies ioredis 5 and node-redis 4 and 5 (RESP 3) multi() against tollgate. Installs the clients from npm into
// the build tree once (later runs reuse them); skipped when npm or the registry is unreachable.
TEST_F(ClientsTest, NodeClients) {
  std::string out;
  if (run("command -v node && command -v npm", out) != 0) GTEST_SKIP() << "node or npm is not installed";
  const std::string prefix = std::string(TOLLGATE_BINARY_DIR) + "/node-clients";
  const std::string modules = prefix + "/node_modules";
  if (!std::filesystem::exists(modules + "/redis5/package.json") || !std::filesystem::exists(modules + "/ioredis") ||
      !std::filesystem::exists(modules + "/redis4")) {
    // One quick retry: an unreachable registry fails in about a second, not npm's default minutes.
    const int rc = run("timeout 120 npm install --no-audit --no-fund --loglevel=error --fetch-retries=1 "
                       "--fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=2000 --fetch-timeout=30000 --prefix " +
                           quoted(prefix) + " ioredis@5 redis4@npm:redis@4 redis5@npm:redis@5",
                       out);
    if (rc != 0) GTEST_SKIP() << "npm install failed (registry unreachable?), Node clients not tested:\n" << out;
  }
  const int rc = run("timeout 60 node " + quoted(std::string(TOLLGATE_SOURCE_DIR) + "/tests/clients/node_clients_test.mjs") +
                         " " + quoted(daemon_->socket()) + " " + quoted(kPassword) + " " + quoted(modules),
                     out);
  if (rc == 77) GTEST_SKIP() << out;
  EXPECT_EQ(rc, 0) << out << daemon_->log();
  EXPECT_EQ(unknown_commands(), "0");
}

}  // namespace
}  // namespace tollgate::testing
