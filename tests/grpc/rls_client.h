// Test helpers for the gRPC front: a tollgated with server.grpc on a free
// loopback port (port 0, read back from INFO), and a C++ gRPC client of
// envoy.service.ratelimit.v3.RateLimitService and grpc.health.v1.Health.
// Not thread-safe, except the stubs (gRPC stubs are thread-safe).
#pragma once

#include <grpcpp/grpcpp.h>

#include <envoy/service/ratelimit/v3/rls.grpc.pb.h>
#include <grpc/health/v1/health.grpc.pb.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "integration/daemon_harness.h"

namespace tollgate::testing {

namespace rls = ::envoy::service::ratelimit::v3;
using Descriptor = std::vector<std::pair<std::string, std::string>>;

// The server section lines that turn the gRPC front on (any free port).
inline std::string grpc_server_extra(int threads = 2) {
  return "threads: 2\n  grpc: { listen: \"127.0.0.1:0\", threads: " + std::to_string(threads) + " }";
}

// INFO envoy's `name` (empty when absent).
inline std::string info_envoy(const Daemon& d, const std::string& name) {
  Client c = d.connect();
  Reply r = command(c.get(), {"INFO", "envoy"});
  if (!r || r->type != REDIS_REPLY_STRING) return "";
  const std::string text(r->str, r->len);
  const std::string prefix = name + ":";
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find("\r\n", at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, prefix.size(), prefix) == 0) return text.substr(at + prefix.size(), end - at - prefix.size());
    at = end + 2;
  }
  return "";
}

inline std::shared_ptr<grpc::Channel> grpc_channel(const Daemon& d) {
  return grpc::CreateChannel("127.0.0.1:" + info_envoy(d, "grpc_port"), grpc::InsecureChannelCredentials());
}

inline rls::RateLimitRequest rls_request(const std::string& domain, const std::vector<Descriptor>& descriptors,
                                         uint32_t hits_addend = 0) {
  rls::RateLimitRequest req;
  req.set_domain(domain);
  req.set_hits_addend(hits_addend);
  for (const Descriptor& d : descriptors) {
    auto* descriptor = req.add_descriptors();
    for (const auto& [k, v] : d) {
      auto* e = descriptor->add_entries();
      e->set_key(k);
      e->set_value(v);
    }
  }
  return req;
}

// One ShouldRateLimit with a 5 s deadline; `status` receives the gRPC status.
inline rls::RateLimitResponse should_rate_limit(rls::RateLimitService::Stub& stub, const rls::RateLimitRequest& req,
                                                grpc::Status* status = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  rls::RateLimitResponse resp;
  grpc::Status s = stub.ShouldRateLimit(&ctx, req, &resp);
  if (status != nullptr) *status = s;
  return resp;
}

// The value of response header `name`, or "(absent)".
inline std::string header(const rls::RateLimitResponse& r, const std::string& name) {
  for (const auto& h : r.response_headers_to_add())
    if (h.key() == name) return h.value();
  return "(absent)";
}

}  // namespace tollgate::testing
