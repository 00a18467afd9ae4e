// ClientRegistry (CLIENT LIST / KILL): records, filters and the line format;
// real Workers over socketpairs: a connection registers on open, leaves on
// close, and kill() from another thread closes exactly the one asked for;
// a hammer of listers against connections opening, naming and closing on
// two workers (run under TSan: the lister's reads race with closes).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/client_registry.h"
#include "net/connection.h"
#include "net/service.h"
#include "net/worker.h"
#include "support/eventually.h"
#include "support/pong_service.h"
#include "tollgate/time.h"

namespace tollgate {
namespace {

using testing::eventually;
using testing::PongService;

ClientFilter filter(const std::function<void(ClientFilter&)>& set) {
  ClientFilter f;
  set(f);
  return f;
}

std::shared_ptr<ClientRecord> record(uint64_t id, std::string addr, bool admin = false) {
  auto r = std::make_shared<ClientRecord>();
  r->id = id;
  r->addr = std::move(addr);
  r->laddr = "/run/t.sock:0";
  r->admin = admin;
  return r;
}

// Verifies add/remove/find/snapshot and that a removed record stays readable through a copy.
TEST(ClientRegistry, AddRemoveSnapshot) {
  ClientRegistry reg;
  reg.add(record(1, "/run/t.sock:0"));
  reg.add(record(2, "/run/t.sock:0"));
  EXPECT_EQ(reg.size(), 2u);
  auto snap = reg.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0]->id, 1u);
  reg.remove(1);
  reg.remove(7);  // unknown: nothing
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg.find(1), nullptr);
  ASSERT_NE(reg.find(2), nullptr);
  EXPECT_EQ(snap[0]->id, 1u);  // still alive through the snapshot
}

// Verifies the filters: ID, ADDR, LADDR, USER, SKIPME, admin; records without an owner are counted only.
TEST(ClientRegistry, KillFilters) {
  ClientRegistry reg;
  reg.add(record(1, "10.0.0.1:5000"));
  reg.add(record(2, "10.0.0.2:5000"));
  reg.add(record(3, "10.0.0.2:5000", true));
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.id = 2; })), 1u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.id = 9; })), 0u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.addr = "10.0.0.2:5000"; })), 2u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.addr = "10.0.0.2:5000"; f.admin = 0; })), 1u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.laddr = "/run/t.sock:0"; })), 3u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.laddr = "/other:0"; })), 0u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.user_default = true; f.skip_id = 3; })), 2u);
  EXPECT_EQ(reg.kill(filter([&](ClientFilter& f) { f.user_none = true; })), 0u);
}

// Verifies the CLIENT LIST line: Redis's field names and order, name/lib, age/idle, multi flag.
TEST(ClientRegistry, Format) {
  ClientRecord r;
  r.id = 42;
  r.addr = "/run/t.sock:0";
  r.laddr = "/run/t.sock:0";
  r.fd = 9;
  r.created_ms = 1000;
  r.last_command_ms = 4000;
  r.last_command = "CHECK";
  r.set_name("gw-1");
  r.set_lib("redis-py", "4.3.4");
  std::string line = ClientRegistry::format(r, 6500);
  EXPECT_EQ(line.rfind("id=42 addr=/run/t.sock:0 laddr=/run/t.sock:0 fd=9 name=gw-1 age=5 idle=2 flags=N db=0 ", 0), 0u)
      << line;
  EXPECT_NE(line.find(" multi=-1 "), std::string::npos) << line;
  EXPECT_NE(line.find(" cmd=check user=default lib-name=redis-py lib-ver=4.3.4 resp=2 admin=0"), std::string::npos)
      << line;
  r.multi = 3;
  r.protocol = 3;
  line = ClientRegistry::format(r, 500);  // a clock behind created: age 0, not a wrap-around
  EXPECT_NE(line.find(" age=0 idle=0 flags=x "), std::string::npos) << line;
  EXPECT_NE(line.find(" multi=3 "), std::string::npos) << line;
  EXPECT_NE(line.find(" resp=3 "), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

class RegistryWorkers : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.clients = &registry_;
    for (int i = 0; i < 2; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, limits_));
      ASSERT_TRUE(workers_.back()->start());
    }
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
    EXPECT_EQ(registry_.size(), 0u);  // every connection left the registry when freed
  }
  // A client on worker `w`; returns the test's end.
  int connect(int w, uint64_t id) {
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    Session session;
    session.id = id;
    workers_[w]->adopt(pair[1], service_, std::move(session));
    fds_.push_back(pair[0]);
    return pair[0];
  }
  // Sends a command and waits for PONG; false if the connection is closed.
  static bool ping(int fd, std::string_view cmd = "PING\r\n") {
    if (::send(fd, cmd.data(), cmd.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(cmd.size())) return false;
    std::string got;
    while (got.find("\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      char buf[64];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return got == "+PONG\r\n";
  }
  static bool at_eof(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char buf[64];
    return ::read(fd, buf, sizeof buf) <= 0;
  }

  ConnectionLimits limits_;
  ClientRegistry registry_;
  PongService service_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<int> fds_;
};

// Verifies connections on two workers are listed with their names, a kill from this thread closes
// exactly the one asked for (EOF), the other keeps working, and an unknown id kills nothing.
TEST_F(RegistryWorkers, KillClosesOnlyThatConnection) {
  const int a = connect(0, 11);
  const int b = connect(1, 12);
  ASSERT_TRUE(ping(a, "SETNAME alpha\r\n"));
  ASSERT_TRUE(ping(b, "SETNAME beta\r\n"));
  auto snap = registry_.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0]->name(), "alpha");
  EXPECT_EQ(snap[1]->name(), "beta");
  EXPECT_EQ(snap[0]->owner, workers_[0].get());
  EXPECT_EQ(snap[1]->owner, workers_[1].get());
  EXPECT_GE(snap[0]->fd, 0);
  const std::string line = ClientRegistry::format(*snap[1], monotonic_ms());
  EXPECT_NE(line.find("name=beta"), std::string::npos) << line;
  EXPECT_NE(line.find("cmd=ping"), std::string::npos) << line;

  EXPECT_EQ(registry_.kill(filter([&](ClientFilter& f) { f.id = 99; })), 0u);
  EXPECT_EQ(registry_.kill(filter([&](ClientFilter& f) { f.id = 11; })), 1u);
  ASSERT_TRUE(eventually([&] { return at_eof(a); }));
  ASSERT_TRUE(eventually([&] { return registry_.size() == 1; }));
  EXPECT_EQ(registry_.find(11), nullptr);
  EXPECT_TRUE(ping(b));
  EXPECT_EQ(registry_.kill(filter([&](ClientFilter& f) { f.id = 11; })), 0u);  // gone
}

// Verifies listers on other threads read records (format, names) while connections open, rename and
// close on two workers, and kills race with closes: no crash, no race (TSan), the registry ends empty.
TEST_F(RegistryWorkers, ListersRaceOpensClosesKills) {
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lines{0};
  std::vector<std::thread> listers;
  for (int t = 0; t < 2; ++t) {
    listers.emplace_back([&] {
      while (!done.load()) {
        for (const auto& r : registry_.snapshot()) {
          lines.fetch_add(ClientRegistry::format(*r, monotonic_ms()).empty() ? 0 : 1);
          (void)registry_.kill(filter([&](ClientFilter& f) { f.id = r->id % 3 == 0 ? r->id : 1u << 30; }));
        }
      }
    });
  }
  uint64_t id = 100;
  for (int round = 0; round < 40; ++round) {
    std::vector<int> open;
    for (int i = 0; i < 4; ++i) {
      const int fd = connect(i % 2, ++id);
      (void)ping(fd, "SETNAME n" + std::to_string(id) + "\r\n");  // may have been killed already
      open.push_back(fd);
    }
    for (int fd : open) {
      std::erase(fds_, fd);
      ::close(fd);
    }
  }
  ASSERT_TRUE(eventually([&] { return registry_.size() == 0; }));
  done = true;
  for (auto& t : listers) t.join();
  EXPECT_GT(lines.load(), 0u);
}

}  // namespace
}  // namespace tollgate
