// End-to-end tests of what ops tune live: reload (RELOAD and SIGHUP, invalid
// files, under load), shadow limits, distinct subjects, redis-cell's CL.THROTTLE.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

const std::string kBefore = R"(
contracts:
  acme:
    limits:
      - { name: daily, type: quota, limit: 5, period: day }
      - { name: proposed, type: quota, limit: 2, period: day, shadow: true }
  users:
    limits:
      - { name: distinct, type: distinct_subjects, limit: 50, period: day }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: quota, limit: 1000000000, period: day }
)";

const std::string kAfter = R"(
contracts:
  acme:
    limits:
      - { name: daily, type: quota, limit: 4, period: day }
      - { name: proposed, type: quota, limit: 2, period: day, shadow: true }
  newcomer:
    limits:
      - { name: q, type: quota, limit: 1, period: day }
  users:
    limits:
      - { name: distinct, type: distinct_subjects, limit: 50, period: day }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: quota, limit: 1000000000, period: day }
)";

std::map<std::string, std::string> fields(const Reply& r) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
    out[r->element[i]->str] = r->element[i + 1]->str;
  return out;
}

std::string code(const Reply& r) { return r && r->type == REDIS_REPLY_ARRAY ? r->element[1]->str : "?"; }

// Verifies RELOAD keeps the counters of unchanged limits, applies new parameters and adds new contracts.
TEST(Reload, KeepsCountersAppliesChanges) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  Client admin = d.connect_admin();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(code(command(c.get(), {"CHECK", "acme"})), "OK");
  EXPECT_EQ(code(command(c.get(), {"CHECK", "newcomer"})), "UNKNOWN");
  d.rewrite_config(kAfter);
  Reply r = command(admin.get(), {"RELOAD"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
  std::string changes;
  for (size_t i = 0; i < r->elements; ++i) changes += std::string(r->element[i]->str) + "\n";
  EXPECT_NE(changes.find("newcomer"), std::string::npos) << changes;
  EXPECT_NE(changes.find("daily"), std::string::npos) << changes;
  Reply after = command(c.get(), {"CHECK", "acme"});  // used 3 of the new 4
  EXPECT_EQ(code(after), "OK");
  EXPECT_EQ(after->element[3]->integer, 0);
  EXPECT_EQ(code(command(c.get(), {"CHECK", "acme"})), "QUOTA");
  EXPECT_EQ(code(command(c.get(), {"CHECK", "newcomer"})), "OK");
}

// Verifies an invalid file is rejected as a whole with file:line reasons, and the old config keeps serving.
TEST(Reload, InvalidFileRejectedOldKeepsServing) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  Client admin = d.connect_admin();
  d.rewrite_config(kBefore + "  - match: \"x:*\"\n    limits:\n      - { name: bad, type: token_bucket, rate: 0, per: 1s }\n");
  Reply r = command(admin.get(), {"RELOAD"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(r->str).find("tollgate.yaml:"), std::string::npos) << r->str;
  EXPECT_EQ(code(command(c.get(), {"CHECK", "acme"})), "OK");
  EXPECT_NE(d.log().find("reload rejected"), std::string::npos);
}

// Verifies SIGHUP reloads the file too.
TEST(Reload, Sighup) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  d.rewrite_config(kAfter);
  ::kill(d.pid(), SIGHUP);
  std::string got;
  for (int i = 0; i < 500 && got != "OK"; ++i) {  // the signal is handled asynchronously: poll, bounded
    got = code(command(c.get(), {"CHECK", "newcomer"}));
    if (got != "OK") std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(got, "OK");
}

// Verifies 20 reloads under load from tollgate-load: no error replies, no dropped connections, counters kept.
TEST(Reload, TwentyReloadsUnderLoad) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client admin = d.connect_admin();
  Client c = d.connect();
  for (int i = 0; i < 3; ++i) command(c.get(), {"CHECK", "acme"});
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t load = ::fork();
  if (load == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    ::execl(TOLLGATE_LOAD_PATH, TOLLGATE_LOAD_PATH, "-s", d.socket().c_str(), "-c", "8", "-P", "8", "-d", "3s",
            "--key-prefix", "ip:", "-k", "1000", "--json", "-q", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  for (int i = 0; i < 20; ++i) {
    d.rewrite_config(i % 2 == 0 ? kAfter : kBefore);
    Reply r = command(admin.get(), {"RELOAD"});
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(load, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find("\"error_replies\":0"), std::string::npos) << out;
  EXPECT_NE(out.find("\"connection_errors\":0"), std::string::npos) << out;
  // kBefore again after 20 reloads: limit 5, 3 used before the reloads.
  Reply r = command(c.get(), {"CHECK", "acme", "COST", "2"});
  EXPECT_EQ(code(r), "OK");
  EXPECT_EQ(code(command(c.get(), {"CHECK", "acme"})), "QUOTA");
}

// Verifies a shadow limit never denies and its would-be denials show in CONTRACT and INFO.
TEST(Shadow, CountsWithoutDenying) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(code(command(c.get(), {"CHECK", "acme"})), "OK");
  EXPECT_EQ(code(command(c.get(), {"CHECK", "acme"})), "QUOTA");  // the real limit denies: shadow not counted
  Client admin = d.connect_admin();
  auto f = fields(command(admin.get(), {"CONTRACT", "acme"}));
  EXPECT_EQ(f["limit.proposed.shadow_denials"], "3");
  Reply info = command(c.get(), {"INFO", "limits"});
  EXPECT_NE(std::string(info->str).find(":contract=acme,limit=proposed,shadow_denials=3\r\n"), std::string::npos) << info->str;
}

// Verifies the distinct-subject cap of 50 end to end: the 51st new subject is denied, seen ones keep working.
TEST(Subjects, DistinctCapEndToEnd) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  EXPECT_EQ(code(command(c.get(), {"CHECK", "users"})), "SUBJECTS");  // SUBJECT required
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(code(command(c.get(), {"CHECK", "users", "SUBJECT", "end-user-" + std::to_string(i)})), "OK");
  Reply r = command(c.get(), {"CHECK", "users", "SUBJECT", "end-user-50"});
  EXPECT_EQ(code(r), "SUBJECTS");
  EXPECT_GT(r->element[4]->integer, 0);
  EXPECT_EQ(code(command(c.get(), {"CHECK", "users", "SUBJECT", "end-user-7"})), "OK");
  Client admin = d.connect_admin();
  auto f = fields(command(admin.get(), {"CONTRACT", "users"}));
  EXPECT_EQ(f["limit.distinct.remaining"], "0");
  EXPECT_NEAR(std::stod(f["distinct_subjects_estimate"]), 50, 2);
}

// Verifies CL.THROTTLE answers as redis-cell's README shows.
TEST(RedisCell, ReadmeExample) {
  Daemon d(kBefore);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  Client c = d.connect();
  Reply r = command(c.get(), {"CL.THROTTLE", "user123", "15", "30", "60", "1"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->type == REDIS_REPLY_ERROR ? r->str : "");
  ASSERT_EQ(r->elements, 5u);
  EXPECT_EQ(r->element[0]->integer, 0);
  EXPECT_EQ(r->element[1]->integer, 16);
  EXPECT_EQ(r->element[2]->integer, 15);
  EXPECT_EQ(r->element[3]->integer, -1);
  EXPECT_EQ(r->element[4]->integer, 2);
  for (int i = 0; i < 15; ++i) command(c.get(), {"CL.THROTTLE", "user123", "15", "30", "60"});
  r = command(c.get(), {"CL.THROTTLE", "user123", "15", "30", "60"});
  EXPECT_EQ(r->element[0]->integer, 1);  // limited
  EXPECT_GE(r->element[3]->integer, 1);
}

}  // namespace
}  // namespace tollgate::testing
