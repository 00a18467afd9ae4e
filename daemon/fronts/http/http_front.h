// The HTTP/1.1 front (server.http): GET/HEAD/POST /v1/check and /v1/peek for
// nginx auth_request, Envoy ext_authz, Traefik ForwardAuth and HAProxy;
// GET /metrics (Prometheus text 0.0.4), /healthz and /readyz. It is a second
// protocol on the data-plane workers (net/protocol.h): each accepted socket
// becomes an HttpConnection (fronts/http/http_connection.h) on the worker the
// acceptor chose, and every call is decided by the same engine, through the
// same DataService (batch clock, reclaimer section, per-worker metrics, and
// with durability strict the same commit wait) as a RESP CHECK.
//
// Thread-safety: shared by all workers; answer() runs on the calling
// connection's worker thread and touches only that worker's stats (relaxed
// atomics, read by /metrics from any worker). The page callbacks are set
// before the workers start and must be thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "commands/data_service.h"
#include "net/protocol.h"

namespace tollgate::fronts {

struct HttpFrontOptions {
  size_t max_header_bytes = 8 * 1024;   // request line + headers: more is 431
  size_t max_body_bytes = 16 * 1024;    // more is 413
  Nanos request_timeout = 10 * kNanosPerSecond;    // a started request not whole by then: 408, closed
  Nanos keepalive_timeout = 60 * kNanosPerSecond;  // idle connections are closed after this
  size_t max_key = 512;                 // server.max_key
};

// One parsed request, views into the connection's input buffer.
struct HttpRequest {
  std::string_view method;  // "GET", "HEAD", "POST", …
  std::string_view path;
  std::span<char> query;    // after '?', decoded in place by /v1/check
  std::span<const std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  bool keep_alive = true;
};

// Decision latency buckets (seconds, Prometheus `le`), engine call only.
inline constexpr double kLatencyBounds[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2};
inline constexpr int kLatencyBuckets = sizeof(kLatencyBounds) / sizeof(kLatencyBounds[0]);

struct alignas(64) HttpWorkerStats {
  std::atomic<uint64_t> connections{0};        // open now
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> malformed{0};          // answered 400/411/413/431 and closed
  std::atomic<uint64_t> timeouts{0};           // 408: a request did not arrive whole in time
  std::atomic<uint64_t> latency[kLatencyBuckets + 1] = {};  // per bucket (not cumulative); last: +Inf
  std::atomic<uint64_t> latency_sum_ns{0};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class HttpFront final : public Protocol {
 public:
  HttpFront(DataService& data, HttpFrontOptions options);
  void open(Worker& worker, int fd, Session session, ConnectionSlot slot) override;

  // /metrics writes its page with this (before the workers start).
  void set_metrics_page(std::function<void(std::string& out)> page) { metrics_page_ = std::move(page); }
  // /readyz: nullopt when ready, else why not (before the workers start).
  void set_readiness(std::function<std::optional<std::string>()> ready) { readiness_ = std::move(ready); }

  // Writes the whole response to `request` into `out` (between the data
  // service's begin_batch and end_batch, on `session`'s worker). With
  // durability strict an allowed CHECK sets session.commit_ticket.
  void answer(HttpRequest& request, Session& session, std::string& out);
  // Writes an error response (`status`, the text as body, Connection: close).
  static void answer_error(int status, std::string_view text, std::string& out);

  const HttpFrontOptions& options() const { return options_; }
  DataService& data() { return data_; }
  HttpWorkerStats& stats(int worker) { return stats_[worker]; }
  // Sums over the workers (relaxed).
  uint64_t total(std::atomic<uint64_t> HttpWorkerStats::*field) const;
  uint64_t latency_bucket(int bucket) const;

 private:
  void check(HttpRequest& request, Session& session, std::string& out, bool peek);

  DataService& data_;
  HttpFrontOptions options_;
  std::unique_ptr<HttpWorkerStats[]> stats_;
  int workers_;
  std::function<void(std::string&)> metrics_page_;
  std::function<std::optional<std::string>()> readiness_;
};

}  // namespace tollgate::fronts
