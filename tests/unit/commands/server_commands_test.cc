// Server commands on a DataService over a real engine: INFO's line format with
// adversarial contract keys and limit names, and HELLO/CLIENT name validation.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "commands/data_service.h"
#include "commands/info_text.h"
#include "engine/engine.h"
#include "net/worker.h"
#include "unit/commands/service_harness.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

LimitSpec shadow_quota(std::string name) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = LimitType::kQuota;
  s.limit = 10;
  s.period = Period::kDay;
  s.shadow = true;
  return s;
}

struct ServiceHarness {
  explicit ServiceHarness(const EngineOptions& options) {
    auto e = Engine::create(options, reclaimer, kNow, state);
    EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().front());
    engine = std::move(*e);
    service = std::make_unique<DataService>(*engine, clock, reclaimer, 1, ServiceInfo{});
  }
  // Runs one command and returns the raw RESP reply.
  std::string run(std::vector<std::string_view> args) { return testing::run_command(*service, session, args); }
  // The text of a bulk reply.
  std::string bulk(std::vector<std::string_view> args) {
    std::string reply = run(std::move(args));
    EXPECT_EQ(reply.substr(0, 1), "$") << reply;
    size_t eol = reply.find("\r\n");
    return reply.substr(eol + 2, reply.size() - eol - 4);
  }

  ManualClock clock{kNow};
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<DataService> service;
  Session session;
};

std::vector<std::string> split(std::string_view text, std::string_view sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t next = text.find(sep, pos);
    out.emplace_back(text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) return out;
    pos = next + sep.size();
  }
}

// Verifies every INFO line is `name:value` with a name free of ':' (and
// unique, so a parser keeping one value per name keeps them all), and that
// the k=v fields of the limit lines decode back to the adversarial contract
// keys, key-class patterns and limit names they came from.
TEST(InfoCommand, KeysWithSeparatorsStayInsideTheirFields) {
  const std::vector<std::string> contracts = {"partner:acme", "t:a=1,b", "sp ace", "pct%41", "ctl\r\nx:y", "#hash",
                                              "\xc3\xbc:=,%"};
  EngineOptions o;
  for (const auto& name : contracts) {
    PolicySpec p;
    p.name = name;
    p.limits = {shadow_quota("trial"), shadow_quota("a=b,c:d")};
    p.rules = ContractRules{};
    o.contracts.push_back(std::move(p));
  }
  PolicySpec cls;
  cls.name = "ip:v6:*";
  cls.limits = {shadow_quota("x y")};
  o.key_classes.push_back(std::move(cls));
  ServiceHarness h(o);

  std::string text = h.bulk({"INFO", "limits"});
  std::set<std::string> names;
  std::multiset<std::pair<std::string, std::string>> seen;  // (owner, limit) from shadow lines
  std::set<std::string> estimates;                           // contracts with an estimate line
  for (const std::string& line : split(text, "\r\n")) {
    if (line.empty() || line[0] == '#') continue;
    ASSERT_EQ(line.find('\n'), std::string::npos) << line;
    ASSERT_EQ(line.find('\r'), std::string::npos) << line;
    size_t colon = line.find(':');
    ASSERT_NE(colon, std::string::npos) << line;
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    if (name == "shadow_mode") continue;
    std::map<std::string, std::string> fields;
    for (const std::string& pair : split(value, ",")) {
      auto kv = split(pair, "=");
      ASSERT_EQ(kv.size(), 2u) << "field '" << pair << "' of " << line;
      ASSERT_EQ(kv[1].find(':'), std::string::npos) << line;
      fields[kv[0]] = info_unescape(kv[1]);
    }
    if (name.starts_with("shadow_limit")) {
      EXPECT_EQ(fields["shadow_denials"], "0") << line;
      std::string owner = fields.count("contract") ? fields["contract"] : "class " + fields["key_class"];
      seen.emplace(owner, fields["limit"]);
    } else {
      ASSERT_TRUE(name.starts_with("distinct_subjects")) << line;
      estimates.insert(fields["contract"]);
    }
  }
  std::multiset<std::pair<std::string, std::string>> expected;
  for (const auto& c : contracts) {
    expected.emplace(c, "trial");
    expected.emplace(c, "a=b,c:d");
  }
  expected.emplace("class ip:v6:*", "x y");
  EXPECT_EQ(seen, expected) << text;
  EXPECT_EQ(estimates, std::set<std::string>(contracts.begin(), contracts.end())) << text;
}

// Verifies info_escape leaves plain names readable and round-trips every byte.
TEST(InfoCommand, EscapeRoundTripsEveryByte) {
  EXPECT_EQ(info_escape("acme-loans_2.v1/*"), "acme-loans_2.v1/*");
  EXPECT_EQ(info_escape("partner:acme"), "partner%3Aacme");
  EXPECT_EQ(info_escape("a=1,b %"), "a%3D1%2Cb%20%25");
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string escaped = info_escape(all);
  for (char c : escaped) {
    EXPECT_TRUE(c > ' ' && c < 0x7f && c != ':' && c != ',' && c != '=') << int(c);
  }
  EXPECT_EQ(info_unescape(escaped), all);
}

// Verifies HELLO … SETNAME and CLIENT SETNAME accept and refuse exactly the
// same names (one validation), and a refused HELLO changes nothing.
TEST(ClientName, HelloAndClientSetnameAgree) {
  ServiceHarness h(EngineOptions{});
  const std::string long_name(257, 'n');
  const std::vector<std::string> names = {"worker-1", "", "has space", "new\nline", "tab\t", "caf\xc3\xa9",
                                          "del\x7f", std::string(256, 'a'), long_name};
  for (const std::string& name : names) {
    h.session.name = "before";
    std::string via_client = h.run({"CLIENT", "SETNAME", name});
    std::string client_name = h.session.name;
    h.session.name = "before";
    std::string via_hello = h.run({"HELLO", "2", "SETNAME", name});
    const bool client_ok = via_client == "+OK\r\n";
    const bool hello_ok = via_hello.starts_with("*");
    EXPECT_EQ(client_ok, hello_ok) << "name '" << name << "': " << via_client << " / " << via_hello;
    if (!client_ok) {
      EXPECT_EQ(via_client, via_hello);  // the same error text
      EXPECT_EQ(client_name, "before");
      EXPECT_EQ(h.session.name, "before");
    } else {
      EXPECT_EQ(client_name, name);
      EXPECT_EQ(h.session.name, name);
    }
  }
  EXPECT_EQ(h.run({"CLIENT", "SETNAME", "bad name"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(h.run({"CLIENT", "SETNAME", long_name}), "-ERR Client names are at most 256 bytes.\r\n");
  // A valid SETNAME followed by a bad option: the whole HELLO is refused.
  h.session.name = "before";
  EXPECT_TRUE(h.run({"HELLO", "2", "SETNAME", "ok", "AUTH", "x"}).starts_with("-ERR syntax error"));
  EXPECT_EQ(h.session.name, "before");
}

// Verifies the clock past the end of int64 nanoseconds (year 2262) reads as
// SystemClock::kMax instead of wrapping negative, and below the epoch as 0.
TEST(ClockLimit, SystemClockSaturates) {
  EXPECT_EQ(SystemClock::from_timespec(1'700'000'000, 7), 1'700'000'000 * kNanosPerSecond + 7);
  EXPECT_EQ(SystemClock::from_timespec(9'223'372'036, 0), SystemClock::kMax);   // 2262-04-11
  EXPECT_EQ(SystemClock::from_timespec(9'300'000'000, 999'999'999), SystemClock::kMax);
  EXPECT_EQ(SystemClock::from_timespec(INT64_MAX, 0), SystemClock::kMax);
  EXPECT_EQ(SystemClock::from_timespec(-1, 0), 0);
  EXPECT_TRUE(SystemClock::out_of_range(9'000'000'000));
  EXPECT_FALSE(SystemClock::out_of_range(8'999'999'999));
  EXPECT_GT(SystemClock().now(), 0);
  EXPECT_LT(SystemClock().now(), SystemClock::kMax);
}

// Verifies that with the clock a daemon reads in 2264 (saturated) every
// command still answers, decisions stay defined (and charge), and PING is
// answered through a real worker and connection.
TEST(ClockLimit, CommandsAnswerAtTheEndOfTime) {
  const Nanos end = SystemClock::from_timespec(9'300'000'000, 0);
  EngineOptions o;
  PolicySpec c;
  c.name = "c";
  LimitSpec bucket, window, quota;
  bucket.name = "b";
  bucket.type = LimitType::kTokenBucket;
  bucket.rate = 10;
  bucket.per = kNanosPerSecond;
  bucket.burst = 2;
  window.name = "w";
  window.type = LimitType::kSlidingWindow;
  window.limit = 3;
  window.window = 60 * kNanosPerSecond;
  quota.name = "q";
  quota.type = LimitType::kQuota;
  quota.limit = 100;
  quota.period = Period::kMonth;
  c.limits = {bucket, window, quota};
  c.rules = ContractRules{};
  c.rules->concurrency = {{"inflight", 1, false}};
  o.contracts.push_back(c);
  o.timezone = "UTC";
  ManualClock clock(end);
  Reclaimer reclaimer;
  RuntimeState state;
  auto engine = Engine::create(o, reclaimer, end, state);
  ASSERT_TRUE(engine.has_value()) << engine.error().front();
  DataService service(**engine, clock, reclaimer, 1, ServiceInfo{});
  Session session;
  auto run = [&](std::vector<std::string_view> args) {
    std::string buffer;
    resp::ReplyWriter out(buffer);
    service.begin_batch(0);
    session.now = service.batch_now(0);  // as the connection does
    service.execute(args, session, out);
    service.end_batch(0);
    return buffer;
  };
  EXPECT_EQ(run({"PING"}), "+PONG\r\n");
  EXPECT_TRUE(run({"CHECK", "c"}).starts_with("*7\r\n:1\r\n+OK\r\n"));
  EXPECT_TRUE(run({"CHECK", "c", "ID", "x", "HOLD", "1000"}).starts_with("*7\r\n:1\r\n"));
  EXPECT_TRUE(run({"CHECK", "c", "ID", "x", "HOLD", "1000"}).starts_with("*7\r\n:1\r\n"));  // replayed
  EXPECT_TRUE(run({"CHECK", "c"}).starts_with("*7\r\n:0\r\n+CONCURRENCY\r\n"));
  EXPECT_EQ(run({"SETTLE", "c", "x", "CANCEL"}), ":1\r\n");
  EXPECT_TRUE(run({"CHECK", "c", "COST", "2"}).starts_with("*7\r\n:0\r\n+RATE\r\n"));  // 1 unit left
  EXPECT_TRUE(run({"PEEK", "c"}).starts_with("*7\r\n:1\r\n"));
  EXPECT_TRUE(run({"INFO"}).starts_with("$"));
  EXPECT_EQ((*engine)->expire_holds(0, end), 0u);

  // Through the transport: the reply to PING is written at once.
  const ConnectionLimits limits;  // the worker keeps a reference
  Worker worker(0, limits);
  ASSERT_TRUE(worker.start(&service));
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  worker.adopt(fds[1], service, Session{});
  ASSERT_EQ(::write(fds[0], "PING\r\n", 6), 6);
  pollfd p{fds[0], POLLIN, 0};
  std::string reply;
  char buffer[64];
  while (reply.size() < 7 && ::poll(&p, 1, 5000) == 1) {
    ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(reply, "+PONG\r\n");
  ::close(fds[0]);
  worker.stop();
  worker.join();
}

}  // namespace
}  // namespace tollgate
