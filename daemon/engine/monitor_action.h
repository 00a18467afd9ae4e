// An action a monitor put on a contract (block one channel, suspend the
// contract, throttle it or one channel, enforce one of its shadow limits) and
// the restriction word the decision path reads: the engine's side of the
// monitors (daemon/monitor/, control/monitor_runner.h). Plain value types and
// pure functions (thread-safety: values only), and the throttle slots a
// policy's workers read (MonitorThrottles, its own race reasoning below).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/time.h"

namespace tollgate {

// Stored numbers (journal, snapshots): never renumber.
enum class MonitorActionKind : uint8_t { kBlockChannel = 1, kSuspend = 2, kThrottle = 3, kEnforce = 4 };

std::string_view action_name(MonitorActionKind kind);  // "block_channel", "suspend", "throttle", "enforce"

struct ActiveAction {
  MonitorActionKind kind = MonitorActionKind::kBlockChannel;
  std::string monitor;  // the monitor that fired (or the admin's label)
  std::string channel;  // kBlockChannel: the channel denied; kThrottle: the channel throttled (empty: all)
  std::string reason;   // the measured value and threshold, shown in CONTRACT
  Nanos since = 0;
  Nanos until = 0;  // lifted by the control plane at this instant
  // kThrottle: a token bucket of `rate` calls per `per`, capacity `burst`.
  int64_t rate = 0;
  Nanos per = 0;
  int64_t burst = 0;
  std::string limit;  // kEnforce: the contract's shadow limit enforced

  // One action per target: a later stage of the same monitor (say a tighter
  // throttle) replaces the earlier one.
  bool same_target(const ActiveAction& o) const {
    return kind == o.kind && monitor == o.monitor && channel == o.channel && limit == o.limit;
  }
};

// The restriction word of a policy (Policy::restricted): bit i denies the
// contract's i-th configured channel (CHANNEL), kSuspendedBit denies every
// call (SUSPENDED), kThrottledBit sends the call through the policy's
// throttle slots (MonitorThrottles). Zero when nothing is in force: one
// relaxed load on the decision path. Channels beyond the 62nd cannot be
// blocked by a monitor. An enforced shadow limit needs no bit: the decision
// path reads Policy::promoted only when a shadow limit would deny.
inline constexpr uint64_t kSuspendedBit = uint64_t{1} << 63;
inline constexpr uint64_t kThrottledBit = uint64_t{1} << 62;
inline constexpr size_t kMaxBlockableChannels = 62;
uint64_t restriction_word(const std::vector<ActiveAction>& actions, const std::vector<std::string>& channels);

// A throttle as the decision path applies it: `channel` is the index in the
// contract's channels (kWholeContract: every call).
struct ThrottleTerms {
  static constexpr int64_t kWholeContract = -1;
  int64_t channel = kWholeContract;
  int64_t rate = 0;
  Nanos per = 0;
  int64_t burst = 0;
  bool operator==(const ThrottleTerms&) const = default;
};
// The distinct throttles of `actions` that apply to a contract with these
// channels (a throttle of a channel no longer configured applies to none),
// at most `max` (the first ones).
std::vector<ThrottleTerms> throttle_terms(const std::vector<ActiveAction>& actions,
                                          const std::vector<std::string>& channels, size_t max);

// A policy's throttle slots: one GCRA word per throttle in force, at most
// kMaxThrottles per contract (more are refused when put in force).
//
// Race reasoning. Writers (Engine::sync_restrictions, any thread) hold the
// policy's monitor_mutex; workers read without a lock. A slot's terms are
// published seqlock-style: the writer makes `seq` odd, writes the terms and
// a full bucket (tat = 0), then makes `seq` even again (release); a worker
// reads seq (acquire), the terms, fences (acquire) and re-reads seq, and
// retries while it was odd or changed — so a worker never decides with half
// of one throttle's terms and half of another's. The bucket word is a
// TokenBucket state word (CAS loop, thread-safe). A worker that read the
// terms just before a slot was rewritten may charge one call to the new
// bucket with the old terms: off by one call, never a torn value. Slots are
// allocated once per policy and freed with it (policies are retired through
// the Reclaimer), so a worker's pointer never dangles.
inline constexpr size_t kMaxThrottles = 16;
struct MonitorThrottleSlot {
  std::atomic<uint64_t> seq{0};  // odd while written; 0: never used
  std::atomic<int64_t> channel{ThrottleTerms::kWholeContract};
  std::atomic<int64_t> rate{0};  // 0: empty slot
  std::atomic<int64_t> per{0};
  std::atomic<int64_t> burst{0};
  std::atomic<uint64_t> tat{0};  // TokenBucket state word; 0 is a full bucket
};
struct MonitorThrottles {
  std::array<MonitorThrottleSlot, kMaxThrottles> slots;
};

// The limit name a monitor's denial reports (Decision::limit).
inline constexpr std::string_view kMonitorLimit = "monitor";

}  // namespace tollgate
