// GCRA token bucket: `rate` units per `per`, capacity `burst`, state = one
// atomic word holding the theoretical arrival time (TAT). The object holds
// only immutable parameters and is shared by all threads; the state words are
// owned by the caller (a counter-table entry). Under races it may under-admit,
// never over-admit.
//
// Rounding: the emission interval T = ceil(per / rate) ns, so the effective
// rate per/T never exceeds the configured one; it is lower by a relative
// error below 1/T (e.g. < 0.0001% for 1000/s, T = 1 ms). Capacity is exactly
// `burst` units. All arithmetic is overflow-checked: make() rejects what
// cannot be represented (rate above 1 unit/ns, burst × T beyond
// kMaxTolerance) and run-time sums saturate instead of wrapping.
//
// Why kMaxTolerance and not just "burst × T fits in int64": a charge stores
// TAT = max(TAT, now) + cost × T, which is at most now + burst × T. Nanos end
// in April 2262, so a bucket whose burst × T fits but now + burst × T does not
// would deny cost = burst forever (its TAT cannot be stored). make() requires
// now + burst × T to fit for every now before kLatestNow (2100-01-01 UTC), i.e.
// burst × T ≤ INT64_MAX − kLatestNow ≈ 162 years: far beyond any real bucket
// (a day's worth of one call a day is 1 day), and 2100 is far beyond any
// real clock. Past kLatestNow such a bucket may deny (never over-admit).
//
// Clock steps: time going backwards never adds capacity (the TAT stays where
// it is). A TAT further ahead of `now` than any charge could have put it —
// burst × T, plus kMaxPacing for a WAIT reservation — was written while the
// clock stood later (stepped forward, then corrected back). It is read as an
// empty bucket (TAT = now + burst × T), and the first charge attempt writes
// that back: after such a step the key waits at most one full refill, not
// until the wrong clock's time comes round again.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>

#include "engine/limits/limit_result.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

class TokenBucket {
 public:
  // Times up to this are supported by every valid bucket (see above).
  static constexpr Nanos kLatestNow = Nanos{4'102'444'800} * kNanosPerSecond;  // 2100-01-01T00:00:00Z
  static constexpr Nanos kMaxTolerance = INT64_MAX - kLatestNow;               // ≈ 162.3 years

  // Validates spec.rate/per/burst (all ≥ 1, rate ≤ per, burst × T ≤ kMaxTolerance).
  static std::expected<TokenBucket, std::string> make(const LimitSpec& spec);
  static std::expected<TokenBucket, std::string> make(int64_t rate, Nanos per, int64_t burst);

  // The longest WAIT a reservation may be given (CHECK … WAIT is bounded
  // by this); a TAT beyond now + burst×T + kMaxPacing is a clock step's.
  static constexpr Nanos kMaxPacing = 3600 * kNanosPerSecond;

  int words() const { return 1; }
  int64_t capacity() const { return burst_; }
  Nanos emission_interval() const { return interval_; }

  // Fresh state: a full bucket (TAT = now − burst×T, so a clock stepping back
  // does not make a fresh bucket look drained). Not thread-safe (no racing user).
  void init(std::atomic<uint64_t>* w, Nanos now) const;
  // Charges `cost` units iff they are available. cost > burst (or < 0) is
  // denied with retry_after -1. Time going backwards never adds capacity.
  // Thread-safe (CAS loop).
  [[nodiscard]] LimitResult try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const;
  // Pacing: like try_charge, but a call that would conform within
  // `max_delay` is admitted now with its slot reserved (GCRA with the
  // tolerance widened by max_delay: allowed iff new TAT − now ≤ burst×T +
  // max_delay). On success the charge is made at once and `delay` is the time
  // until the call conforms (0 if it does now); `recorded_at` = now + delay.
  // Successive reservations get successive slots T×cost apart. A denial's
  // retry_after is the time until the same reservation would be accepted
  // (time to conform − max_delay, at least 1 ns). max_delay is clamped to
  // [0, kMaxPacing] (0: this is try_charge). Thread-safe (CAS loop).
  [[nodiscard]] LimitResult try_reserve(std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                        Nanos max_delay) const;
  // What try_charge would answer now; changes nothing. Thread-safe.
  [[nodiscard]] LimitResult peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now) const;
  // What try_reserve(…, max_delay) would answer now; changes nothing. Thread-safe.
  [[nodiscard]] LimitResult peek_reserve(const std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                         Nanos max_delay) const;
  // Gives back a charge of `cost` made at `charged_at`. Only the part of the
  // charge that cannot have drained yet (cost×T − (now − charged_at)) is
  // returned, so a late refund never frees units consumed by later calls; a
  // refund never makes the bucket fuller than fresh. For a reservation pass
  // its recorded_at (the slot): refunded before its slot it is given back
  // whole, as if never made (later reservations keep their slots, the next
  // caller takes the freed one at the end). Thread-safe.
  void refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at, Nanos now) const;
  // Seals the word iff the bucket is full (TAT ≤ now); true iff this call
  // sealed it. Thread-safe (one CAS, so a racing charge is never lost).
  [[nodiscard]] bool try_seal(std::atomic<uint64_t>* w, Nanos now) const;
  // Admin RESET: full bucket. A sealed word stays sealed. Thread-safe.
  void reset(std::atomic<uint64_t>* w, Nanos now) const;

  // The word value of a sealed state (never a valid TAT).
  static constexpr uint64_t kSealed = uint64_t{1} << 63;

  // A state word read as data, for persistence (which must not know the
  // layout): the TAT it holds, or sealed. encode_word is its inverse for an
  // unsealed word. Pure; thread-safe.
  struct Word {
    bool sealed = false;
    Nanos tat = 0;  // when !sealed
  };
  static constexpr Word decode_word(uint64_t word) {
    if ((word & kSealed) != 0) return Word{.sealed = true};
    return Word{.tat = static_cast<Nanos>(word)};
  }
  static constexpr uint64_t encode_word(Nanos tat) { return static_cast<uint64_t>(tat); }

 private:
  TokenBucket(Nanos interval, Nanos tolerance, int64_t burst)
      : interval_(interval), tolerance_(tolerance), burst_(burst) {}

  Nanos fresh_tat(Nanos now) const;
  // The stored TAT as it counts at `now`: unchanged, or now + burst×T when it
  // lies beyond anything a charge could have set (a clock step).
  Nanos effective_tat(Nanos tat, Nanos now) const;
  // Decides `cost` against stored TAT `tat`, admitting a call that conforms
  // within `max_delay` (≥ 0); sets *new_tat when allowed.
  LimitResult evaluate(Nanos tat, int64_t cost, Nanos now, Nanos max_delay, Nanos* new_tat) const;

  Nanos interval_;   // T: ns per unit, rounded up
  Nanos tolerance_;  // burst × T: how far TAT may run ahead of now
  int64_t burst_;
};

}  // namespace tollgate
