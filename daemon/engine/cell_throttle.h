// Ad-hoc GCRA rate limits for CL.THROTTLE, answering exactly as redis-cell's
// RateLimiter does (see docs/redis-cell.md). The parameters come with every
// call, so each key stores only its theoretical arrival time (TAT) in one
// atomic word of its own key space, a CounterTable owned by this object.
// A key whose TAT has been in the past for longer than idle_timeout is a full
// bucket, the same as a missing key, so sweep() drops it and nothing is lost.
// Thread-safety: throttle() is thread-safe and lock-free for existing keys
// (call it inside a Reclaimer critical section); sweep() is for one
// control-plane thread. Evicted entries are freed through the Reclaimer.
// Ownership: the daemon's wiring (app/) owns the one CellThrottle and hands
// it to the data service (DataService::set_cell_throttle) and the control
// plane's sweep; nothing here is process-global.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string_view>

#include "engine/counter_table.h"
#include "engine/reclaimer.h"
#include "tollgate/time.h"

namespace tollgate {

// The largest (max_burst + 1) × period/count accepted: about 73 years, so
// that now + 2 × that still fits in Nanos until the year 2116.
inline constexpr Nanos kCellMaxWindow = Nanos{1} << 61;

// Why a call was refused before it reached a bucket (client errors; the
// command layer words them: commands/cell_commands.h).
enum class CellError : uint8_t {
  kZeroRate,          // count or period is 0, or count > period in ns (redis-cell's own error)
  kNegativeMaxBurst,
  kNegativeCount,
  kNegativePeriod,
  kNegativeQuantity,
  kPeriodTooLarge,    // period × 1e9 does not fit in int64 nanoseconds
  kWindowTooLarge,    // (max_burst + 1) × period/count > kCellMaxWindow
  kKeySpaceFull,      // max_keys live keys already
};

// One decision, with durations in nanoseconds; encode with cell_seconds().
struct CellResult {
  bool limited = false;
  int64_t limit = 0;      // max_burst + 1
  int64_t remaining = 0;  // whole units left after this call
  Nanos retry_after = -1; // when limited and waiting helps: time until this call would pass; else -1
  Nanos reset_after = 0;  // time until the bucket is full again
};

// redis-cell's seconds: whole seconds, plus one when the remainder has at
// least one whole millisecond (so 2.0005 s → 2, 2.001 s → 3). Negative
// durations (the -1 sentinel) give -1.
constexpr int64_t cell_seconds(Nanos d) {
  if (d < 0) return -1;
  return d / kNanosPerSecond + ((d % kNanosPerSecond) / kNanosPerMilli > 0 ? 1 : 0);
}

// Validated GCRA parameters of one call. Thread-safe (immutable).
struct CellParams {
  Nanos interval = 0;   // T = floor(period_ns / count): ns per unit
  Nanos window = 0;     // (max_burst + 1) × T: how far the TAT may run ahead of now
  int64_t limit = 0;    // max_burst + 1

  // Checks the arguments in redis-cell's order (zero rate first), then
  // tollgate's bounds. Pure function.
  static std::expected<CellParams, CellError> make(int64_t max_burst, int64_t count, int64_t period_s);

  // Decides `quantity` (≥ 0) against stored TAT `tat` at `now`. When the call
  // is admitted and changes the state, sets *new_tat and returns true in
  // *write. Pure function.
  CellResult evaluate(Nanos tat, int64_t quantity, Nanos now, Nanos* new_tat, bool* write) const;
};

class CellThrottle {
 public:
  // max_keys bounds the live keys (further new keys get kKeySpaceFull until a
  // sweep frees room); idle_timeout is how long a full bucket is kept.
  CellThrottle(Reclaimer& reclaimer, size_t max_keys, Nanos idle_timeout);
  CellThrottle(const CellThrottle&) = delete;
  CellThrottle& operator=(const CellThrottle&) = delete;

  // CL.THROTTLE: charges `quantity` units to `key` iff they fit, as redis-cell
  // does (quantity 0 only looks). Creates the key only when a charge is
  // stored. Thread-safe; lock-free for existing keys (CAS loop on the TAT);
  // call inside a Reclaimer critical section.
  [[nodiscard]] std::expected<CellResult, CellError> throttle(std::string_view key, int64_t max_burst,
                                                              int64_t count, int64_t period_s,
                                                              int64_t quantity, Nanos now);

  // Evicts up to `budget` slots' worth of keys whose TAT is more than
  // idle_timeout before `now`. Each word is sealed by CAS before the unlink,
  // so a racing throttle() retries on a fresh entry and never loses its
  // charge. Returns keys removed. Thread-safe; one control-plane caller.
  size_t sweep(Nanos now, size_t budget);

  size_t size() const { return table_.size(); }
  uint64_t evicted() const { return table_.evicted(); }
  uint64_t rejected_full() const { return table_.rejected_full(); }
  Nanos idle_timeout() const { return idle_timeout_; }

  // Word value of a sealed (being evicted) entry; never a stored TAT.
  static constexpr uint64_t kSealed = uint64_t{1} << 63;

 private:
  CounterTable table_;
  Nanos idle_timeout_;
};

}  // namespace tollgate
