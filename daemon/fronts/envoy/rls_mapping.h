// Envoy's Rate Limit Service in tollgate's terms, without protobuf: the
// compiled `envoy:` mapping (EnvoyMapping), and RlsDecider, which turns one
// ShouldRateLimit call — a domain, its descriptors (key/value entries) and
// hits_addend — into CHECK calls decided all-or-nothing (Engine::check_all),
// and the decisions into the answer's fields (overall code, one status per
// descriptor, response headers). The gRPC glue (fronts/envoy/grpc/) copies
// those fields into the generated messages; the unit tests drive this
// directly, in every build.
//
// Mapping (README, "Envoy rate limit service"):
//   * domain → its `envoy.domains[]` entry; an unknown domain is answered
//     `envoy.unknown_domain` (ok: every status OK, nothing charged;
//     over_limit: every status OVER_LIMIT) and counted.
//   * descriptor → one CheckRequest: the value of the entry named by `key`
//     is the tollgate key, those named by channel/purpose/subject its
//     CHANNEL/PURPOSE/SUBJECT; COST is hits_addend (0 = 1). Other entries
//     are ignored. A descriptor without the key entry is unmatched: counted,
//     and answered per the domain's `unmatched` (ok: OK, not charged;
//     over_limit: OVER_LIMIT, so the whole call is, and nothing is charged).
//   * all or nothing: either every matched descriptor is charged or none
//     (Engine::check_all). overall_code is OVER_LIMIT when any descriptor is
//     denied. Each status: OK or OVER_LIMIT, limit_remaining,
//     duration_until_reset and current_limit (requests_per_unit + unit) when
//     the deciding limit's terms are a whole second/minute/hour/day window.
//     The response headers are those of the HTTP front
//     (fronts/ratelimit_fields.h, lower-cased): RateLimit-Policy, RateLimit,
//     Retry-After on a denial where waiting helps, tollgate-code,
//     tollgate-limit, tollgate-balance — for the first denied descriptor, or
//     when all pass, the one with the fewest units left.
//
// Thread-safety: EnvoyMapping is immutable once built and shared by every
// gRPC thread (a reload publishes a new one). RlsDecider is one per thread:
// it keeps reusable scratch so that a call allocates nothing of its own in
// steady state. RlsCounters are written by their one thread (relaxed) and
// read by INFO from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/envoy_config.h"
#include "engine/engine.h"
#include "fronts/ratelimit_fields.h"
#include "tollgate/decision.h"
#include "tollgate/time.h"

namespace tollgate::calllog {
class CallLog;  // calllog/call_log.h
}

namespace tollgate::fronts {

// The compiled `envoy:` section. Immutable.
class EnvoyMapping {
 public:
  explicit EnvoyMapping(EnvoyConfig config);
  EnvoyMapping(const EnvoyMapping&) = delete;
  EnvoyMapping& operator=(const EnvoyMapping&) = delete;

  // The domain's mapping, or nullptr when the domain is not configured.
  const EnvoyDomainConfig* find(std::string_view domain) const;
  EnvoyDefault unknown_domain() const { return config_.unknown_domain; }
  const EnvoyConfig& config() const { return config_; }

 private:
  EnvoyConfig config_;
  std::unordered_map<std::string_view, const EnvoyDomainConfig*> by_domain_;  // views into config_
};

// One descriptor entry; views into the request.
struct DescriptorEntry {
  std::string_view key;
  std::string_view value;
};

// Fills `out` (key, channel, purpose, subject, cost) from one descriptor's
// entries under `domain`. False when no entry carries the domain's `key`
// (or its value is empty): the descriptor is unmatched. Pure.
bool map_descriptor(const EnvoyDomainConfig& domain, std::span<const DescriptorEntry> entries, int64_t cost,
                    CheckRequest& out);

// The wire values of envoy.service.ratelimit.v3.RateLimitResponse.Code and
// RateLimit.Unit.
enum class RlsCode : int { kUnknown = 0, kOk = 1, kOverLimit = 2 };
enum class RlsUnit : int { kUnknown = 0, kSecond = 1, kMinute = 2, kHour = 3, kDay = 4, kMonth = 5, kYear = 6 };

// current_limit: the deciding limit as requests per unit.
struct RlsLimit {
  std::string_view name;  // the limit's name (into the engine's config)
  uint32_t requests_per_unit = 0;
  RlsUnit unit = RlsUnit::kUnknown;
};

// The unit of a window of `window_seconds` (1 s, 60 s, 3600 s, 86400 s), or
// nullopt: Envoy's current_limit cannot state any other window.
std::optional<RlsUnit> rls_unit(int64_t window_seconds);

struct RlsStatus {
  RlsCode code = RlsCode::kOk;
  std::optional<RlsLimit> current_limit;
  uint32_t limit_remaining = 0;
  int64_t reset_after_ms = -1;  // duration_until_reset; -1: none (no deciding limit)
};

// One ShouldRateLimit answer. `headers` values point into the decider's
// scratch (valid until its next decide()).
struct RlsAnswer {
  RlsCode overall = RlsCode::kOk;
  std::vector<RlsStatus> statuses;  // one per request descriptor, in order
  std::vector<HeaderField> headers;  // names lower-case ("ratelimit-policy", "tollgate-code", …)
};

// Relaxed counters of one gRPC thread (INFO `envoy`).
struct alignas(64) RlsCounters {
  std::atomic<uint64_t> requests{0};              // ShouldRateLimit calls answered
  std::atomic<uint64_t> descriptors{0};           // descriptors in them
  std::atomic<uint64_t> ok{0};                    // overall OK
  std::atomic<uint64_t> over_limit{0};            // overall OVER_LIMIT
  std::atomic<uint64_t> unknown_domains{0};       // calls whose domain is not configured
  std::atomic<uint64_t> unmatched_descriptors{0}; // descriptors without their domain's key entry
  std::atomic<uint64_t> invalid_requests{0};      // INVALID_ARGUMENT answers
  std::atomic<uint64_t> deadline_exceeded{0};     // calls whose deadline passed before the decision
  std::atomic<uint64_t> by_code[kCodeCount] = {}; // engine decisions of matched descriptors

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// Why a request is refused as INVALID_ARGUMENT, or nullopt when it is
// valid: an empty domain, no descriptors, more than `max_descriptors`, an
// entry with an empty key, or an entry value longer than `max_key` bytes
// (server.max_key, the bound every RESP command puts on a key).
std::optional<std::string_view> rls_request_problem(std::string_view domain, size_t descriptors,
                                                    size_t max_descriptors, std::span<const DescriptorEntry> entries,
                                                    size_t max_key);

// Decides ShouldRateLimit calls for one thread. Not thread-safe (one per
// thread); borrows nothing between calls.
class RlsDecider {
 public:
  RlsDecider() = default;
  RlsDecider(const RlsDecider&) = delete;
  RlsDecider& operator=(const RlsDecider&) = delete;

  // The request's descriptors, flattened: the caller clears, then adds each
  // descriptor's entries and ends it. Views must outlive decide().
  void clear();
  void add_entry(std::string_view key, std::string_view value) { entries_.push_back({key, value}); }
  void end_descriptor() { starts_.push_back(entries_.size()); }
  size_t descriptor_count() const { return starts_.size() - 1; }
  std::span<const DescriptorEntry> entries() const { return entries_; }

  // Decides the call (charging every matched descriptor or none) and
  // returns the answer, valid until the next clear(). Must run inside the
  // caller's Reclaimer critical section (the engine's rule); `worker` is
  // passed to the engine (no holds are created: see fronts/envoy/grpc/).
  // With `call_log`, the matched descriptors' CHECKs are recorded as one
  // group (calllog/group_hook.h) into its buffer `log_buffer`, which this
  // thread alone appends to.
  const RlsAnswer& decide(const EnvoyMapping& mapping, Engine& engine, std::string_view domain,
                          uint32_t hits_addend, Nanos now, int worker, RlsCounters& counters,
                          calllog::CallLog* call_log = nullptr, int log_buffer = 0);

 private:
  std::span<const DescriptorEntry> descriptor(size_t i) const {
    return std::span(entries_).subspan(starts_[i], starts_[i + 1] - starts_[i]);
  }
  void answer_default(EnvoyDefault value, size_t count);
  RlsStatus status_of(const Engine& engine, const CheckRequest& request, const Decision& d) const;
  void add_headers(const Engine& engine, const CheckRequest& request, const Decision& d);

  std::vector<DescriptorEntry> entries_;
  std::vector<size_t> starts_{0};
  std::vector<CheckRequest> requests_;
  std::vector<size_t> request_of_;  // descriptor → index into requests_, or kUnmatched
  std::vector<Decision> decisions_;
  std::optional<RateLimitFields> fields_;
  RlsAnswer answer_;
};

}  // namespace tollgate::fronts
