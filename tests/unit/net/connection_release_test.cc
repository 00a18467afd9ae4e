// Held (paced) replies through a real Worker and Connection, over a
// socketpair, with a stub Service whose `DELAY <ms>` command sets
// Session::release_at. Release happens on the loop's real timers, so these
// tests wait for replies (bounded by poll timeouts) rather than simulating
// time.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <memory>
#include <chrono>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "net/connection.h"
#include "net/service.h"
#include "net/worker.h"
#include "tollgate/time.h"

namespace tollgate {
namespace {

// PING → +PONG; DELAY <ms> → +DELAYED held for ms; COMMIT <ticket> →
// +COMMITTED held until `durable` reaches ticket; QUIT → +OK and close.
class StubService final : public Service {
 public:
  void begin_batch(int) override { now_ = clock_.now(); }
  void end_batch(int) override {}
  Nanos batch_now(int) const override { return now_; }
  void execute(std::span<const std::string_view> args, Session& session,
               resp::ReplyWriter& out) override {
    executed.fetch_add(1);
    if (args[0] == "DELAY" && args.size() == 2) {
      int64_t ms = 0;
      std::from_chars(args[1].data(), args[1].data() + args[1].size(), ms);
      session.release_at = session.now + ms * kNanosPerMilli;
      return out.simple("DELAYED");
    }
    if (args[0] == "COMMIT" && args.size() == 2) {
      std::from_chars(args[1].data(), args[1].data() + args[1].size(), session.commit_ticket);
      return out.simple("COMMITTED");
    }
    if (args[0] == "QUIT") {
      session.close_after_reply = true;
      return out.simple("OK");
    }
    out.simple("PONG");
  }
  uint64_t durable_through() const override { return durable.load(); }
  std::atomic<int> executed{0};
  std::atomic<uint64_t> durable{0};

 private:
  SystemClock clock_;
  Nanos now_ = 0;
};

Nanos wall_now() { return SystemClock().now(); }

class ConnectionRelease : public ::testing::Test {
 protected:
  void SetUp() override { start(ConnectionLimits{}); }
  void TearDown() override {
    if (client_ >= 0) ::close(client_);
    client_ = -1;
    if (worker_) {
      stop_worker();
      worker_->join();
      worker_.reset();
    }
  }
  // Worker::stop may be sent once (its async handle is gone after the drain).
  void stop_worker() {
    if (!stop_sent_) worker_->stop();
    stop_sent_ = true;
  }
  void start(const ConnectionLimits& limits) {
    limits_ = limits;
    stop_sent_ = false;
    eof_ = false;
    worker_ = std::make_unique<Worker>(0, limits_);
    ASSERT_TRUE(worker_->start());
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    client_ = fds[0];
    worker_->adopt(fds[1], service_, Session{});
  }
  void send(std::string_view s) {
    ASSERT_EQ(::write(client_, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  // Reads until `n` bytes arrived, EOF, or `timeout_ms` passed.
  std::string read_bytes(size_t n, int timeout_ms = 5000) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{client_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t r = ::read(client_, buf, std::min(sizeof buf, n - got.size()));
      if (r <= 0) {
        eof_ = true;
        break;
      }
      got.append(buf, static_cast<size_t>(r));
    }
    return got;
  }
  // True iff the peer closed (EOF) within `timeout_ms`, with no more bytes.
  bool closed_within(int timeout_ms) {
    std::string extra = read_bytes(1, timeout_ms);
    return extra.empty() && eof_;
  }
  void wait_executed(int n) {
    for (int i = 0; i < 5000 && service_.executed.load() < n; ++i) ::usleep(1000);
    ASSERT_GE(service_.executed.load(), n);
  }

  ConnectionLimits limits_;
  StubService service_;
  std::unique_ptr<Worker> worker_;
  int client_ = -1;
  bool eof_ = false;
  bool stop_sent_ = false;
};

TEST_F(ConnectionRelease, HeldReplyKeepsPipelineOrder) {
  // Verifies a held reply is not sent before its instant and the PINGs
  // pipelined behind it arrive after it, in order.
  Nanos sent = wall_now();
  send("DELAY 60\r\nPING\r\nPING\r\n");
  EXPECT_EQ(read_bytes(1, 30), "");  // nothing at all yet
  std::string got = read_bytes(24);
  Nanos arrived = wall_now();
  EXPECT_EQ(got, "+DELAYED\r\n+PONG\r\n+PONG\r\n");
  EXPECT_GE(arrived - sent, 60 * kNanosPerMilli);
}

TEST_F(ConnectionRelease, RepliesBeforeTheHeldOneGoAtOnce) {
  // Verifies replies queued before a held one are written immediately.
  Nanos sent = wall_now();
  send("PING\r\nDELAY 400\r\nPING\r\n");
  EXPECT_EQ(read_bytes(7), "+PONG\r\n");
  EXPECT_LT(wall_now() - sent, 400 * kNanosPerMilli);
  EXPECT_EQ(read_bytes(17), "+DELAYED\r\n+PONG\r\n");
  EXPECT_GE(wall_now() - sent, 400 * kNanosPerMilli);
}

TEST_F(ConnectionRelease, ManyHeldRepliesReleaseInOrder) {
  // Verifies a long pipeline of held replies with mixed instants (some
  // earlier than the one before) comes out complete and in order.
  std::string request, expected;
  for (int i = 0; i < 100; ++i) {
    int ms = (i * 37) % 50;
    request += "DELAY " + std::to_string(ms) + "\r\nPING\r\n";
    expected += "+DELAYED\r\n+PONG\r\n";
  }
  Nanos sent = wall_now();
  send(request);
  EXPECT_EQ(read_bytes(expected.size()), expected);
  EXPECT_GE(wall_now() - sent, 49 * kNanosPerMilli);
}

TEST_F(ConnectionRelease, LaterBatchesQueueBehindAHeldReply) {
  // Verifies commands arriving in a later read while a reply is held wait
  // behind it.
  send("DELAY 150\r\n");
  wait_executed(1);
  send("PING\r\n");
  EXPECT_EQ(read_bytes(1, 50), "");
  EXPECT_EQ(read_bytes(17), "+DELAYED\r\n+PONG\r\n");
}

TEST_F(ConnectionRelease, QuitWaitsForHeldReplies) {
  // Verifies QUIT behind a held reply sends it, then +OK, then closes.
  send("DELAY 40\r\nQUIT\r\nPING\r\n");
  EXPECT_EQ(read_bytes(15), "+DELAYED\r\n+OK\r\n");
  EXPECT_TRUE(closed_within(2000));
}

TEST_F(ConnectionRelease, ProtocolErrorCloseWaitsForHeldReplies) {
  // Verifies a malformed frame behind a held reply gets its error after the
  // held reply, and then the connection closes.
  send("DELAY 40\r\n*1\r\n$x\r\n");
  std::string got = read_bytes(10);
  EXPECT_EQ(got, "+DELAYED\r\n");
  std::string error = read_bytes(1);
  EXPECT_EQ(error, "-");
  read_bytes(1000, 500);
  EXPECT_TRUE(eof_);
}

TEST_F(ConnectionRelease, StopDeliversHeldRepliesWithinGrace) {
  // Verifies a worker stop still sends a reply held for less than the grace.
  send("DELAY 200\r\n");
  wait_executed(1);
  stop_worker();
  EXPECT_EQ(read_bytes(10), "+DELAYED\r\n");
  EXPECT_TRUE(closed_within(2000));
}

TEST_F(ConnectionRelease, StopDropsRepliesHeldBeyondGrace) {
  // Verifies a worker stop closes at once a connection whose held reply is
  // due after the grace, sending what came before it.
  send("PING\r\nDELAY 30000\r\n");
  EXPECT_EQ(read_bytes(7), "+PONG\r\n");
  wait_executed(2);
  Nanos stopped = wall_now();
  stop_worker();
  EXPECT_TRUE(closed_within(2000));
  worker_->join();
  EXPECT_LT(wall_now() - stopped, Connection::kShutdownGrace);
}

TEST_F(ConnectionRelease, HeldBytesCountTowardsMaxOutput) {
  // Verifies replies piling up behind a held one are bounded by max_output:
  // past it the client is dropped and counted.
  TearDown();
  ConnectionLimits small;
  small.max_output = 64;
  small.pause_output = 1u << 20;
  start(small);
  std::string request = "DELAY 10000\r\n";
  for (int i = 0; i < 20; ++i) request += "PING\r\n";
  send(request);
  EXPECT_TRUE(closed_within(2000));
  EXPECT_EQ(worker_->stats().output_overflows.load(), 1u);
}

}  // namespace
}  // namespace tollgate

namespace tollgate {
namespace {

TEST_F(ConnectionRelease, CommitTicketHoldsRepliesUntilDurable) {
  // Verifies a reply with a commit ticket, and the replies behind it, wait
  // until that ticket is durable and the worker is woken, however long that
  // takes; a lower ticket becoming durable releases nothing.
  send("PING\r\nCOMMIT 2\r\nPING\r\n");
  EXPECT_EQ(read_bytes(7), "+PONG\r\n");
  EXPECT_EQ(read_bytes(1, 100), "");
  service_.durable = 1;
  worker_->wake_commits();
  EXPECT_EQ(read_bytes(1, 100), "");
  service_.durable = 2;
  worker_->wake_commits();
  EXPECT_EQ(read_bytes(19), "+COMMITTED\r\n+PONG\r\n");
}

TEST_F(ConnectionRelease, CommitAndPacingBothApply) {
  // Verifies a reply behind a commit wait that is also paced goes only when
  // both its instant has come and its ticket is durable.
  Nanos sent = wall_now();
  send("COMMIT 1\r\nDELAY 80\r\n");
  wait_executed(2);
  service_.durable = 1;
  worker_->wake_commits();
  EXPECT_EQ(read_bytes(12), "+COMMITTED\r\n");
  EXPECT_EQ(read_bytes(10), "+DELAYED\r\n");
  EXPECT_GE(wall_now() - sent, 80 * kNanosPerMilli);
}

TEST_F(ConnectionRelease, StopGivesUpOnACommitThatNeverComes) {
  // Verifies a stopping worker does not hang on a reply whose commit never
  // becomes durable: the connection closes after the grace, without it.
  send("COMMIT 5\r\n");
  wait_executed(1);
  stop_worker();
  EXPECT_TRUE(closed_within(static_cast<int>(Connection::kShutdownGrace / kNanosPerMilli) + 3000));
}

TEST_F(ConnectionRelease, StopDeliversACommitThatComesWithinGrace) {
  // Verifies a reply waiting for its commit during shutdown is still sent
  // when the commit arrives within the grace.
  send("COMMIT 3\r\n");
  wait_executed(1);
  stop_worker();
  service_.durable = 3;
  worker_->wake_commits();
  EXPECT_EQ(read_bytes(12), "+COMMITTED\r\n");
  EXPECT_TRUE(closed_within(2000));
}

}  // namespace
}  // namespace tollgate
