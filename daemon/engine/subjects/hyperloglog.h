// Distinct-subject estimates at fixed memory: HyperLogLog (one sketch) and
// PeriodHll (a sketch per calendar period, current and previous), for INFO,
// CONTRACT and anomaly rules.
//
// HyperLogLog: 2^p registers of 6 bits' worth, stored one byte each, packed
// eight to an atomic 64-bit word; add() is an atomic max on one byte (CAS on
// its word, and usually just a load: most adds change nothing). Standard
// error ≈ 1.04/√m (p = 14: m = 16,384, 16 KiB, ≈ 0.81%). estimate() is the
// classic estimator with small-range linear counting; hashes are 64-bit so no
// large-range correction. Thread-safety: add() and merge() are thread-safe
// and lock-free, estimate() may run concurrently with them (it sees some
// prefix of the adds), clear() is thread-safe but racing adds may or may not
// survive it. Owns its registers; movable, not copyable.
//
// PeriodHll: three generations of registers tagged with their period (see
// period_generations.h): current, previous and a spare zeroed during the
// current period, so a roll-over needs no big clear and the previous period
// stays readable. Roll-over and time going backwards are handled as in
// DistinctSubjects. Thread-safe (add lock-free, no allocation); reset() may
// wait (control plane). Persistence: registers() copies the current period's
// non-zero register words, drain_changed() those raised since its previous
// call (a dirty bit per word), restore() merges saved words back (max per
// register) when their period is still current. A concurrent reader sees
// every raise made before the call began and maybe some made during it.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/limits/calendar.h"
#include "engine/subjects/period_generations.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

namespace hll_detail {

// Register index and rank (1 + leading zeros of the remaining bits) of a hash.
struct Rank {
  uint64_t index;
  uint8_t rank;
};
Rank rank_of(uint64_t hash, int precision);
// Raises register `r.index` of `words` to `r.rank`; true iff it changed.
bool raise(std::atomic<uint64_t>* words, Rank r);
// True iff `r` would raise its register.
bool would_raise(const std::atomic<uint64_t>* words, Rank r);
double estimate(const std::atomic<uint64_t>* words, int precision);

}  // namespace hll_detail

class HyperLogLog {
 public:
  static constexpr int kMinPrecision = 4;
  static constexpr int kMaxPrecision = 18;
  static constexpr int kDefaultPrecision = 14;

  // precision p in [kMinPrecision, kMaxPrecision]: 2^p registers.
  static std::expected<HyperLogLog, std::string> make(int precision = kDefaultPrecision);

  // Counts a 64-bit hash (use XXH3; the high p bits pick the register).
  // Thread-safe, lock-free, no allocation.
  void add(uint64_t hash);
  // Estimated number of distinct hashes added. Thread-safe.
  double estimate() const;
  // Adds every hash `other` has seen. False (nothing changed) when the
  // precisions differ. Thread-safe for this object; `other` may be read
  // while it is being added to (the result then includes a prefix).
  [[nodiscard]] bool merge(const HyperLogLog& other);
  // Forgets everything. Thread-safe (see the header comment on racing adds).
  void clear();

  int precision() const { return precision_; }
  uint64_t registers() const { return uint64_t{1} << precision_; }
  uint8_t register_value(uint64_t index) const;
  // 1.04 / √m.
  double standard_error() const;

 private:
  explicit HyperLogLog(int precision);

  int precision_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

struct PeriodEstimate {
  double current = 0;   // distinct subjects so far in the period containing `now`
  double previous = 0;  // in the period just before it (0 if nothing was counted)
  PeriodBounds current_period;
  PeriodBounds previous_period;
};

// Register words of one period, for persistence: (index, packed word) pairs.
struct HllWords {
  Nanos period_start = 0;  // 0: no live period
  int precision = 0;
  std::vector<std::pair<uint32_t, uint64_t>> words;
};

class PeriodHll {
 public:
  static std::expected<PeriodHll, std::string> make(Period period, std::string_view zone,
                                                    int precision = HyperLogLog::kDefaultPrecision);

  PeriodHll(PeriodHll&&) noexcept;
  PeriodHll& operator=(PeriodHll&&) noexcept;
  ~PeriodHll();

  // Counts `hash` in the period containing `now` (or a later period another
  // caller already reached). False only when a roll-over was in another
  // thread's hands at that moment and the add was dropped. Thread-safe,
  // lock-free, no allocation.
  bool add(uint64_t hash, Nanos now);
  // Estimates for the current period and the one before it. Thread-safe.
  PeriodEstimate estimate(Nanos now) const;
  // The current period's non-zero register words. Thread-safe.
  HllWords registers(Nanos now) const;
  // The words raised since the previous drain_changed(), as they are now.
  // One caller at a time.
  HllWords drain_changed(Nanos now);
  // Merges `saved` into the period containing `now` if it is that period
  // and has this precision; returns how many words it merged. Restored
  // words are not reported by drain_changed(). Meant for recovery.
  size_t restore(const HllWords& saved, Nanos now);

  // Forgets every period. Thread-safe; waits for in-flight adds (control plane).
  void reset();

  int precision() const { return precision_; }
  const Calendar& calendar() const { return calendar_; }

 private:
  struct Storage;
  PeriodHll(int precision, Calendar calendar);
  // Estimate of generation `gen` while it counts `id`; 0 if it moved on.
  double estimate_generation(int gen, uint64_t id) const;
  // Copies the words `for_words` names (non-zero ones) from the live generation.
  HllWords read_words(Nanos now, const subjects_detail::GenerationScan& scan) const;

  int precision_;
  Calendar calendar_;
  std::unique_ptr<Storage> storage_;
};

}  // namespace tollgate
