// server.timeout and server.frame_timeout in a real Worker over
// socketpairs: idle clients are closed, active ones kept; a request left
// incomplete is closed with an error however slowly it trickles; one scan
// closing many connections at once is safe (ASan). Loop time is real time:
// short timeouts and waits on conditions with deadlines.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

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

class ConnectionTimeouts : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    if (worker_) {
      worker_->stop();
      worker_->join();
    }
  }
  void start(Nanos idle, Nanos frame) {
    limits_.idle_timeout = idle;
    limits_.frame_timeout = frame;
    worker_ = std::make_unique<Worker>(0, limits_);
    ASSERT_TRUE(worker_->start());
  }
  int connect() {
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    Session session;
    session.id = ++next_id_;
    worker_->adopt(pair[1], service_, std::move(session));
    fds_.push_back(pair[0]);
    return pair[0];
  }
  // Appends what the peer sent to `got`; true once it has closed.
  static bool closed(int fd, std::string& got) {
    char buf[256];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    return n <= 0;
  }
  // Best effort: the worker may have closed the connection already.
  static void send(int fd, std::string_view s) { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

  ConnectionLimits limits_;
  PongService service_;
  std::unique_ptr<Worker> worker_;
  std::vector<int> fds_;
  uint64_t next_id_ = 0;
};

// Verifies a silent client is closed after idle_timeout while one that keeps sending is not.
TEST_F(ConnectionTimeouts, IdleClosedActiveKept) {
  start(100 * kNanosPerMilli, 0);
  const int silent = connect();
  const int active = connect();
  std::string silent_got, active_got;
  ASSERT_TRUE(eventually([&] {
    send(active, "PING\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(closed(active, active_got)) << "the active client was closed";
    return closed(silent, silent_got);
  }));
  EXPECT_EQ(silent_got, "");
  EXPECT_NE(active_got.find("+PONG\r\n"), std::string::npos);
  EXPECT_EQ(worker_->stats().idle_timeouts.load(), 1u);
  EXPECT_EQ(worker_->stats().frame_timeouts.load(), 0u);
}

// Verifies a request trickled one byte at a time is closed after frame_timeout with an error, and
// that complete requests before it did not start the clock.
TEST_F(ConnectionTimeouts, TrickledFrameClosed) {
  start(0, 150 * kNanosPerMilli);
  const int loris = connect();
  const std::string frame = "*1\r\n$4\r\nPING\r\n";
  const auto begun = std::chrono::steady_clock::now();
  send(loris, "PING\r\n");  // complete: answered, no clock
  size_t sent = 0;
  std::string got;
  ASSERT_TRUE(eventually([&] {
    if (sent + 1 < frame.size()) send(loris, std::string_view(frame).substr(sent++, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    return closed(loris, got);
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - begun, std::chrono::milliseconds(145));
  EXPECT_EQ(got, "+PONG\r\n-ERR request incomplete for longer than server.frame_timeout, closing\r\n");
  EXPECT_EQ(worker_->stats().frame_timeouts.load(), 1u);
}

// Verifies one scan may close many connections (the list is walked while they close).
TEST_F(ConnectionTimeouts, ManyClosedInOneScan) {
  start(50 * kNanosPerMilli, 50 * kNanosPerMilli);
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) fds.push_back(connect());
  ASSERT_TRUE(eventually([&] { return worker_->stats().connections_total.load() == 64; }));
  for (size_t i = 0; i < fds.size(); i += 2) send(fds[i], "*1\r\n$4\r\nPI");  // half partial, half silent
  ASSERT_TRUE(eventually([&] { return worker_->stats().connections.load() == 0; }));
  EXPECT_EQ(worker_->stats().frame_timeouts.load() + worker_->stats().idle_timeouts.load(), 64u);
  EXPECT_GE(worker_->stats().frame_timeouts.load(), 1u);
}

}  // namespace
}  // namespace tollgate
