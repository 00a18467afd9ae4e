// The memory bounds of a Connection, through a real Worker over socketpairs:
// the output bound is enforced while replies are produced (a peer that does
// not read stops the batch, is dropped past max_output or after the stall
// timeout), and input buffers grow only as far as a request needs, within
// the server-wide InputBudget, and shrink back when idle.
// Time is the loop's real time: tests poll with deadlines, never sleep.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/connection.h"
#include "net/input_budget.h"
#include "net/service.h"
#include "net/worker.h"
#include "tollgate/time.h"

namespace tollgate {
namespace {

// PING → +PONG; BIG n → a bulk of n bytes; ECHO s → s. Records the largest
// reply buffer it was handed (what the connection had produced and not
// written when the command ran).
class BigService final : public Service {
 public:
  void begin_batch(int) override { now_ = clock_.now(); }
  void end_batch(int) override {}
  Nanos batch_now(int) const override { return now_; }
  void execute(std::span<const std::string_view> args, Session&, resp::ReplyWriter& out) override {
    executed.fetch_add(1);
    size_t pending = out.out().size();
    if (pending > max_pending.load()) max_pending.store(pending);
    if (args[0] == "BIG" && args.size() == 2) {
      size_t n = 0;
      std::from_chars(args[1].data(), args[1].data() + args[1].size(), n);
      return out.bulk(std::string(n, 'b'));
    }
    if (args[0] == "ECHO" && args.size() == 2) return out.bulk(args[1]);
    out.simple("PONG");
  }
  std::atomic<int> executed{0};
  std::atomic<size_t> max_pending{0};

 private:
  SystemClock clock_;
  Nanos now_ = 0;
};

bool eventually(const std::function<bool()>& done, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// One client end of a socketpair whose other end a Worker serves.
struct Client {
  int fd = -1;
  bool eof = false;
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  // Writes all of `s` (blocking).
  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::write(fd, s.data(), s.size());
      ASSERT_GT(n, 0);
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Writes what the socket takes now without blocking; returns how much.
  size_t send_some(std::string_view s) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  // Reads until `n` bytes, EOF, or `timeout_ms` of silence.
  std::string read_bytes(size_t n, int timeout_ms = 5000) {
    std::string got;
    got.reserve(n);  // a reader that stops to copy a growing buffer looks stalled
    std::vector<char> buf(1 << 16);
    while (got.size() < n) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      ssize_t r = ::read(fd, buf.data(), std::min(buf.size(), n - got.size()));
      if (r <= 0) {
        eof = true;
        break;
      }
      got.append(buf.data(), static_cast<size_t>(r));
    }
    return got;
  }
  // Reads and discards up to `n` bytes (EOF or `timeout_ms` of silence end
  // it early); returns how many came.
  size_t read_discard(size_t n, int timeout_ms) {
    size_t got = 0;
    std::vector<char> buf(1 << 16);
    while (got < n) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      ssize_t r = ::read(fd, buf.data(), std::min(buf.size(), n - got));
      if (r <= 0) {
        eof = true;
        break;
      }
      got += static_cast<size_t>(r);
    }
    return got;
  }
  // Reads and discards until EOF (true) or `timeout_ms` of silence.
  bool drain_to_eof(int timeout_ms = 5000) {
    while (!eof) {
      std::string s = read_bytes(1 << 20, timeout_ms);
      if (s.empty() && !eof) return false;
    }
    return true;
  }
};

class ConnectionBounds : public ::testing::Test {
 protected:
  void TearDown() override {
    clients_.clear();
    if (worker_) {
      worker_->stop();
      worker_->join();
    }
  }
  void start(const ConnectionLimits& limits) {
    limits_ = limits;
    worker_ = std::make_unique<Worker>(0, limits_);
    ASSERT_TRUE(worker_->start());
  }
  Client& connect() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    auto c = std::make_unique<Client>();
    c->fd = fds[0];
    Session session;
    session.id = ++next_id_;
    worker_->adopt(fds[1], service_, std::move(session));
    clients_.push_back(std::move(c));
    return *clients_.back();
  }

  ConnectionLimits limits_;
  std::unique_ptr<InputBudget> budget_;  // outlives the worker's connections
  BigService service_;
  std::unique_ptr<Worker> worker_;
  std::vector<std::unique_ptr<Client>> clients_;
  uint64_t next_id_ = 0;
};

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST_F(ConnectionBounds, RepliesStopPilingUpWhenThePeerDoesNotRead) {
  // Verifies a pipeline whose replies are far larger than its requests
  // (2,000 × 10 KB for 20 KB) never has much more than pause_output of
  // replies unwritten — the batch stops and resumes as the peer reads — and
  // every reply still arrives, in order.
  ConnectionLimits limits;
  limits.pause_output = 64 << 10;
  start(limits);
  Client& c = connect();
  constexpr int kCommands = 2000;
  constexpr size_t kReply = 10000;
  c.send(repeat("BIG 10000\r\n", kCommands));
  ASSERT_TRUE(eventually([&] { return service_.executed.load() > 0; }));
  const std::string one = "$10000\r\n" + std::string(kReply, 'b') + "\r\n";
  std::string got = c.read_bytes(one.size() * kCommands, 10000);
  ASSERT_EQ(got.size(), one.size() * kCommands);
  EXPECT_EQ(got, repeat(one, kCommands));
  EXPECT_EQ(service_.executed.load(), kCommands);
  // Produced while at most pause_output (plus the one reply that crossed it) waited.
  EXPECT_LE(service_.max_pending.load(), limits.pause_output + one.size());
  EXPECT_EQ(worker_->stats().output_overflows.load(), 0u);
}

TEST_F(ConnectionBounds, APeerThatNeverReadsIsDroppedAfterTheStallTimeout) {
  // Verifies a client that sends requests and never reads a reply is dropped
  // once it has taken nothing for output_stall_timeout, and counted; its
  // replies never pile up past the pause mark meanwhile.
  ConnectionLimits limits;
  limits.pause_output = 64 << 10;
  limits.output_stall_timeout = 100 * kNanosPerMilli;
  start(limits);
  Client& c = connect();
  const std::string requests = repeat("BIG 10000\r\n", 5000);
  size_t sent = c.send_some(requests);
  ASSERT_GT(sent, 0u);
  ASSERT_TRUE(eventually([&] { return worker_->stats().output_overflows.load() == 1; }));
  EXPECT_LT(service_.executed.load(), 5000);
  EXPECT_LE(service_.max_pending.load(), limits.pause_output + 10100);
  EXPECT_TRUE(c.drain_to_eof());
}

TEST_F(ConnectionBounds, AReaderIsNotDroppedForBeingBehindBriefly) {
  // Verifies a peer that keeps reading is never counted as stalled, even
  // when the whole transfer (500 MB, about 0.6 s optimized on 2 vCPUs, more
  // under sanitizers) takes longer than the stall timeout: progress
  // restarts the clock.
  ConnectionLimits limits;
  limits.pause_output = 64 << 10;
  limits.output_stall_timeout = 300 * kNanosPerMilli;
  start(limits);
  Client& c = connect();
  constexpr int kCommands = 5000;
  c.send(repeat("BIG 100000\r\n", kCommands));
  const size_t one = std::string("$100000\r\n").size() + 100000 + 2;
  EXPECT_EQ(c.read_discard(one * kCommands, 30000), one * kCommands);
  EXPECT_EQ(worker_->stats().output_overflows.load(), 0u);
}

TEST_F(ConnectionBounds, OneReplyPastMaxOutputDropsAtOnce) {
  // Verifies the hard bound is checked right after the reply that crosses
  // it, not after the batch: the commands behind it do not run.
  ConnectionLimits limits;
  limits.pause_output = 4 << 10;
  limits.max_output = 100 << 10;
  start(limits);
  Client& c = connect();
  c.send("PING\r\nBIG 200000\r\nPING\r\nPING\r\n");
  ASSERT_TRUE(eventually([&] { return worker_->stats().output_overflows.load() == 1; }));
  EXPECT_EQ(service_.executed.load(), 2);
  EXPECT_TRUE(c.drain_to_eof());
}

TEST_F(ConnectionBounds, InputGrowsOnlyToTheAwaitedBulkAndShrinksWhenIdle) {
  // Verifies a half-sent 1 MiB argument grows the input buffer to about its
  // end, not to a doubling past it, and the buffer goes back to its initial
  // size (and leaves the budget) once the request has run.
  ConnectionLimits limits;
  budget_ = std::make_unique<InputBudget>(size_t{64} << 20);
  InputBudget& budget = *budget_;
  limits.input_budget = &budget;
  start(limits);
  Client& c = connect();
  const size_t kBulk = 1 << 20;
  const std::string header = "*2\r\n$4\r\nECHO\r\n$" + std::to_string(kBulk) + "\r\n";
  c.send(header + std::string(kBulk - 1000, 'e'));
  // Received as it arrives: nearly all of it is in the buffer.
  ASSERT_TRUE(eventually([&] { return budget.used() + Connection::kInitialInput >= kBulk - 1000; }));
  EXPECT_LE(budget.used() + Connection::kInitialInput, header.size() + kBulk + 2 + Connection::kMinFreeInput);
  c.send(std::string(1000, 'e') + "\r\n");
  std::string reply = c.read_bytes(std::to_string(kBulk).size() + 3 + kBulk + 2);
  EXPECT_EQ(reply.size(), std::to_string(kBulk).size() + 3 + kBulk + 2);
  EXPECT_TRUE(eventually([&] { return budget.used() == 0; }));
  c.send("PING\r\n");
  EXPECT_EQ(c.read_bytes(7), "+PONG\r\n");
}

TEST_F(ConnectionBounds, OverTheInputBudgetTheLargestConnectionIsDropped) {
  // Verifies that when a growing connection would take input buffers past
  // the budget, the connection holding the largest one is dropped (with a
  // reason) and the growing one is served.
  ConnectionLimits limits;
  budget_ = std::make_unique<InputBudget>(1 << 20);
  InputBudget& budget = *budget_;
  limits.input_budget = &budget;
  start(limits);
  Client& big = connect();
  Client& small = connect();
  const std::string frame_head = "*2\r\n$4\r\nECHO\r\n$";
  big.send(frame_head + std::to_string(1 << 20) + "\r\n" + std::string(700 << 10, 'x'));  // half-sent 1 MiB
  ASSERT_TRUE(eventually([&] { return budget.used() >= (680u << 10); }));
  const size_t kSmall = 500 << 10;
  small.send(frame_head + std::to_string(kSmall) + "\r\n" + std::string(kSmall, 's') + "\r\n");
  std::string reply = small.read_bytes(std::to_string(kSmall).size() + 3 + kSmall + 2);
  EXPECT_EQ(reply.size(), std::to_string(kSmall).size() + 3 + kSmall + 2);
  EXPECT_EQ(worker_->stats().input_drops.load(), 1u);
  std::string why = big.read_bytes(200, 5000);
  EXPECT_NE(why.find("server.max_input_total"), std::string::npos) << why;
  EXPECT_TRUE(big.drain_to_eof());
  EXPECT_TRUE(eventually([&] { return budget.used() == 0; }));
}

TEST_F(ConnectionBounds, AConnectionAloneOverTheInputBudgetIsDropped) {
  // Verifies a request larger than the whole budget cannot be buffered: its
  // connection is dropped, counted, and the budget is whole again.
  ConnectionLimits limits;
  budget_ = std::make_unique<InputBudget>(256 << 10);
  InputBudget& budget = *budget_;
  limits.input_budget = &budget;
  start(limits);
  Client& c = connect();
  std::string request = "*2\r\n$4\r\nECHO\r\n$1000000\r\n" + std::string(1000000, 'z') + "\r\n";
  size_t sent = 0;  // as much as is taken, until the connection is dropped
  ASSERT_TRUE(eventually([&] {
    if (sent < request.size()) sent += c.send_some(std::string_view(request).substr(sent));
    return worker_->stats().input_drops.load() == 1;
  }));
  EXPECT_LT(sent, request.size());
  EXPECT_TRUE(c.drain_to_eof());
  EXPECT_TRUE(eventually([&] { return budget.used() == 0; }));
  EXPECT_EQ(service_.executed.load(), 0);
}

}  // namespace
}  // namespace tollgate
