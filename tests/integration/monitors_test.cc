// Monitors against a real tollgated: an absolute volume threshold blocks the
// channel within 2 s of real time, the block survives a restart and lifts by
// itself; MONITOR CLEAR lifts one early; events reach a webhook receiver on
// a free loopback port, retried while it is down, and never hold up a call;
// EVENTS FOLLOW pushes each new event to the admin connection that follows.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Answer {
  long long allowed = -1;
  std::string code;
  std::string limit;
};

Answer check(redisContext* c, const std::string& key, const std::string& channel) {
  Reply r = command(c, {"CHECK", key, "CHANNEL", channel});
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
    ADD_FAILURE() << "CHECK failed";
    return {};
  }
  return {r->element[0]->integer, r->element[1]->str, std::string(r->element[2]->str, r->element[2]->len)};
}

std::vector<std::string> event_kinds(redisContext* admin) {
  std::vector<std::string> kinds;
  Reply r = command(admin, {"EVENTS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return kinds;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    for (size_t f = 0; f + 1 < e->elements; f += 2)
      if (std::string(e->element[f]->str) == "kind") kinds.emplace_back(e->element[f + 1]->str);
  }
  return kinds;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Polls CHECK on `channel` until its answer's `allowed` is `want`, for at most `limit`.
std::chrono::milliseconds until(redisContext* c, const std::string& channel, long long want, Answer& last,
                                std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    last = check(c, "live", channel);
    if (last.allowed == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition, with a deadline
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

const std::string kLive = R"(
contracts:
  live:
    channels: [web, batch]
    monitors:
      - name: web-volume
        kind: volume
        per: channel
        period: hour
        above: 50
        actions:
          - { do: event }
          - { do: block_channel, for: 3s }
)";

// Verifies the live path: 51 calls on `web` cross `above: 50`; within 2 s the
// next CHECK on web is denied CHANNEL (limit "monitor") with the reason in
// CONTRACT while `batch` still passes; the block survives a restart, lifts
// by itself after `for: 3s`, and MONITOR CLEAR lifts a second one (on
// batch: web's monitor is still firing after the restart) at once.
TEST(Monitors, VolumeBlocksTheChannelSurvivesRestartAndExpires) {
  TempDir state;
  Answer last;
  {
    Daemon d(kLive, EmbeddedStorage{state.file("var"), 20, ""});
    ASSERT_TRUE(d.wait_ready());
    Client c = d.connect();
    for (int i = 0; i < 51; ++i) ASSERT_EQ(check(c.get(), "live", "web").allowed, 1) << i;
    const auto took = until(c.get(), "web", 0, last, std::chrono::milliseconds(2000));
    EXPECT_EQ(last.allowed, 0) << "not blocked within 2 s";
    EXPECT_EQ(last.code, "CHANNEL");
    EXPECT_EQ(last.limit, "monitor");
    std::printf("blocked %lld ms after crossing the threshold\n", static_cast<long long>(took.count()));
    EXPECT_EQ(check(c.get(), "live", "batch").allowed, 1);
    Client admin = d.connect_admin();
    auto f = fields(admin.get(), {"CONTRACT", "live"});
    EXPECT_EQ(f["actions"], "1");
    EXPECT_EQ(f["action.0.kind"], "block_channel");
    EXPECT_EQ(f["action.0.channel"], "web");
    EXPECT_EQ(f["action.0.monitor"], "web-volume");
    // The measure at the tick that fired: 51 or more (polls pass until then).
    EXPECT_TRUE(f["action.0.reason"].starts_with("calls_hour ") && f["action.0.reason"].ends_with(" > 50"))
        << f["action.0.reason"];
    const auto kinds = event_kinds(admin.get());
    EXPECT_TRUE(contains(kinds, "monitor.fired"));
    EXPECT_TRUE(contains(kinds, "monitor.action"));
    Reply info = command(admin.get(), {"INFO", "monitors"});
    ASSERT_TRUE(info && info->type == REDIS_REPLY_STRING);
    EXPECT_NE(std::string(info->str).find("monitor_firings:1"), std::string::npos) << info->str;
    EXPECT_EQ(d.stop(), 0);
  }
  Daemon d(kLive, EmbeddedStorage{state.file("var"), 20, ""});
  ASSERT_TRUE(d.wait_ready());
  Client c = d.connect();
  last = check(c.get(), "live", "web");
  EXPECT_EQ(last.code, "CHANNEL") << "the block did not survive the restart";
  EXPECT_EQ(check(c.get(), "live", "batch").allowed, 1);
  until(c.get(), "web", 1, last, std::chrono::milliseconds(6000));
  EXPECT_EQ(last.allowed, 1) << "the block did not lift by itself";
  Client admin = d.connect_admin();
  EXPECT_TRUE(contains(event_kinds(admin.get()), "monitor.lift"));

  // web's monitor came back still firing (the hour's count survived the
  // restart), so its block is not put again; batch crosses on its own, and
  // an operator lifts that block.
  for (int i = 0; i < 51; ++i) check(c.get(), "live", "batch");
  until(c.get(), "batch", 0, last, std::chrono::milliseconds(2000));
  ASSERT_EQ(last.code, "CHANNEL");
  EXPECT_EQ(check(c.get(), "live", "web").allowed, 1);
  Reply cleared = command(admin.get(), {"MONITOR", "CLEAR", "live"});
  ASSERT_TRUE(cleared && cleared->type == REDIS_REPLY_INTEGER);
  EXPECT_EQ(cleared->integer, 1);
  EXPECT_EQ(check(c.get(), "live", "batch").allowed, 1);
  Reply bad = command(admin.get(), {"MONITOR", "CLEAR", "nobody"});
  ASSERT_TRUE(bad && bad->type == REDIS_REPLY_ERROR);
}

// A minimal HTTP receiver on 127.0.0.1:<port>: answers 200 to every request
// and keeps the bodies. Stopped, the port refuses connections.
class Receiver {
 public:
  Receiver() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::close(fd);  // reserved, and down until start()
  }
  ~Receiver() { stop(); }
  int port() const { return port_; }
  bool start() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 16) != 0) return false;
    running_ = true;
    thread_ = std::thread([this] { serve(); });
    return true;
  }
  void stop() {
    if (!running_.exchange(false)) return;
    thread_.join();
    ::close(fd_);
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  void serve() {
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      std::string in;
      char buf[4096];
      size_t want = std::string::npos;
      while (want == std::string::npos || in.size() < want) {
        pollfd q{conn, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        const ssize_t n = ::read(conn, buf, sizeof(buf));
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        const size_t end = in.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
          const size_t cl = in.find("Content-Length: ");
          want = end + 4 + (cl != std::string::npos && cl < end ? std::stoul(in.substr(cl + 16)) : 0);
        }
      }
      const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      [[maybe_unused]] ssize_t w = ::write(conn, ok.data(), ok.size());
      ::close(conn);
      if (want != std::string::npos && in.size() >= want) {
        std::lock_guard lock(mutex_);
        bodies_.push_back(in.substr(in.find("\r\n\r\n") + 4));
      }
    }
  }
  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> bodies_;
};

// Verifies the webhook: with the receiver down, the firing is retried (with
// backoff) while CHECKs keep being answered at once; once it is up the
// event is delivered, and the JSON-lines file holds the same event.
TEST(Monitors, WebhookIsRetriedWhileTheReceiverIsDownAndNeverBlocksCalls) {
  Receiver receiver;
  TempDir out;
  const std::string body = "monitor_events:\n  file: " + out.file("events.jsonl") +
                           "\n  webhook: http://127.0.0.1:" + std::to_string(receiver.port()) +
                           "/hook\n  webhook_timeout: 1s\n" + R"(
contracts:
  live:
    channels: [web]
    monitors:
      - name: busy
        kind: volume
        period: hour
        above: 5
)";
  Daemon d(body);
  ASSERT_TRUE(d.wait_ready());
  Client c = d.connect();
  Client admin = d.connect_admin();
  for (int i = 0; i < 6; ++i) check(c.get(), "live", "web");
  // Wait for the firing and at least one failed attempt; calls meanwhile are answered at once.
  auto info_value = [&](const std::string& name) {
    Reply r = command(admin.get(), {"INFO", "monitors"});
    const std::string text = r && r->type == REDIS_REPLY_STRING ? r->str : "";
    const size_t at = text.find(name + ":");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size() + 1));
  };
  auto slowest = std::chrono::nanoseconds(0);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (info_value("monitor_webhook_failures") < 1 && Clock::now() < deadline) {
    const auto t = Clock::now();
    check(c.get(), "live", "web");
    slowest = std::max(slowest, std::chrono::nanoseconds(Clock::now() - t));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(info_value("monitor_webhook_failures"), 1);
  EXPECT_EQ(info_value("monitor_webhook_delivered"), 0);
  std::printf("slowest CHECK while the webhook was down: %.3f ms\n", slowest.count() / 1e6);
  ASSERT_TRUE(receiver.start());
  const auto delivered_by = Clock::now() + std::chrono::seconds(6);
  while (receiver.bodies().empty() && Clock::now() < delivered_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto bodies = receiver.bodies();
  ASSERT_FALSE(bodies.empty()) << "not delivered after the receiver came up";
  EXPECT_NE(bodies.front().find("\"kind\":\"monitor.fired\""), std::string::npos) << bodies.front();
  EXPECT_NE(bodies.front().find("\"contract\":\"live\""), std::string::npos) << bodies.front();
  EXPECT_NE(bodies.front().find("\"threshold\":5"), std::string::npos) << bodies.front();
  std::ifstream file(out.file("events.jsonl"));
  std::stringstream lines;
  lines << file.rdbuf();
  EXPECT_NE(lines.str().find(bodies.front()), std::string::npos) << lines.str();
}

// The `kind` of one EVENTS entry (a field/value array), or "".
std::string kind_of(const redisReply* e) {
  if (e == nullptr || e->type != REDIS_REPLY_ARRAY) return "";
  for (size_t f = 0; f + 1 < e->elements; f += 2)
    if (std::string(e->element[f]->str) == "kind") return e->element[f + 1]->str;
  return "";
}

// Reads pushed events on a following connection until one of `kind` comes
// (the connection's read timeout is the deadline). The kinds seen, in order.
std::vector<std::string> read_until(redisContext* follower, const std::string& kind) {
  std::vector<std::string> seen;
  while (true) {
    void* raw = nullptr;
    if (redisGetReply(follower, &raw) != REDIS_OK) {
      ADD_FAILURE() << "no '" << kind << "' event pushed in time; saw " << seen.size();
      return seen;
    }
    Reply r(static_cast<redisReply*>(raw));
    seen.push_back(kind_of(r.get()));
    if (seen.back() == kind) return seen;
  }
}

// Verifies EVENTS FOLLOW: the current list first, then each new event — an
// operator's SUSPEND/RESUME on another admin connection, a monitor firing and
// its action — pushed to the follower as it happens; other admin connections
// answer as before, and the follower answers only PING and QUIT.
TEST(Monitors, EventsFollowPushesEachNewEvent) {
  Daemon d(kLive);
  ASSERT_TRUE(d.wait_ready());
  Client admin = d.connect_admin();
  Reply s = command(admin.get(), {"SUSPEND", "live", "before"});
  ASSERT_TRUE(s && s->type != REDIS_REPLY_ERROR);
  Client follower = d.connect_admin();
  const timeval deadline{5, 0};  // each wait below: at most 5 s
  redisSetTimeout(follower.get(), deadline);
  Reply list = command(follower.get(), {"EVENTS", "FOLLOW"});
  ASSERT_TRUE(list && list->type == REDIS_REPLY_ARRAY);
  ASSERT_EQ(list->elements, 1u);
  EXPECT_EQ(kind_of(list->element[0]), "suspend");

  Reply r = command(admin.get(), {"RESUME", "live"});
  ASSERT_TRUE(r && r->type != REDIS_REPLY_ERROR);
  EXPECT_EQ(read_until(follower.get(), "resume"), std::vector<std::string>{"resume"});
  // Other admin connections are unaffected; the follower refuses commands.
  EXPECT_EQ(event_kinds(admin.get()), (std::vector<std::string>{"suspend", "resume"}));
  Reply refused = command(follower.get(), {"CONTRACT", "live"});
  ASSERT_TRUE(refused && refused->type == REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(refused->str).find("follows EVENTS"), std::string::npos) << refused->str;
  Reply pong = command(follower.get(), {"PING"});
  ASSERT_TRUE(pong && pong->type == REDIS_REPLY_STATUS);

  Client c = d.connect();
  for (int i = 0; i < 51; ++i) ASSERT_EQ(check(c.get(), "live", "web").allowed, 1) << i;
  const auto seen = read_until(follower.get(), "monitor.action");
  EXPECT_EQ(seen.front(), "monitor.fired");
  EXPECT_EQ(d.stop(), 0);
}

// The `output_buffer_overflows` count in INFO clients, or -1.
long long overflows(redisContext* admin) {
  Reply info = command(admin, {"INFO", "clients"});
  if (!info || info->type != REDIS_REPLY_STRING) return -1;
  const std::string text(info->str, info->len);
  const std::string name = "output_buffer_overflows:";
  const size_t at = text.find(name);
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size()));
}

// Verifies a follower that never reads is bounded by server.max_output: the
// events it does not take pile up until it is dropped (counted as an output
// overflow), while the admin connection making the changes keeps being
// answered — nothing waits for the follower.
TEST(Monitors, EventsFollowerThatDoesNotReadIsDropped) {
  Daemon d(kLive, "threads: 2\n  max_output: 4096");
  ASSERT_TRUE(d.wait_ready());
  Client follower = d.connect_admin();
  Reply list = command(follower.get(), {"EVENTS", "FOLLOW"});
  ASSERT_TRUE(list && list->type == REDIS_REPLY_ARRAY);
  Client admin = d.connect_admin();
  ASSERT_EQ(overflows(admin.get()), 0);
  const std::string reason(2000, 'r');  // each event carries it: the socket buffer fills in a few hundred
  const auto start = Clock::now();
  long long dropped = 0;
  while (dropped == 0 && Clock::now() - start < std::chrono::seconds(20)) {
    for (int i = 0; i < 50; ++i) {
      Reply a = command(admin.get(), {"SUSPEND", "live", reason});
      ASSERT_TRUE(a && a->type == REDIS_REPLY_STATUS);
      Reply b = command(admin.get(), {"RESUME", "live"});
      ASSERT_TRUE(b && b->type == REDIS_REPLY_STATUS);
    }
    dropped = overflows(admin.get());
  }
  EXPECT_EQ(dropped, 1) << "the follower was not dropped";
  Reply pong = command(admin.get(), {"PING"});
  ASSERT_TRUE(pong && pong->type == REDIS_REPLY_STATUS);
  EXPECT_EQ(d.stop(), 0);
}

// Verifies `tollgate events --follow`: the CLI prints the current list, then
// a line for an event added afterwards, as it happens (read from its stdout
// with a deadline), and keeps running until stopped.
TEST(Monitors, CliEventsFollowPrintsNewEventsAsTheyHappen) {
  Daemon d(kLive);
  ASSERT_TRUE(d.wait_ready());
  Client admin = d.connect_admin();
  Reply s = command(admin.get(), {"SUSPEND", "live", "first"});
  ASSERT_TRUE(s && s->type == REDIS_REPLY_STATUS);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const std::string socket = d.admin_socket();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(TOLLGATE_CLI_PATH, TOLLGATE_CLI_PATH, "--admin-socket", socket.c_str(), "events", "--follow",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  // Reads the CLI's output until it holds `want`, for at most 5 s.
  auto read_until_text = [&](const std::string& want) {
    const auto start = Clock::now();
    while (text.find(want) == std::string::npos && Clock::now() - start < std::chrono::seconds(5)) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out[0], buf, sizeof(buf));
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    return text.find(want) != std::string::npos;
  };
  EXPECT_TRUE(read_until_text("kind=suspend")) << text;
  Reply r = command(admin.get(), {"RESUME", "live"});
  ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
  EXPECT_TRUE(read_until_text("kind=resume")) << text;
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, WNOHANG), 0) << "the CLI stopped following";
  ::kill(child, SIGTERM);
  ::waitpid(child, &status, 0);
  ::close(out[0]);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace tollgate::testing
