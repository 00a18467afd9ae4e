// Calendar quota: at most `limit` units per calendar period (hour, day, ISO
// week, month) in a time zone; resets exactly at the period boundary. State =
// one atomic word: period id (28 bits) << 36 | count (36 bits). The period id
// is the period's start instant in whole minutes since the epoch, mod 2^28
// (wraps every 510 years; ids are compared wrap-aware within ±255 years). The
// count holds up to 2^36−2 (68.7 billion) units. The object is immutable
// (apart from the Calendar's bounds cache) and shared; words are owned by the
// caller.
//
// Time going backwards into an earlier period never hands out a fresh quota:
// a word already holding a later period keeps counting against that period —
// when that period starts within kAheadLimit of `now` (another thread's clock
// is just past the boundary). A word holding a period that starts later than
// that was written while the clock stood later (stepped forward, then
// corrected back): it counts as the current period with its count kept (no
// fresh quota within the current period), and the next charge attempt writes
// it so; the lockout ends when the current period ends, not when the wrong
// clock's period would have. Calendar periods follow the wall clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "engine/limits/calendar.h"
#include "engine/limits/limit_result.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

class Quota {
 public:
  static constexpr int kCountBits = 36;
  static constexpr int kIdBits = 28;
  // The count field must never reach the sealed pattern's all-ones.
  static constexpr int64_t kMaxLimit = (int64_t{1} << kCountBits) - 2;
  static constexpr uint64_t kSealed = ~uint64_t{0};
  // How far ahead of `now` a stored period may start and still be taken as a
  // racing thread's (rather than a clock step's).
  static constexpr Nanos kAheadLimit = kNanosPerSecond;

  // A state word read as data, for persistence (which must not know the
  // layout): the period id and units it counts, or sealed. encode_word is its
  // inverse for an unsealed word (count 0..kMaxLimit). Pure; thread-safe.
  struct Word {
    bool sealed = false;
    uint64_t period_id = 0;  // when !sealed
    int64_t count = 0;       // when !sealed
  };
  static constexpr Word decode_word(uint64_t word) {
    if (word == kSealed) return Word{.sealed = true};
    return Word{.period_id = word >> kCountBits,
                .count = static_cast<int64_t>(word & ((uint64_t{1} << kCountBits) - 1))};
  }
  static constexpr uint64_t encode_word(uint64_t period_id, int64_t count) {
    return (period_id << kCountBits) | static_cast<uint64_t>(count);
  }

  // Validates spec.limit (1..kMaxLimit); the zone is spec.timezone, or
  // `default_zone` when that is empty.
  static std::expected<Quota, std::string> make(const LimitSpec& spec,
                                                std::string_view default_zone);
  static std::expected<Quota, std::string> make(int64_t limit, Period period,
                                                std::string_view zone);

  int words() const { return 1; }
  int64_t capacity() const { return limit_; }
  const Calendar& calendar() const { return calendar_; }

  // Fresh state: current period, nothing used. Not thread-safe (no racing user).
  void init(std::atomic<uint64_t>* w, Nanos now) const;
  // Charges `cost` iff the period has room. cost > limit (or < 0) is denied
  // with retry_after −1; otherwise a denial's retry_after is the time until
  // the period ends. Thread-safe (CAS loop).
  [[nodiscard]] LimitResult try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const;
  // What try_charge would answer now; changes nothing. Thread-safe.
  [[nodiscard]] LimitResult peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now) const;
  // Gives back `cost` units iff the word still counts the period containing
  // `charged_at` (pass LimitResult::recorded_at). Thread-safe.
  void refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at, Nanos now) const;
  // Seals iff nothing is used in the current or a later period. True iff
  // this call sealed. Thread-safe (one CAS).
  [[nodiscard]] bool try_seal(std::atomic<uint64_t>* w, Nanos now) const;
  // Admin RESET: current period, nothing used. Sealed stays sealed. Thread-safe.
  void reset(std::atomic<uint64_t>* w, Nanos now) const;

 private:
  Quota(int64_t limit, Calendar calendar) : limit_(limit), calendar_(std::move(calendar)) {}

  // What a stored word means at `now`: the period it counts and its usage.
  struct Usage {
    uint64_t id;
    int64_t count;
    PeriodBounds period;
    bool later;    // the word counts a period after `now`'s
    bool stepped;  // the word held a clock step's period, read as the current one
  };
  Usage resolve(uint64_t raw, const PeriodBounds& current, Nanos now) const;
  LimitResult evaluate(const Usage& u, int64_t cost, Nanos now) const;

  int64_t limit_;
  Calendar calendar_;
};

}  // namespace tollgate
