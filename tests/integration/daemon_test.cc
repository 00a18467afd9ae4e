// End-to-end tests against a real tollgated process.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "integration/daemon_harness.h"
#include "net/unix_socket.h"

namespace tollgate::testing {
namespace {

// Refill so slow (1 per day) that wall time passing during a test cannot matter.
const std::string kConfig = R"(
timezone: Asia/Shanghai
unknown_keys: deny
contracts:
  acme:
    limits:
      - { name: burst, type: token_bucket, rate: 1, per: 1d, burst: 5 }
      - { name: daily, type: quota, limit: 3, period: day }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 1, per: 1d, burst: 3 }
  - match: "hot:*"
    limits:
      - { name: hot, type: token_bucket, rate: 1, per: 1d, burst: 1000 }
)";

void expect_decision(const Reply& r, int allowed, const std::string& code, const std::string& limit,
                     long long remaining) {
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
  ASSERT_EQ(r->elements, 7u);
  EXPECT_EQ(r->element[0]->integer, allowed);
  EXPECT_EQ(r->element[1]->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(r->element[1]->str), code);
  EXPECT_EQ(r->element[2]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(r->element[2]->str, r->element[2]->len), limit);
  EXPECT_EQ(r->element[3]->integer, remaining);
  EXPECT_EQ(r->element[6]->integer, -1);  // no prepaid pricing
}

// Reads from fd until `count` complete CRLF-terminated top-level replies of
// simple kinds (+, -, :) have arrived or EOF. Returns the bytes read.
std::string read_until(int fd, size_t min_bytes) {
  std::string got;
  char buf[65536];
  while (got.size() < min_bytes) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(kConfig);
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  std::unique_ptr<Daemon> daemon_;
};

// Verifies CHECK on a dynamic key allows `burst` calls, then denies RATE with a retry time.
TEST_F(DaemonTest, CheckDynamicKeyEndToEnd) {
  Client c = daemon_->connect();
  expect_decision(command(c.get(), {"CHECK", "ip:10.0.0.1"}), 1, "OK", "ip", 2);
  expect_decision(command(c.get(), {"CHECK", "ip:10.0.0.1"}), 1, "OK", "ip", 1);
  expect_decision(command(c.get(), {"check", "ip:10.0.0.1"}), 1, "OK", "ip", 0);
  Reply denied = command(c.get(), {"CHECK", "ip:10.0.0.1"});
  expect_decision(denied, 0, "RATE", "ip", 0);
  EXPECT_GT(denied->element[4]->integer, 0);  // retry_after_ms
  // Another key of the class has its own bucket.
  expect_decision(command(c.get(), {"CHECK", "ip:10.0.0.2"}), 1, "OK", "ip", 2);
}

// Verifies a contract's limits are charged all-or-nothing and the denial names the limit.
TEST_F(DaemonTest, ContractAllOrNothing) {
  Client c = daemon_->connect();
  expect_decision(command(c.get(), {"CHECK", "acme", "COST", "2"}), 1, "OK", "daily", 1);
  // COST 2 exceeds what the quota has left: denied QUOTA, and the bucket is not charged.
  expect_decision(command(c.get(), {"CHECK", "acme", "COST", "2"}), 0, "QUOTA", "daily", 1);
  expect_decision(command(c.get(), {"PEEK", "acme"}), 1, "OK", "daily", 0);
  expect_decision(command(c.get(), {"CHECK", "acme"}), 1, "OK", "daily", 0);
  // Bucket had 5, was charged 3: a COST above its burst is never possible (retry -1).
  Reply r = command(c.get(), {"CHECK", "acme", "COST", "6"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(r->element[0]->integer, 0);
  EXPECT_EQ(r->element[4]->integer, -1);
}

// Verifies unknown keys are denied UNKNOWN with retry -1, and PEEK creates nothing.
TEST_F(DaemonTest, UnknownAndPeek) {
  Client c = daemon_->connect();
  Reply r = command(c.get(), {"CHECK", "nobody"});
  expect_decision(r, 0, "UNKNOWN", "", 0);
  EXPECT_EQ(r->element[4]->integer, -1);
  expect_decision(command(c.get(), {"PEEK", "ip:9.9.9.9"}), 1, "OK", "ip", 2);
  expect_decision(command(c.get(), {"PEEK", "ip:9.9.9.9"}), 1, "OK", "ip", 2);
  Reply info = command(c.get(), {"INFO", "keyspace"});
  ASSERT_EQ(info->type, REDIS_REPLY_STRING);
  EXPECT_NE(std::string(info->str).find("dynamic_keys:0"), std::string::npos) << info->str;
}

// Verifies wrong commands get an error and the connection stays usable.
TEST_F(DaemonTest, ClientErrorsKeepConnection) {
  Client c = daemon_->connect();
  Reply r = command(c.get(), {"CHECK", "ip:1", "COLOR", "red"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(r->str).find("unknown option"), std::string::npos);
  r = command(c.get(), {"CHECK", "ip:1", "COST", "-1"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  r = command(c.get(), {"CHECK", "ip:1", "HOLD", "100"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(r->str).find("HOLD requires ID"), std::string::npos);
  r = command(c.get(), {"FLUSHALL"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  r = command(c.get(), {"CHECK"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  r = command(c.get(), {"PING"});
  ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
  EXPECT_STREQ(r->str, "PONG");
  // Options from later issues are accepted.
  r = command(c.get(), {"CHECK", "ip:2", "CHANNEL", "pc", "PURPOSE", "x", "SUBJECT", "u1", "ID", "r1", "WAIT", "0"});
  expect_decision(r, 1, "OK", "ip", 2);
}

// Verifies 1,000 pipelined commands sent in one write all get their replies, in order.
TEST_F(DaemonTest, ThousandPipelinedInOneWrite) {
  auto fd = connect_unix(daemon_->socket());
  ASSERT_TRUE(fd.has_value());
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += "*2\r\n$4\r\nECHO\r\n$4\r\n" + std::to_string(1000 + i) + "\r\n";
  ASSERT_EQ(::write(*fd, batch.data(), batch.size()), static_cast<ssize_t>(batch.size()));
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "$4\r\n" + std::to_string(1000 + i) + "\r\n";
  std::string got = read_until(*fd, expected.size());
  EXPECT_EQ(got, expected);
  ::close(*fd);
}

// Verifies a malformed frame gets an error and that connection closes, while others are served.
TEST_F(DaemonTest, MalformedFrameClosesOnlyThatConnection) {
  Client other = daemon_->connect();
  auto fd = connect_unix(daemon_->socket());
  ASSERT_TRUE(fd.has_value());
  std::string bad = "*1\r\n$abc\r\n";
  ASSERT_EQ(::write(*fd, bad.data(), bad.size()), static_cast<ssize_t>(bad.size()));
  std::string got = read_until(*fd, 1 << 20);  // until EOF
  EXPECT_TRUE(got.starts_with("-ERR Protocol error")) << got;
  ::close(*fd);
  Reply r = command(other.get(), {"PING"});
  ASSERT_TRUE(r);
  EXPECT_STREQ(r->str, "PONG");
}

// Verifies inline commands work (as typed in telnet/nc).
TEST_F(DaemonTest, InlineCommands) {
  auto fd = connect_unix(daemon_->socket());
  ASSERT_TRUE(fd.has_value());
  std::string cmd = "PING\r\nCHECK ip:7.7.7.7\r\n";
  ASSERT_EQ(::write(*fd, cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  std::string got = read_until(*fd, 7 + 43);
  EXPECT_TRUE(got.starts_with("+PONG\r\n*7\r\n:1\r\n+OK\r\n$2\r\nip\r\n:2\r\n:0\r\n")) << got;
  ::close(*fd);
}

// Verifies every worker hammering one key never over-admits: exactly burst allowed.
TEST_F(DaemonTest, ConcurrentHammerAllowsExactlyBurst) {
  constexpr int kThreads = 8, kPerThread = 400;  // 3,200 attempts on a burst of 1,000
  std::atomic<int> allowed{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Client c = daemon_->connect();
      for (int i = 0; i < kPerThread; ++i) redisAppendCommand(c.get(), "CHECK hot:one");
      for (int i = 0; i < kPerThread; ++i) {
        void* raw = nullptr;
        if (redisGetReply(c.get(), &raw) != REDIS_OK) {
          ++errors;
          return;
        }
        Reply r(static_cast<redisReply*>(raw));
        if (r->type != REDIS_REPLY_ARRAY) ++errors;
        else if (r->element[0]->integer == 1) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), 1000);
}

// Verifies INFO reports allowed/denied counts per code.
TEST_F(DaemonTest, InfoCountsDecisions) {
  Client c = daemon_->connect();
  for (int i = 0; i < 4; ++i) command(c.get(), {"CHECK", "ip:1.1.1.1"});
  command(c.get(), {"CHECK", "nobody"});
  Reply info = command(c.get(), {"INFO"});
  ASSERT_EQ(info->type, REDIS_REPLY_STRING);
  std::string text(info->str, info->len);
  EXPECT_NE(text.find("allowed:3\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("denied_rate:1\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("denied_unknown:1\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# Clients"), std::string::npos);
  // The readiness probe's connection may still be closing: at least this one.
  size_t at = text.find("connected_clients:");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_GE(std::stoll(text.substr(at + 18)), 1);
}

// Verifies HELLO 2 answers, an unknown protocol version is refused, CLIENT SETNAME/GETNAME round-trip, COMMAND COUNT.
TEST_F(DaemonTest, HandshakeCommands) {
  Client c = daemon_->connect();
  Reply r = command(c.get(), {"HELLO", "2"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  EXPECT_STREQ(r->element[1]->str, "tollgate");
  r = command(c.get(), {"HELLO", "4"});
  EXPECT_EQ(r->type, REDIS_REPLY_ERROR);  // NOPROTO (HELLO 3: tests/clients, hiredis 0.14 reads no RESP3)
  r = command(c.get(), {"CLIENT", "SETNAME", "gw-1"});
  EXPECT_STREQ(r->str, "OK");
  r = command(c.get(), {"CLIENT", "GETNAME"});
  EXPECT_STREQ(r->str, "gw-1");
  r = command(c.get(), {"COMMAND", "COUNT"});
  EXPECT_EQ(r->type, REDIS_REPLY_INTEGER);
  EXPECT_GE(r->integer, 9);
  r = command(c.get(), {"COMMAND", "DOCS"});
  EXPECT_EQ(r->type, REDIS_REPLY_ARRAY);
  r = command(c.get(), {"QUIT"});
  EXPECT_STREQ(r->str, "OK");
}

// Verifies redis-cli (the real one) gets the 7-element reply.
TEST_F(DaemonTest, RedisCliCheck) {
  std::string out;
  int rc = Daemon::run_tool({"redis-cli", "-s", daemon_->socket(), "CHECK", "ip:5.5.5.5"}, out);
  ASSERT_EQ(rc, 0) << out;
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(out.substr(start, end - start));
  ASSERT_EQ(lines.size(), 7u) << out;
  EXPECT_EQ(lines[0], "1");
  EXPECT_EQ(lines[1], "OK");
  EXPECT_EQ(lines[2], "ip");
  EXPECT_EQ(lines[3], "2");
  EXPECT_EQ(lines[4], "0");
  EXPECT_GT(std::stoll(lines[5]), 0);  // reset_after_ms: one unit to refill
  EXPECT_TRUE(out.ends_with("-1\n")) << out;
}

// Verifies SIGTERM stops the daemon with exit 0 and removes its socket file.
TEST_F(DaemonTest, SigtermShutdown) {
  Client c = daemon_->connect();
  ASSERT_TRUE(command(c.get(), {"PING"}));
  EXPECT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_FALSE(std::filesystem::exists(daemon_->socket()));
}

// Verifies a second daemon on a live socket refuses to start and says why.
TEST_F(DaemonTest, LiveSocketRefusesSecondDaemon) {
  std::string out;
  int rc = Daemon::run_tool({TOLLGATED_PATH, "--config", daemon_->config_path()}, out);
  EXPECT_EQ(rc, 1) << "a refused start-up exits 1 (not by a signal):\n" << out;
  EXPECT_NE(out.find("another daemon is already serving"), std::string::npos) << out;
  Client c = daemon_->connect();
  EXPECT_STREQ(command(c.get(), {"PING"})->str, "PONG");  // the first one is untouched
}

// Verifies a stale socket file (nobody listening) is replaced at start-up.
TEST(DaemonStartup, StaleSocketReplaced) {
  TempDir dir;
  std::string path = dir.file("tg.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);  // the file stays, nobody listens: stale
  ASSERT_TRUE(std::filesystem::exists(path));
  auto listener = listen_unix(path, 0600);
  ASSERT_TRUE(listener.has_value()) << listener.error();
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::close(*listener);
}

// Verifies a broken config makes start-up fail with file:line messages.
TEST(DaemonStartup, BadConfigRejected) {
  Daemon d("key_classes:\n  - match: \"ip:*\"\n    limits:\n      - { name: x, type: token_bucket, rate: 0, per: 1s }\n");
  EXPECT_FALSE(d.wait_ready(5000));
  EXPECT_EQ(d.stop(), 2);
  EXPECT_NE(d.log().find("tollgate.yaml:"), std::string::npos) << d.log();
}

// Verifies the configured bulk limit is enforced by the daemon (error, then close).
TEST(DaemonLimits, MaxBulkEnforced) {
  Daemon d(kConfig, "threads: 1\n  max_bulk: 1k");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  Reply r = command(c.get(), {"ECHO", std::string(2000, 'x')});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, REDIS_REPLY_ERROR);
  Client c2 = d.connect();
  EXPECT_STREQ(command(c2.get(), {"ECHO", std::string(1000, 'y')})->str, std::string(1000, 'y').c_str());
}

}  // namespace
}  // namespace tollgate::testing
