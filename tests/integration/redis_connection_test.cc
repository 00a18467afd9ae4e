// persist::RedisConnection against a real redis-server on a temporary Unix
// socket: the handshake (AUTH, PING), a refused AUTH, reconnecting after the
// server restarts, backoff while it is unreachable, and the connect and
// command timeouts. The test drives the connection's libuv loop itself; time
// for the timeouts is a ManualClock (no test sleeps for a timeout to pass),
// and every test ends by asserting the loop closes with no handle left.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "integration/daemon_harness.h"
#include "persist/redis/redis_connection.h"

namespace tollgate::testing {
namespace {

using persist::RedisConnection;

// What the connection reported, in order.
struct Log {
  int ready = 0;
  int reconnected = 0;
  int lost = 0;
  int lost_while_ready = 0;
  int connect_failed = 0;
  int command_timeouts = 0;
  std::vector<std::string> refused;  // "<command>: <error>"
  std::string last_lost;
};

// One RedisConnection on a loop of its own, run from the test thread.
class Harness {
 public:
  explicit Harness(RedisConfig config) {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &heartbeat_);  // keeps uv_run(ONCE) from blocking on a quiet loop
    uv_timer_start(&heartbeat_, [](uv_timer_t*) {}, 5, 5);
    RedisConnection::Events events;
    events.ready = [this](bool again) {
      ++log.ready;
      if (again) ++log.reconnected;
    };
    events.lost = [this](const std::string& why, bool was_ready) {
      ++log.lost;
      if (was_ready) ++log.lost_while_ready;
      log.last_lost = why;
    };
    events.connect_failed = [this](const std::string&) { ++log.connect_failed; };
    events.refused = [this](std::string_view command, const std::string& error) {
      log.refused.push_back(std::string(command) + ": " + error);
    };
    events.command_timeout = [this] { ++log.command_timeouts; };
    connection.emplace(std::move(config), clock, std::move(events));
    connection->start(&loop_);
  }

  ~Harness() {
    if (!closed_) close();
  }

  // Runs the loop until `condition` holds or `timeout_ms` passes.
  bool run_until(const std::function<bool()>& condition, int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!condition() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    return condition();
  }

  // Sends `argv` and runs the loop until its reply; the reply as text
  // ("(nil-reply)" when the handler got null), and whether it was current.
  std::pair<std::string, bool> round_trip(const std::vector<std::string>& argv) {
    std::optional<std::pair<std::string, bool>> got;
    connection->send(argv, [&](const redisReply* reply, bool current) {
      got.emplace(reply == nullptr ? std::string("(nil-reply)") : std::string(reply->str, reply->len), current);
    });
    EXPECT_TRUE(run_until([&] { return got.has_value(); }));
    return got.value_or(std::pair<std::string, bool>{"(no reply)", false});
  }

  // Closes the connection and the loop; every handle must be gone.
  void close() {
    closed_ = true;
    connection->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&heartbeat_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a libuv handle outlived the connection";
  }

  ManualClock clock;
  Log log;
  std::optional<RedisConnection> connection;

 private:
  uv_loop_t loop_{};
  uv_timer_t heartbeat_{};
  bool closed_ = false;
};

RedisConfig config_for(const RedisServer& server, std::string password = "") {
  RedisConfig c;
  c.socket = server.socket();
  c.password = std::move(password);
  c.connect_timeout = 2 * kNanosPerSecond;
  c.command_timeout = 2 * kNanosPerSecond;
  return c;
}

// Verifies a connection with the right password becomes ready once and
// carries commands both ways, answered on the live connection.
TEST(RedisConnection, ConnectsAuthenticatesAndCarriesCommands) {
  RedisServer server("s3cret");
  ASSERT_TRUE(server.start());
  Harness h(config_for(server, "s3cret"));
  ASSERT_TRUE(h.run_until([&] { return h.connection->ready(); }));
  EXPECT_EQ(h.log.ready, 1);
  EXPECT_EQ(h.log.reconnected, 0);
  EXPECT_TRUE(h.log.refused.empty());
  EXPECT_EQ(h.round_trip({"SET", "greeting", "hello"}), std::make_pair(std::string("OK"), true));
  EXPECT_EQ(h.round_trip({"GET", "greeting"}), std::make_pair(std::string("hello"), true));
  h.close();
  EXPECT_EQ(h.log.lost, 1);  // close() reports the drop
  EXPECT_EQ(h.log.last_lost, "shutting down");
}

// Verifies a refused AUTH is reported as such and the connection never
// becomes ready (the PING behind it is refused and the link dropped), and
// that it keeps retrying.
TEST(RedisConnection, RefusedAuthIsReportedAndNeverReady) {
  RedisServer server("s3cret");
  ASSERT_TRUE(server.start());
  Harness h(config_for(server, "wrong"));
  ASSERT_TRUE(h.run_until([&] { return h.connection->generation() >= 2; }));  // dropped, then tried again
  EXPECT_FALSE(h.connection->ready());
  EXPECT_EQ(h.log.ready, 0);
  ASSERT_FALSE(h.log.refused.empty());
  EXPECT_EQ(h.log.refused.front().rfind("AUTH: ", 0), 0u) << h.log.refused.front();
  EXPECT_GE(h.log.lost, 1);
  EXPECT_EQ(h.log.lost_while_ready, 0);
}

// Verifies the connection notices the server going away, answers commands
// sent meanwhile with null at once, and reconnects by itself when the server
// is back (reported as a reconnect).
TEST(RedisConnection, ReconnectsAfterTheServerRestarts) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  Harness h(config_for(server));
  ASSERT_TRUE(h.run_until([&] { return h.connection->ready(); }));
  EXPECT_EQ(h.round_trip({"SET", "k", "1"}).first, "OK");

  server.kill();
  ASSERT_TRUE(h.run_until([&] { return h.log.lost_while_ready == 1; }));
  EXPECT_FALSE(h.connection->ready());
  EXPECT_EQ(h.round_trip({"GET", "k"}), std::make_pair(std::string("(nil-reply)"), false));

  ASSERT_TRUE(server.start());
  ASSERT_TRUE(h.run_until([&] { return h.connection->ready(); }, 20000));
  EXPECT_EQ(h.log.ready, 2);
  EXPECT_EQ(h.log.reconnected, 1);
  EXPECT_EQ(h.round_trip({"SET", "k", "2"}), std::make_pair(std::string("OK"), true));
}

// Verifies an unreachable server is retried with growing pauses: a failed
// attempt is reported each time, not in a tight loop.
TEST(RedisConnection, RetriesAnUnreachableServerWithBackoff) {
  RedisServer server;  // never started: its socket does not exist
  Harness h(config_for(server));
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.run_until([&] { return h.log.connect_failed >= 3; }));
  // Attempts at 0, +100 ms, +200 ms (the backoff doubles): at least 300 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(290));
  EXPECT_FALSE(h.connection->ready());
  EXPECT_EQ(h.log.ready, 0);
}

// Verifies a command left unanswered past command_timeout drops the
// connection (its handler gets null), and that the connection comes back
// once the server answers again.
TEST(RedisConnection, CommandTimeoutDropsTheConnection) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  Harness h(config_for(server));
  ASSERT_TRUE(h.run_until([&] { return h.connection->ready(); }));
  server.pause();
  std::optional<bool> null_reply;
  h.connection->send({"PING"}, [&](const redisReply* reply, bool) { null_reply = reply == nullptr; });
  h.connection->check_timeouts(h.clock.now() + h.connection->config().command_timeout);  // not yet past it
  EXPECT_FALSE(null_reply.has_value());
  EXPECT_EQ(h.log.command_timeouts, 0);
  h.connection->check_timeouts(h.clock.now() + h.connection->config().command_timeout + 1);
  EXPECT_EQ(h.log.command_timeouts, 1);
  ASSERT_TRUE(null_reply.has_value());
  EXPECT_TRUE(*null_reply);
  EXPECT_FALSE(h.connection->ready());
  EXPECT_NE(h.log.last_lost.find("command_timeout"), std::string::npos) << h.log.last_lost;
  server.resume();
  ASSERT_TRUE(h.run_until([&] { return h.connection->ready(); }));
  EXPECT_EQ(h.log.reconnected, 1);
}

// Verifies a connection whose handshake is not answered within
// connect_timeout is dropped (and retried).
TEST(RedisConnection, ConnectTimeoutDropsAnUnansweredHandshake) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  server.pause();  // the socket accepts, nothing answers PING
  Harness h(config_for(server));
  ASSERT_EQ(h.connection->generation(), 1u);
  h.connection->check_timeouts(h.clock.now() + h.connection->config().connect_timeout + 1);
  EXPECT_EQ(h.log.lost, 1);
  EXPECT_NE(h.log.last_lost.find("connect_timeout"), std::string::npos) << h.log.last_lost;
  EXPECT_EQ(h.log.command_timeouts, 0);
  server.resume();
  ASSERT_TRUE(h.run_until([&] { return h.connection->ready(); }));
  EXPECT_EQ(h.log.reconnected, 0);  // the first time it became ready
  EXPECT_EQ(h.connection->generation(), 2u);
}

}  // namespace
}  // namespace tollgate::testing
