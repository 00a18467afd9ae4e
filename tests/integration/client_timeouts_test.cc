// server.timeout (idle clients) and server.frame_timeout (slow-loris
// requests): short settings, waits on conditions with deadlines.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/daemon_harness.h"
#include "integration/ops_support.h"
#include "net/unix_socket.h"

namespace tollgate::testing {
namespace {

constexpr const char* kBody = "key_classes:\n  - match: \"ip:*\"\n    limits:\n      - { name: ip, type: token_bucket, "
                              "rate: 10, per: 1s, burst: 20 }\n";

// The INFO clients field `name` as a number (-1 when absent).
int64_t info_field(Daemon& d, const std::string& name) {
  Client c = d.connect();
  return info_number(c.get(), "clients", name);
}

// True once the peer has closed `fd` (read returns 0 or an error); what it
// sent before is appended to `got`.
bool closed_by_peer(int fd, std::string& got) {
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0) got.append(buf, static_cast<size_t>(n));
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// Verifies a silent client is closed after server.timeout and counted, while one that keeps
// sending commands stays open.
TEST(ClientTimeouts, IdleClientIsClosedActiveOneIsNot) {
  Daemon d(kBody, "threads: 1\n  timeout: 200ms\n  frame_timeout: 0");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto silent = connect_unix(d.socket());
  ASSERT_TRUE(silent);
  Client active = d.connect();
  const auto start = std::chrono::steady_clock::now();
  std::string got;
  // The active client pings every 50 ms while the silent one waits to be closed.
  EXPECT_TRUE(eventually([&] {
    Reply r = command(active.get(), {"PING"});
    EXPECT_TRUE(r && r->type == REDIS_REPLY_STATUS) << "the active client was closed";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return closed_by_peer(*silent, got);
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
  EXPECT_EQ(got, "");  // closed silently, as Redis does
  Reply r = command(active.get(), {"PING"});
  ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
  EXPECT_GE(info_field(d, "idle_timeouts"), 1);
  ::close(*silent);
}

// Verifies a request trickled byte by byte is closed after frame_timeout (with an error), although
// the client is never idle, and counted in INFO; complete requests do not start the clock.
TEST(ClientTimeouts, SlowLorisRequestIsClosed) {
  Daemon d(kBody, "threads: 1\n  frame_timeout: 300ms");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto loris = connect_unix(d.socket());
  ASSERT_TRUE(loris);
  const std::string frame = "*2\r\n$5\r\nCHECK\r\n$200\r\n" + std::string(200, 'x');
  size_t sent = 0;
  std::string got;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] {
    if (sent < frame.size()) {
      (void)::send(*loris, frame.data() + sent, 1, MSG_NOSIGNAL);
      ++sent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return closed_by_peer(*loris, got);
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(290));
  EXPECT_LT(sent, frame.size());
  EXPECT_EQ(got, "-ERR request incomplete for longer than server.frame_timeout, closing\r\n");
  EXPECT_EQ(info_field(d, "frame_timeouts"), 1);
  EXPECT_EQ(info_field(d, "idle_timeouts"), 0);
  ::close(*loris);
}

// Verifies the defaults: no idle timeout, and a slot held by a partial frame is given back.
TEST(ClientTimeouts, PartialFramesCannotHoldEveryConnectionSlot) {
  Daemon d(kBody, "threads: 1\n  max_connections: 3\n  frame_timeout: 200ms");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  // wait_ready's own connection holds a slot until the server has seen it
  // close; count the data connections on the admin socket (its own limit).
  Client admin = d.connect_admin();
  ASSERT_TRUE(admin && !admin->err);
  const auto data_connections = [&] { return info_number(admin.get(), "clients", "connected_clients"); };
  ASSERT_TRUE(eventually([&] { return data_connections() == 0; })) << data_connections();
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    auto fd = connect_unix(d.socket());
    ASSERT_TRUE(fd);
    ASSERT_EQ(::send(*fd, "*1\r\n$4\r\nPI", 10, MSG_NOSIGNAL), 10);
    held.push_back(*fd);
  }
  ASSERT_TRUE(eventually([&] { return data_connections() == 3; })) << data_connections();
  // All slots taken until the frame timeout frees them; then a client gets in.
  EXPECT_TRUE(eventually([&] {
    Client c = d.connect();
    if (!c || c->err) return false;
    Reply r = command(c.get(), {"PING"});
    return r && r->type == REDIS_REPLY_STATUS;
  }));
  for (int fd : held) ::close(fd);
}

}  // namespace
}  // namespace tollgate::testing
