// Type=notify: tollgated talks to a NOTIFY_SOCKET the test owns (a Unix
// datagram socket in a temp dir), as systemd would see it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "integration/daemon_harness.h"
#include "integration/ops_support.h"

namespace tollgate::testing {
namespace {

constexpr const char* kBody = "key_classes:\n  - match: \"ip:*\"\n    limits:\n      - { name: ip, type: token_bucket, "
                              "rate: 10, per: 1s, burst: 20 }\n";

// The service manager's end: a bound datagram socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  }
  ~NotifySocket() { ::close(fd_); }
  // The next datagram, or "" after `timeout_ms`.
  std::string next(int timeout_ms = 10000) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // Datagrams until one contains `wanted` (included); stops at a timeout.
  std::vector<std::string> until(const std::string& wanted, int timeout_ms = 10000) {
    std::vector<std::string> got;
    for (;;) {
      std::string m = next(timeout_ms);
      if (m.empty()) return got;
      got.push_back(m);
      if (m.find(wanted) != std::string::npos) return got;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool ping(const std::string& socket) {
  timeval tv{2, 0};
  Client c(redisConnectUnixWithTimeout(socket.c_str(), tv));
  if (!c || c->err) return false;
  redisSetTimeout(c.get(), tv);
  Reply r = command(c.get(), {"PING"});
  return r && r->type == REDIS_REPLY_STATUS;
}

size_t count_with(const std::vector<std::string>& messages, const std::string& what) {
  size_t n = 0;
  for (const auto& m : messages) n += m.find(what) != std::string::npos;
  return n;
}

// Verifies READY=1 comes only once the data socket answers PING (after a STATUS while recovering),
// WATCHDOG=1 pings follow while WATCHDOG_USEC is set, and SIGTERM sends STOPPING=1.
TEST(SystemdNotify, ReadyWatchdogStopping) {
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  std::ofstream(dir.file("t.yaml")) << "server:\n  socket: tg.sock\n  threads: 1\nstorage:\n  mode: embedded\n"
                                    << kBody;
  OpsDaemon d(dir.file("t.yaml"), "/", dir.file("log"),
              {"NOTIFY_SOCKET=" + dir.file("notify.sock"), "WATCHDOG_USEC=100000"});
  const auto before_ready = notify.until("READY=1");
  ASSERT_FALSE(before_ready.empty()) << d.log();
  ASSERT_NE(before_ready.back().find("READY=1"), std::string::npos) << d.log();
  EXPECT_TRUE(ping(dir.file("tg.sock"))) << "READY=1 before the daemon answers";
  EXPECT_EQ(count_with(before_ready, "STATUS=recovering state"), 1u);
  EXPECT_NE(before_ready.back().find("STATUS=serving"), std::string::npos) << before_ready.back();
  // Watchdog every 50 ms (half of WATCHDOG_USEC): wait for three.
  std::vector<std::string> pings;
  for (int i = 0; i < 3; ++i) {
    auto got = notify.until("WATCHDOG=1", 5000);
    ASSERT_FALSE(got.empty()) << d.log();
    ASSERT_NE(got.back().find("WATCHDOG=1"), std::string::npos);
  }
  ASSERT_TRUE(d.running());
  ::kill(d.pid(), SIGTERM);
  const auto at_stop = notify.until("STOPPING=1");
  ASSERT_FALSE(at_stop.empty());
  EXPECT_NE(at_stop.back().find("STOPPING=1"), std::string::npos) << d.log();
  EXPECT_EQ(d.wait_exit(), 0) << d.log();
}

// Verifies no WATCHDOG=1 is sent when systemd asked for none, and nothing breaks without NOTIFY_SOCKET.
TEST(SystemdNotify, NoWatchdogUnlessAsked) {
  TempDir dir;
  NotifySocket notify(dir.file("notify.sock"));
  std::ofstream(dir.file("t.yaml")) << "server:\n  socket: tg.sock\n  threads: 1\nstorage:\n  mode: memory\n" << kBody;
  OpsDaemon d(dir.file("t.yaml"), "/", dir.file("log"), {"NOTIFY_SOCKET=" + dir.file("notify.sock")});
  ASSERT_FALSE(notify.until("READY=1").empty()) << d.log();
  ASSERT_TRUE(ping(dir.file("tg.sock")));
  ::kill(d.pid(), SIGTERM);
  const auto rest = notify.until("STOPPING=1");
  EXPECT_EQ(count_with(rest, "WATCHDOG=1"), 0u);
  EXPECT_EQ(d.wait_exit(), 0) << d.log();

  std::ofstream(dir.file("u.yaml")) << "server:\n  socket: tg2.sock\n  threads: 1\nstorage:\n  mode: memory\n" << kBody;
  OpsDaemon plain(dir.file("u.yaml"), "/", dir.file("log2"));
  EXPECT_TRUE(plain.wait_ping(dir.file("tg2.sock"))) << plain.log();
  EXPECT_EQ(plain.stop(), 0);
}

}  // namespace
}  // namespace tollgate::testing
