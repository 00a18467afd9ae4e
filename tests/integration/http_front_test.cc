// The HTTP front (server.http) against a real tollgated: the check endpoint
// by headers, query and JSON; bad input (oversized headers, bodies without
// or beyond Content-Length, garbage, slow clients) answered 400/408/411/413/
// 431 and closed with the daemon unaffected; pipelining; probes; and a live
// /metrics scrape through `promtool check metrics`.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

#include "integration/daemon_harness.h"
#include "integration/http_client.h"

namespace tollgate::testing {
namespace {

// Windows so long (a day) that wall time passing in a test cannot matter.
const std::string kConfig = R"(
unknown_keys: deny
pricing:
  standard:
    - { prepay_from: 0, unit_price: 100 }
contracts:
  acme:
    limits:
      - { name: per_day, type: sliding_window, limit: 3, window: 1d }
  frozen:
    status: suspended
  prepaid:
    pricing: standard
  shadowed:
    limits:
      - { name: trial, type: quota, limit: 1, period: day, shadow: true }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 1, per: 1d, burst: 1000 }
)";

class HttpFrontTest : public ::testing::Test {
 protected:
  HttpFrontTest()
      : socket_(http_dir_.file("http.sock")),
        daemon_(kConfig, "threads: 2\n  http: { listen: [\"unix:" + socket_ +
                             "\", \"127.0.0.1:0\"], request_timeout: 300ms, max_header_bytes: 2048, "
                             "max_body_bytes: 1024 }") {}
  void SetUp() override { ASSERT_TRUE(daemon_.wait_ready()) << daemon_.log(); }

  std::string address() const { return "unix:" + socket_; }
  // The TCP listener's real port, from the daemon's log.
  std::string tcp_address() const {
    std::smatch m;
    std::string log = daemon_.log();
    if (!std::regex_search(log, m, std::regex("http: listening on (127\\.0\\.0\\.1:[0-9]+)"))) return "";
    return m[1];
  }
  // The daemon still answers RESP and HTTP.
  void expect_daemon_fine() {
    Client c = daemon_.connect();
    ASSERT_TRUE(c);
    Reply r = command(c.get(), {"PING"});
    ASSERT_TRUE(r);
    EXPECT_EQ(std::string(r->str), "PONG");
    HttpClient h(address());
    EXPECT_EQ(h.get("/healthz").status, 200);
  }
  // Sends `bytes` on a fresh connection; expects one answer with `status`, then the close.
  void expect_refused(const std::string& bytes, int status, const std::string& reason_part) {
    HttpClient h(address());
    ASSERT_TRUE(h.connected());
    ASSERT_TRUE(h.send(bytes));
    HttpResponse r;
    ASSERT_TRUE(h.read(r)) << "no answer to " << bytes.substr(0, 80);
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.body.find(reason_part), std::string::npos) << r.body;
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(h.closed_by_peer());
    expect_daemon_fine();
  }

  TempDir http_dir_;
  std::string socket_;
  Daemon daemon_;
};

// Verifies N allowed answers then 429 with the draft's RateLimit fields and
// Retry-After, by header and by query parameter; PEEK charges nothing.
TEST_F(HttpFrontTest, CheckByHeaderAndQuery) {
  HttpClient h(address());
  HttpResponse peek = h.get("/v1/peek?key=acme");
  EXPECT_EQ(peek.status, 200);
  EXPECT_TRUE(peek.header("ratelimit").starts_with("\"per_day\";r=2;t=")) << peek.header("ratelimit");
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = i % 2 == 0 ? h.get("/v1/check", "Tollgate-Key: acme\r\n") : h.get("/v1/check?key=acme");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("tollgate-code"), "OK");
    EXPECT_EQ(r.header("tollgate-limit"), "per_day");
    EXPECT_EQ(r.header("ratelimit-policy"), "\"per_day\";q=3;w=86400");
    EXPECT_EQ(r.header("ratelimit").substr(0, 13), "\"per_day\";r=" + std::to_string(2 - i));
    EXPECT_FALSE(r.has("retry-after"));
    EXPECT_FALSE(r.has("tollgate-balance"));
  }
  HttpResponse denied = h.get("/v1/check", "tollgate-key: acme\r\n");
  EXPECT_EQ(denied.status, 429);
  EXPECT_EQ(denied.header("tollgate-code"), "WINDOW");
  EXPECT_EQ(denied.header("ratelimit").substr(0, 15), "\"per_day\";r=0;t");
  ASSERT_TRUE(denied.has("retry-after"));
  EXPECT_GT(std::stoll(denied.header("retry-after")), 0);
  EXPECT_EQ(denied.body, "");  // no body: nginx keeps its keep-alive to tollgate only then
  EXPECT_EQ(denied.header("content-length"), "0");
  // HEAD: the same headers, no body.
  ASSERT_TRUE(h.send("HEAD /v1/check?key=acme HTTP/1.1\r\nHost: t\r\n\r\n"));
  HttpResponse head;
  ASSERT_TRUE(h.read(head, /*head=*/true));
  EXPECT_EQ(head.status, 429);
  EXPECT_EQ(head.header("content-length"), "0");

  EXPECT_EQ(h.get("/v1/check?key=frozen").status, 403);
  HttpResponse broke = h.get("/v1/check?key=prepaid");
  EXPECT_EQ(broke.status, 402);
  EXPECT_EQ(broke.header("tollgate-balance"), "0");
  EXPECT_FALSE(broke.has("retry-after"));  // waiting does not refill a balance
  EXPECT_EQ(h.get("/v1/check?key=nobody").status, 403);
  // Envoy ext_authz's path_prefix form: the client's path and query follow, headers carry the call.
  HttpResponse authz = h.get("/v1/check/orders/7?page=2", "Tollgate-Key: ip:198.51.100.77\r\n");
  EXPECT_EQ(authz.status, 200);
  EXPECT_EQ(authz.header("tollgate-limit"), "ip");
  EXPECT_EQ(h.get("/v1/checkout?key=acme").status, 404);
  // Percent-encoding and cost.
  HttpResponse ip = h.get("/v1/check?key=ip%3A203.0.113.7&cost=10");
  EXPECT_EQ(ip.status, 200);
  EXPECT_EQ(ip.header("ratelimit").substr(0, 13), "\"ip\";r=990;t=");
}

// Verifies POST /v1/check: the 7 fields by name, and clear 400s for bad
// JSON that keep the connection.
TEST_F(HttpFrontTest, PostJson) {
  HttpClient h(address());
  HttpResponse r = h.post("/v1/check", R"({"key": "ip:198.51.100.1", "cost": 5, "channel": "web"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_NE(r.body.find(R"("allowed":true,"code":"OK","limit":"ip","remaining":995,"retry_after_ms":0)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("balance":-1})"), std::string::npos) << r.body;
  HttpResponse bad = h.post("/v1/check", R"({"key": "ip:1", "cost": "many"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("COST must be an integer"), std::string::npos) << bad.body;
  EXPECT_EQ(h.post("/v1/check", "[1,2]").status, 400);
  EXPECT_EQ(h.post("/v1/check", R"({"key": "ip:1", "colour": "red"})").status, 400);
  HttpResponse twice = h.get("/v1/check?key=ip:1", "Tollgate-Key: ip:2\r\n");
  EXPECT_EQ(twice.status, 400);
  EXPECT_NE(twice.body.find("given twice"), std::string::npos);
  EXPECT_EQ(h.get("/v1/check").status, 400);  // no key
  EXPECT_EQ(h.get("/nowhere").status, 404);
  EXPECT_EQ(h.get("/v1/check?key=ip:1").status, 200);  // the connection stayed usable
}

// Verifies pipelining: many requests in one write are answered in order on
// one connection, and Connection: close ends it after its answer.
TEST_F(HttpFrontTest, PipelinedRequestsAnswerInOrder) {
  HttpClient h(address());
  std::string batch;
  for (int i = 0; i < 50; ++i) batch += "GET /v1/check?key=ip:192.0.2.9 HTTP/1.1\r\nHost: t\r\n\r\n";
  batch += "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(h.send(batch));
  for (int i = 0; i < 50; ++i) {
    HttpResponse r;
    ASSERT_TRUE(h.read(r)) << i;
    EXPECT_TRUE(r.header("ratelimit").starts_with("\"ip\";r=" + std::to_string(999 - i) + ";")) << i;
  }
  HttpResponse last;
  ASSERT_TRUE(h.read(last));
  EXPECT_EQ(last.body, "ok\n");
  EXPECT_TRUE(h.closed_by_peer());
}

// Verifies each kind of bad input gets its status and reason, the
// connection is closed, and the daemon keeps serving.
TEST_F(HttpFrontTest, BadInputIsRefusedAndClosed) {
  expect_refused("GET /v1/check?key=acme HTTP/1.1\r\nX-Pad: " + std::string(3000, 'a') + "\r\n\r\n", 431,
                 "max_header_bytes");
  std::string many_headers = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) many_headers += "X-" + std::to_string(i) + ": 1\r\n";
  expect_refused(many_headers + "\r\n", 431, "too many header fields");
  expect_refused("POST /v1/check HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413, "max_body_bytes");
  expect_refused("POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411,
                 "Content-Length");
  expect_refused("\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, "malformed HTTP request");
  expect_refused("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\n", 400, "malformed");
  // A body without Content-Length: the request has none, so its bytes are the
  // next request, which is garbage: a 400 for the first, then 400 and close.
  HttpClient h(address());
  ASSERT_TRUE(h.send("POST /v1/check HTTP/1.1\r\nHost: t\r\n\r\n{\"key\":\"ip:1\"}"));
  HttpResponse first, second;
  ASSERT_TRUE(h.read(first));
  EXPECT_EQ(first.status, 400);
  EXPECT_NE(first.body.find("Content-Length"), std::string::npos) << first.body;
  ASSERT_TRUE(h.read(second));
  EXPECT_EQ(second.status, 400);
  EXPECT_TRUE(h.closed_by_peer());
  expect_daemon_fine();
}

// Verifies a client that sends part of a request and stalls (or trickles)
// gets 408 after request_timeout (300 ms here) and is closed.
TEST_F(HttpFrontTest, SlowClientIsTimedOut) {
  HttpClient stalled(address());
  ASSERT_TRUE(stalled.send("GET /v1/check?key=acme HTTP/1.1\r\nHost:"));
  HttpClient trickle(address());
  ASSERT_TRUE(trickle.send("G"));
  ASSERT_TRUE(trickle.send("E"));  // each byte does not extend the deadline
  for (HttpClient* c : {&stalled, &trickle}) {
    HttpResponse r;
    ASSERT_TRUE(c->read(r));
    EXPECT_EQ(r.status, 408);
    EXPECT_TRUE(c->closed_by_peer());
  }
  expect_daemon_fine();
}

// Verifies /healthz, /readyz and a live /metrics scrape over the TCP
// listener that promtool accepts, with the figures of the calls made.
TEST_F(HttpFrontTest, ProbesAndMetricsPassPromtool) {
  const std::string tcp = tcp_address();
  ASSERT_FALSE(tcp.empty()) << daemon_.log();
  HttpClient h(tcp);
  ASSERT_TRUE(h.connected());
  EXPECT_EQ(h.get("/healthz").status, 200);
  HttpResponse ready = h.get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(h.get("/v1/check?key=shadowed").status, 200);
  EXPECT_EQ(h.get("/v1/check?key=shadowed").status, 200);  // over the shadow quota: counted, allowed
  EXPECT_EQ(h.get("/v1/check?key=frozen").status, 403);
  EXPECT_EQ(h.get("/v1/check?key=ip:203.0.113.200").status, 200);
  Client admin = daemon_.connect_admin();
  ASSERT_TRUE(command(admin.get(), {"RECHARGE", "prepaid", "10000", "pay-1"}));
  HttpResponse m = h.get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* line : {"tollgate_decisions_total{code=\"OK\"} 3", "tollgate_decisions_total{code=\"SUSPENDED\"} 1",
                           "tollgate_contract_balance{contract=\"prepaid\"} 10000",
                           "tollgate_contract_decisions_total{contract=\"shadowed\",code=\"OK\"} 2",
                           "tollgate_contract_decisions_total{contract=\"frozen\",code=\"SUSPENDED\"} 1",
                           "tollgate_contract_credits{contract=\"prepaid\"} 100",
                           "tollgate_shadow_denials_total{scope=\"contract\",policy=\"shadowed\",limit=\"trial\"} 1",
                           "tollgate_connections{front=\"http\"} 1", "tollgate_http_decision_duration_seconds_count 4",
                           "tollgate_table_dynamic_keys 1", "tollgate_ledger_sequence 1"})
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  // The cardinality guard: a dynamic key never becomes a label.
  EXPECT_EQ(m.body.find("203.0.113.200"), std::string::npos);

  TempDir dir;
  const std::string file = dir.file("scrape.txt");
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fwrite(m.body.data(), 1, m.body.size(), f);
  std::fclose(f);
  std::string output;
  FILE* p = ::popen(("promtool check metrics < " + file + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << output;
  EXPECT_EQ(output, "") << "promtool found problems";
}

}  // namespace
}  // namespace tollgate::testing

namespace tollgate::testing {
namespace {

// Verifies that with durability strict an allowed HTTP check is answered
// once its charge is durable (held, then released by the commit wake-up:
// if the wake-up never reached HTTP connections, the answers would not come).
TEST(HttpFrontStrict, AnswersWaitForTheirCommit) {
  TempDir http_dir, var;
  const std::string socket = http_dir.file("http.sock");
  EmbeddedStorage storage{var.file("store"), 20, "durability: strict"};
  Daemon daemon(kConfig, storage, "threads: 2\n  http: { listen: [\"unix:" + socket + "\"] }");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  HttpClient h("unix:" + socket);
  std::string batch;
  for (int i = 0; i < 3; ++i) batch += "GET /v1/check?key=ip:192.0.2.1 HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_TRUE(h.send(batch));
  for (int i = 0; i < 3; ++i) {
    HttpResponse r;
    ASSERT_TRUE(h.read(r)) << i;
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(h.get("/v1/check?key=acme").status, 200);
  HttpResponse m = h.get("/metrics");
  EXPECT_NE(m.body.find("tollgate_commit_waits_total 4\n"), std::string::npos) << m.body;
}

}  // namespace
}  // namespace tollgate::testing
