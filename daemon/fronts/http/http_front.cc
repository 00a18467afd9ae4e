#include "fronts/http/http_front.h"

#include <fmt/format.h>

#include <array>

#include "calllog/check_hook.h"
#include "commands/command_table.h"
#include "fronts/http/http_call.h"
#include "fronts/http/http_connection.h"
#include "fronts/ratelimit_fields.h"

namespace tollgate::fronts {
namespace {

void status_line(std::string& out, int status) {
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\n", status, http_reason(status));
}

// Headers end; the body follows unless `head_only` (HEAD: same headers, no body).
void finish(std::string& out, std::string_view content_type, std::string_view body, bool close, bool head_only) {
  fmt::format_to(std::back_inserter(out), "Content-Type: {}\r\nContent-Length: {}\r\n{}\r\n", content_type,
                 body.size(), close ? "Connection: close\r\n" : "");
  if (!head_only) out += body;
}

void simple(std::string& out, int status, std::string_view body, bool close, bool head_only,
            std::string_view extra_headers = {}) {
  status_line(out, status);
  out += extra_headers;
  finish(out, "text/plain; charset=utf-8", body, close, head_only);
}

int bucket_of(Nanos elapsed) {
  for (int b = 0; b < kLatencyBuckets; ++b)
    if (static_cast<double>(elapsed) <= kLatencyBounds[b] * 1e9) return b;
  return kLatencyBuckets;
}

}  // namespace

HttpFront::HttpFront(DataService& data, HttpFrontOptions options)
    : data_(data),
      options_(options),
      stats_(std::make_unique<HttpWorkerStats[]>(static_cast<size_t>(data.worker_count()))),
      workers_(data.worker_count()) {}

void HttpFront::open(Worker& worker, int fd, Session session, ConnectionSlot slot) {
  auto* c = new HttpConnection(worker, *this, std::move(session), std::move(slot));
  if (!c->open(fd)) delete c;  // open() closed the fd
}

uint64_t HttpFront::total(std::atomic<uint64_t> HttpWorkerStats::*field) const {
  uint64_t sum = 0;
  for (int w = 0; w < workers_; ++w) sum += (stats_[w].*field).load(std::memory_order_relaxed);
  return sum;
}

uint64_t HttpFront::latency_bucket(int bucket) const {
  uint64_t sum = 0;
  for (int w = 0; w < workers_; ++w) sum += stats_[w].latency[bucket].load(std::memory_order_relaxed);
  return sum;
}

void HttpFront::answer_error(int status, std::string_view text, std::string& out) {
  std::string body(text);
  body += '\n';
  simple(out, status, body, /*close=*/true, /*head_only=*/false);
}

void HttpFront::answer(HttpRequest& request, Session& session, std::string& out) {
  HttpWorkerStats::bump(stats_[session.worker].requests);
  const bool close = !request.keep_alive;
  const bool get = request.method == "GET";
  const bool head = request.method == "HEAD";
  const bool post = request.method == "POST";
  // Envoy ext_authz (HTTP service) asks for path_prefix + the client's own
  // path and query: /v1/check/orders/7?page=2. The query is the client's
  // then, not ours: the call comes from the Tollgate-* headers alone.
  for (std::string_view endpoint : {std::string_view("/v1/check"), std::string_view("/v1/peek")}) {
    if (!request.path.starts_with(endpoint)) continue;
    const std::string_view rest = request.path.substr(endpoint.size());
    if (!rest.empty() && rest.front() != '/') continue;
    if (!rest.empty()) request.query = {};
    if (!get && !head && !post)
      return simple(out, 405, "use GET, HEAD or POST\n", close, false, "Allow: GET, HEAD, POST\r\n");
    return check(request, session, out, endpoint == "/v1/peek");
  }
  const bool page = request.path == "/metrics" || request.path == "/healthz" || request.path == "/readyz";
  if (page && !get && !head) return simple(out, 405, "use GET or HEAD\n", close, false, "Allow: GET, HEAD\r\n");
  if (request.path == "/healthz") return simple(out, 200, "ok\n", close, head);
  if (request.path == "/readyz") {
    std::optional<std::string> why = readiness_ ? readiness_() : std::nullopt;
    if (!why) return simple(out, 200, "ready\n", close, head);
    return simple(out, 503, "not ready: " + *why + "\n", close, head);
  }
  if (request.path == "/metrics") {
    std::string body;
    if (metrics_page_) metrics_page_(body);
    status_line(out, 200);
    return finish(out, "text/plain; version=0.0.4; charset=utf-8", body, close, head);
  }
  simple(out, 404, "not found: tollgate serves /v1/check, /v1/peek, /metrics, /healthz and /readyz\n", close,
         head);
}

// One decision: the call's fields from headers and query (GET/HEAD) or the
// JSON body (POST), through the RESP CHECK's own parser, decided by the
// engine, answered with the status and fields of fronts/ratelimit_fields.h.
void HttpFront::check(HttpRequest& request, Session& session, std::string& out, bool peek) {
  WorkerMetrics& m = data_.metrics(session.worker);
  const bool close = !request.keep_alive;
  const bool post = request.method == "POST";
  HttpCall call;
  std::array<std::string, HttpCall::kFieldCount> json_storage;
  auto refuse = [&](std::string_view why) {
    WorkerMetrics::bump(m.client_errors);
    std::string body(why);
    body += '\n';
    simple(out, 400, body, close, request.method == "HEAD", "Tollgate-Code: BAD_REQUEST\r\n");
  };
  for (const auto& [name, value] : request.headers)
    if (set_from_header(call, name, value) == SetResult::kTwice)
      return refuse(fmt::format("header {} given twice", name));
  if (!request.query.empty())
    if (auto q = read_query(request.query, call); !q) return refuse(q.error());
  if (post) {
    if (request.body.empty())
      return refuse("POST needs a JSON body with Content-Length, e.g. {\"key\": \"contract:acme\", \"cost\": 1}");
    if (auto j = read_json(request.body, call, json_storage); !j) return refuse(j.error());
  }
  auto req = to_check_request(call, options_.max_key);
  if (!req) return refuse(req.error());

  Engine& engine = data_.engine();
  const Clock& clock = data_.clock();
  Decision d;
  if (peek) {
    d = engine.peek(*req, session.now);
    WorkerMetrics::bump(m.peeks);
  } else {
    const Nanos started = clock.now();
    d = engine.check(*req, session.now, session.worker);
    const Nanos elapsed = clock.now() - started;
    calllog::record_check(data_.call_log(), session.worker, session.now, *req, d, engine.options().generation);
    HttpWorkerStats& s = stats_[session.worker];
    HttpWorkerStats::bump(s.latency[bucket_of(elapsed)]);
    HttpWorkerStats::bump(s.latency_sum_ns, static_cast<uint64_t>(std::max<Nanos>(elapsed, 0)));
    if (d.allowed) data_.hold_until_durable(session);
    WorkerMetrics::bump(m.checks);
    WorkerMetrics::bump(m.by_code[static_cast<int>(d.code)]);
  }
  const int status = http_status(d.code);
  RateLimitFields fields(d, d.limit.empty() ? std::nullopt : engine.limit_terms(req->key, d.limit));
  status_line(out, status);
  for (const HeaderField& f : fields.fields())
    fmt::format_to(std::back_inserter(out), "{}: {}\r\n", f.name, f.value);
  if (post) {
    std::string body;
    append_json_decision(body, d);
    body += '\n';
    return finish(out, "application/json", body, close, false);
  }
  // GET/HEAD: the answer is the status and the fields; no body. nginx keeps
  // its upstream connection alive after an auth_request subrequest only when
  // the answer has no body (it never reads one there), so a body here would
  // cost a new connection per call.
  finish(out, "text/plain; charset=utf-8", {}, close, true);
}

}  // namespace tollgate::fronts
