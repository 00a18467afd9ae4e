// The gRPC front's configuration (README, "Envoy rate limit service"):
// `server.grpc` (where and with how many threads the Rate Limit Service
// listens) and `envoy:` (how Envoy's domains and descriptor entries map onto
// tollgate's key, CHANNEL, PURPOSE and SUBJECT). Immutable value types, part
// of Config; read by config/envoy_reader.h.
#pragma once

#include <string>
#include <vector>

namespace tollgate {

struct GrpcConfigDefaults {
  static constexpr int kThreads = 2;           // server.grpc.threads: completion-queue threads
  static constexpr int kMaxThreads = 64;       // upper bound for server.grpc.threads
  static constexpr int kMaxDescriptors = 64;   // server.grpc.max_descriptors: per ShouldRateLimit call
  static constexpr int kMaxDescriptorsBound = 1'024;
};

// `server.grpc`. Empty `listen`: no gRPC listener (the default).
struct GrpcConfig {
  // "host:port" (TCP, e.g. "127.0.0.1:8081", "[::1]:8081"; port 0 picks a
  // free one, shown in INFO) or "unix:/path" (a Unix socket).
  std::string listen;
  int threads = GrpcConfigDefaults::kThreads;
  int max_descriptors = GrpcConfigDefaults::kMaxDescriptors;
  bool operator==(const GrpcConfig&) const = default;
};

// What a descriptor that matches no mapping, or a request for an unknown
// domain, is answered: OK (nothing charged) or OVER_LIMIT.
enum class EnvoyDefault : unsigned char { kOk, kOverLimit };

// One `envoy.domains[]` entry: which descriptor entries (by their key) carry
// tollgate's key and the optional CHANNEL, PURPOSE and SUBJECT.
struct EnvoyDomainConfig {
  std::string domain;
  std::string key;      // required
  std::string channel;  // empty: no CHANNEL
  std::string purpose;  // empty: no PURPOSE
  std::string subject;  // empty: no SUBJECT
  EnvoyDefault unmatched = EnvoyDefault::kOk;  // a descriptor without the `key` entry
  int line = 0;
  bool operator==(const EnvoyDomainConfig& other) const {
    return domain == other.domain && key == other.key && channel == other.channel && purpose == other.purpose &&
           subject == other.subject && unmatched == other.unmatched;
  }
};

// `envoy:`.
struct EnvoyConfig {
  EnvoyDefault unknown_domain = EnvoyDefault::kOk;
  std::vector<EnvoyDomainConfig> domains;  // in file order; domains are unique
  bool operator==(const EnvoyConfig&) const = default;
};

}  // namespace tollgate
