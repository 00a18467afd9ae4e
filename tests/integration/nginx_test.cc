// A real nginx (Debian's) in front of a tiny upstream, asking tollgate through
// auth_request with the configuration the README documents
// (conf/nginx/tollgate-auth.conf and tollgate-protect.conf, included as they
// are): N allowed calls, then 429 with Retry-After and the RateLimit fields;
// a suspended contract 403; an empty balance 402.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "integration/daemon_harness.h"
#include "integration/http_client.h"

namespace tollgate::testing {
namespace {

const char* kNginx = "/usr/sbin/nginx";

// nginx on a free loopback port with a generated config under a temp prefix
// (daemon off, error log in the temp dir); the upstream is a second server
// block of the same nginx on a Unix socket answering 200 "upstream ok".
class Nginx {
 public:
  explicit Nginx(const std::string& tollgate_socket) : port_(free_tcp_port()) {
    const std::string conf = dir_.file("nginx.conf");
    std::ofstream(conf) << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << dir_.file("nginx.pid")
                        << ";\nerror_log " << dir_.file("error.log") << " warn;\n"
                        << "events { worker_connections 256; }\nhttp {\n  access_log off;\n"
                        << "  client_body_temp_path " << dir_.file("body") << ";\n  proxy_temp_path "
                        << dir_.file("proxy") << ";\n  fastcgi_temp_path " << dir_.file("fastcgi")
                        << ";\n  uwsgi_temp_path " << dir_.file("uwsgi") << ";\n  scgi_temp_path " << dir_.file("scgi")
                        << ";\n  upstream tollgate { server unix:" << tollgate_socket << "; keepalive 8; }\n"
                        << "  upstream app { server unix:" << dir_.file("app.sock") << "; }\n"
                        << "  map $http_x_api_key $tollgate_key { default $http_x_api_key; }\n"
                        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
                        << "    include " << TOLLGATE_SOURCE_DIR << "/conf/nginx/tollgate-auth.conf;\n"
                        << "    location / {\n      include " << TOLLGATE_SOURCE_DIR
                        << "/conf/nginx/tollgate-protect.conf;\n      proxy_pass http://app;\n    }\n  }\n"
                        << "  server {\n    listen unix:" << dir_.file("app.sock") << ";\n"
                        << "    location / { return 200 \"upstream ok\\n\"; }\n  }\n}\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(kNginx, kNginx, "-p", dir_.path().c_str(), "-c", conf.c_str(), "-e", dir_.file("error.log").c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Nginx() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Waits until nginx accepts connections (or exited: false).
  bool wait_ready() {
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      HttpClient probe(address());
      if (probe.connected()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string error_log() const {
    std::ifstream in(dir_.file("error.log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  TempDir dir_;
  int port_;
  int pid_ = -1;
};

const std::string kConfig = R"(
unknown_keys: deny
pricing:
  standard:
    - { prepay_from: 0, unit_price: 100 }
contracts:
  acme:
    limits:
      - { name: per_day, type: sliding_window, limit: 5, window: 1d }
  frozen:
    status: suspended
  prepaid:
    pricing: standard
)";

// Verifies the documented nginx configuration end to end: exactly N 200s
// from the upstream, then 429 with Retry-After and the RateLimit fields;
// 403 for a suspended contract; 402 with the balance for an empty one.
TEST(NginxAuthRequest, StatusesAndHeadersReachTheClient) {
  if (::access(kNginx, X_OK) != 0) GTEST_SKIP() << "nginx is not installed (scripts/setup.sh installs it)";
  TempDir http_dir;
  const std::string socket = http_dir.file("http.sock");
  Daemon daemon(kConfig, "threads: 1\n  http: { listen: [\"unix:" + socket + "\"] }");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  Nginx nginx(socket);
  ASSERT_TRUE(nginx.wait_ready()) << nginx.error_log();

  HttpClient client(nginx.address());
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client.get("/orders", "X-Api-Key: acme\r\n");
    ASSERT_EQ(r.status, 200) << i << " " << r.body << nginx.error_log();
    EXPECT_EQ(r.body, "upstream ok\n");
    EXPECT_EQ(r.header("ratelimit-policy"), "\"per_day\";q=5;w=86400");
    EXPECT_TRUE(r.header("ratelimit").starts_with("\"per_day\";r=" + std::to_string(4 - i) + ";t=")) << r.header("ratelimit");
  }
  // nginx kept one connection to tollgate for all five subrequests (it does
  // only when the answer has no body).
  HttpResponse metrics = HttpClient("unix:" + socket).get("/metrics");
  EXPECT_NE(metrics.body.find("tollgate_connections_accepted_total{front=\"http\"} 2\n"), std::string::npos)
      << "nginx + this scrape: " << metrics.body;
  HttpResponse limited = client.get("/orders", "X-Api-Key: acme\r\n");
  EXPECT_EQ(limited.status, 429) << nginx.error_log();
  EXPECT_EQ(limited.header("tollgate-code"), "WINDOW");
  EXPECT_EQ(limited.header("tollgate-limit"), "per_day");
  ASSERT_TRUE(limited.has("retry-after"));
  EXPECT_GT(std::stoll(limited.header("retry-after")), 0);
  EXPECT_EQ(limited.header("ratelimit-policy"), "\"per_day\";q=5;w=86400");
  EXPECT_TRUE(limited.header("ratelimit").starts_with("\"per_day\";r=0;t=")) << limited.header("ratelimit");
  EXPECT_NE(limited.body, "upstream ok\n");

  // nginx closes the client connection after a status that auth_request
  // turned into 500 (it drops keep-alive for 500 before error_page): a new
  // connection for each of the rest, as a client would open.
  HttpResponse frozen = HttpClient(nginx.address()).get("/orders", "X-Api-Key: frozen\r\n");
  EXPECT_EQ(frozen.status, 403);
  EXPECT_EQ(frozen.header("tollgate-code"), "SUSPENDED");
  EXPECT_FALSE(frozen.has("retry-after"));

  HttpResponse broke = HttpClient(nginx.address()).get("/orders", "X-Api-Key: prepaid\r\n");
  EXPECT_EQ(broke.status, 402);
  EXPECT_EQ(broke.header("tollgate-code"), "BALANCE");
  EXPECT_EQ(broke.header("tollgate-balance"), "0");

  HttpResponse unknown = HttpClient(nginx.address()).get("/orders", "X-Api-Key: nobody\r\n");
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(unknown.header("tollgate-code"), "UNKNOWN");
}

}  // namespace
}  // namespace tollgate::testing
