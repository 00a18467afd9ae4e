// The acceptor's bounds, through a real Server on a temporary socket and a
// control loop run by the test: connections count from accept (a burst
// cannot pass max_connections), refused peers are logged rate-limited, and
// running out of descriptors refuses with a reason and backs off instead of
// spinning. The loop is run until a condition holds, with a deadline.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <gtest/gtest.h>

#include "net/server.h"
#include "net/service.h"
#include "net/unix_socket.h"

namespace tollgate {
namespace {

class NullService final : public Service {
 public:
  void begin_batch(int) override {}
  void end_batch(int) override {}
  Nanos batch_now(int) const override { return 0; }
  void execute(std::span<const std::string_view>, Session&, resp::ReplyWriter& out) override { out.simple("PONG"); }
};

// Captures the default logger's lines for the test's lifetime.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  size_t lines_with(std::string_view needle) const {
    std::istringstream in(out_.str());
    size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// A client socket, connected (non-blocking connect on a Unix socket completes
// at once while the backlog has room).
int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What the server said first, if anything within `timeout_ms`.
std::string first_words(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return "";
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

class ServerAccept : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tg-accept-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "s.sock").string();
    ASSERT_EQ(uv_loop_init(&loop_), 0);
  }
  void TearDown() override {
    for (int fd : clients_) ::close(fd);
    if (server_) {
      server_->stop_listening();
      server_->stop();
      server_.reset();
    }
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0);  // no handle leaked
    std::filesystem::remove_all(dir_);
  }
  void start(size_t max_connections, std::function<bool(const PeerCredentials&)> allow_peer = {}) {
    server_ = std::make_unique<Server>(&loop_, 1, limits_, max_connections);
    ListenerOptions options;
    options.path = path_;
    options.service = &service_;
    options.allow_peer = std::move(allow_peer);
    ASSERT_TRUE(server_->listen(options));
    ASSERT_TRUE(server_->start());
  }
  // Runs the control loop until `done`, for at most `timeout_ms`.
  bool run_until(const std::function<bool()>& done, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    return true;
  }

  std::filesystem::path dir_;
  std::string path_;
  uv_loop_t loop_;
  ConnectionLimits limits_;
  NullService service_;
  std::unique_ptr<Server> server_;
  std::vector<int> clients_;
};

TEST_F(ServerAccept, ABurstNeverPassesMaxConnections) {
  // Verifies a burst accepted in one go is counted from accept: with a limit
  // of 10, 30 clients connecting at once leave exactly 10 served and 20
  // refused, even though no worker has adopted any of them yet.
  start(10);
  for (int i = 0; i < 30; ++i) clients_.push_back(connect_to(path_));
  ASSERT_TRUE(run_until([&] { return server_->stats().rejected_max_clients == 20; }));
  EXPECT_LE(server_->stats().connections, 10u);
  int refused = 0;
  for (int fd : clients_) refused += first_words(fd, 50).starts_with("-ERR max number of clients reached");
  EXPECT_EQ(refused, 20);
  EXPECT_EQ(server_->stats().connections, 10u);
  // When served clients leave, their slots come back.
  for (int& fd : clients_) {
    ::close(fd);
    fd = -1;
  }
  clients_.clear();
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
  int again = connect_to(path_);
  clients_.push_back(again);
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 1; }));
}

TEST_F(ServerAccept, RefusedPeersAreLoggedOncePerInterval) {
  // Verifies a flood of refused peers is counted one by one but logged as
  // one line per interval.
  LogCapture log;
  start(100, [](const PeerCredentials&) { return false; });
  constexpr int kPeers = 2000;
  for (int i = 0; i < kPeers; ++i) {
    int fd = connect_to(path_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(run_until([&] { return server_->stats().rejected_peers == static_cast<uint64_t>(i + 1); }));
    ::close(fd);
  }
  EXPECT_EQ(server_->stats().rejected_peers, static_cast<uint64_t>(kPeers));
  EXPECT_EQ(log.lines_with("refused peer"), 1u);
}

// Open descriptors of this process.
size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(ServerAccept, OutOfDescriptorsRefusesWithAReasonAndBacksOff) {
  // Verifies that with no descriptor left the acceptor refuses the waiting
  // clients with a reason (through its spare descriptor), pauses instead of
  // spinning on the readable listener, logs once, and accepts again once
  // descriptors are back.
  LogCapture log;
  start(100);
  // UBSan's first check of a dynamic type (a virtual call through Clock&,
  // the log sinks) opens a pipe; with no descriptor left it would report a
  // false error. Make those first checks now.
  SystemClock clock;
  (void)static_cast<const Clock&>(clock).now();
  spdlog::info("warm-up");
  // The worker thread's first call through Service& (Worker::start's
  // begin_batch) may come only after the descriptors are gone on a loaded
  // machine (a CI run failed so); UBSan's type cache is process-wide, so
  // one checked call here covers it.
  Service& service = service_;
  service.begin_batch(0);
  service.end_batch(0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Client sockets first: connect() needs no new descriptor afterwards.
  std::vector<int> sockets;
  for (int i = 0; i < 5; ++i) sockets.push_back(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit tight = saved;
  tight.rlim_cur = open_fds() + 16;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> fillers;  // take every descriptor left
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  for (int fd : sockets) ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  bool refused_all = run_until([&] { return server_->stats().rejected_fd_limit == 5; });
  const uint64_t pauses = server_->stats().accept_pauses;
  // Loop turns while paused do not retry the listener (no more pauses, no spin).
  for (int i = 0; i < 1000; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  const uint64_t pauses_after = server_->stats().accept_pauses;
  for (int fd : fillers) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(refused_all) << "refused " << server_->stats().rejected_fd_limit << ", pauses " << pauses
                          << ", connections " << server_->stats().connections;
  EXPECT_GE(pauses, 1u);
  EXPECT_LE(pauses_after, pauses + 1);
  for (int fd : sockets) {
    EXPECT_TRUE(first_words(fd, 1000).starts_with("-ERR server out of file descriptors")) << fd;
    ::close(fd);
  }
  EXPECT_EQ(log.lines_with("Too many open files"), 1u);
  // Descriptors are back: after the pause, a client is served.
  int fd = connect_to(path_);
  clients_.push_back(fd);
  EXPECT_TRUE(run_until([&] { return server_->stats().connections == 1; }));
}

}  // namespace
}  // namespace tollgate
