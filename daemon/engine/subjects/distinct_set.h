// distinct_subjects limit: at most `limit` distinct subjects (64-bit XXH3
// hashes, exact membership) per calendar period; a subject seen in the period
// keeps working, a new one beyond the cap is denied.
//
// Storage: two generations of an open-addressing table (linear probing,
// capacity = next power of two ≥ 2 × limit, atomic 64-bit slots; 0 = empty,
// 1 = removed; hashes 0 and 1 are remapped), each tagged with the period it
// counts (see period_generations.h). Memory: 2 × capacity × 8 bytes, fixed at
// make(); nothing is allocated afterwards.
//
// Guarantees:
// - Never more than `limit` distinct subjects admitted in one period: a new
//   subject reserves a unit of the count (CAS on the generation header) before
//   it is inserted, and a racing duplicate gives its unit back. Under races the
//   set may under-admit (a new subject denied while a duplicate's unit is in
//   flight), never over-admit.
// - The same new subject from many threads is inserted and counted once
//   (except: a duplicate insert racing with forget() of a colliding subject
//   can store it twice; it then holds two units — under-admission only).
// - Roll-over is exact: the first call at or after the boundary (by the
//   calendar, to the nanosecond) goes live on the spare generation, which is
//   all zero; an entry of an earlier period is never reported as seen.
//   The spare is zeroed during the previous period, one chunk per call; only
//   when that did not finish (idle limit, or several periods skipped) do the
//   calls at the boundary zero it, cooperatively. kBusy is answered only
//   while the last chunks are being zeroed by another thread at that moment.
// - Time going backwards into an earlier period never reopens a set: a call
//   whose clock is behind the newest live period counts in that period —
//   when that period starts within kAheadLimit of its clock (another
//   thread's clock just past the boundary). A live period starting later
//   than that went live while the clock stood later (stepped forward, then
//   corrected back): the set is taken over for the current period, members
//   and count kept (no new room in the current period), and empties when the
//   current period ends.
//
// Persistence: members() copies the live period's members, drain_new() those
// inserted since its previous call (a dirty bit per slot, set on insert),
// restore() admits saved members again when their period is still current.
//
// Thread-safety: try_admit, forget, contains, count, reset_after and
// retry_after are thread-safe and lock-free (no mutex, no allocation). reset()
// is thread-safe but may wait (control plane). members() is thread-safe; a
// concurrent reader sees every member admitted before the call began and
// maybe some admitted during it (or a forgotten one); drain_new() the same,
// one caller at a time. restore() is for recovery. The object owns its storage;
// it is movable, not copyable; moving is not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/limits/calendar.h"
#include "engine/subjects/period_generations.h"
#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

enum class SubjectVerdict : uint8_t {
  kSeen,      // already counted in this period: allowed, nothing changed
  kAdmitted,  // new and under the cap: counted
  kOverCap,   // new and the cap is reached: denied, nothing changed
  kBusy,      // roll-over in progress in another thread's hands: denied, retry shortly
};

struct SubjectCharge {
  SubjectVerdict verdict = SubjectVerdict::kOverCap;
  // Distinct subjects counted in the period, as this call saw them.
  int64_t count = 0;
  int64_t remaining = 0;  // limit − count, never negative
  // 0 when allowed; kOverCap: time until the period ends; kBusy: kBusyRetry.
  Nanos retry_after = 0;
  // Time until the period counted ends (the set empties then).
  Nanos reset_after = 0;
  // An instant inside the period counted (normally `now`; later when another
  // caller's clock was ahead). Pass to forget() to undo a kAdmitted.
  Nanos admitted_in = 0;

  bool allowed() const {
    return verdict == SubjectVerdict::kSeen || verdict == SubjectVerdict::kAdmitted;
  }
};

// The members of one period, for persistence. `hashes` are slot values
// (subject hashes, the two reserved values remapped), fit for try_admit.
struct PeriodMembers {
  Nanos period_start = 0;  // 0: no live period
  std::vector<uint64_t> hashes;
};

class DistinctSubjects {
 public:
  static constexpr int64_t kMaxLimit = int64_t{1} << 24;
  static constexpr Nanos kBusyRetry = kNanosPerMilli;
  // How far ahead of `now` a live period may start and still be a racing
  // thread's (rather than a clock step's).
  static constexpr Nanos kAheadLimit = kNanosPerSecond;

  // Validates spec.limit (1..kMaxLimit); the zone is spec.timezone, or
  // `default_zone` when that is empty.
  static std::expected<DistinctSubjects, std::string> make(const LimitSpec& spec,
                                                           std::string_view default_zone);
  static std::expected<DistinctSubjects, std::string> make(int64_t limit, Period period,
                                                           std::string_view zone);
  // What make() validates, without allocating: config validation calls it.
  static std::expected<void, std::string> check(int64_t limit, Period period, std::string_view zone);
  // Bytes make() allocates for a set capped at `limit` (1..kMaxLimit).
  static uint64_t memory_for(int64_t limit);

  // XXH3-64 of a SUBJECT value, the hash every method takes.
  static uint64_t hash_subject(std::string_view subject);

  DistinctSubjects(DistinctSubjects&&) noexcept;
  DistinctSubjects& operator=(DistinctSubjects&&) noexcept;
  ~DistinctSubjects();

  // Admits `subject_hash` in the period containing `now` (or a later period
  // another caller already reached): kSeen, kAdmitted, kOverCap or kBusy.
  // Thread-safe, lock-free.
  [[nodiscard]] SubjectCharge try_admit(uint64_t subject_hash, Nanos now);
  // What try_admit would answer now (kSeen, kAdmitted or kOverCap, with the
  // same numbers), changing nothing (PEEK). Thread-safe, lock-free.
  [[nodiscard]] SubjectCharge peek_admit(uint64_t subject_hash, Nanos now) const;
  // Undoes a kAdmitted (the caller's rollback when another limit denied the
  // call): removes the subject and its unit iff the period containing
  // `period_of_admission` (SubjectCharge::admitted_in) is still live. Call it
  // only for a kAdmitted, once. Thread-safe, lock-free.
  void forget(uint64_t subject_hash, Nanos period_of_admission);
  // True iff the subject is counted in the period try_admit would use now.
  // Thread-safe.
  bool contains(uint64_t subject_hash, Nanos now) const;
  // Distinct subjects counted in that period (0 if it has not started).
  // Thread-safe.
  int64_t count(Nanos now) const;
  // Time until that period ends: when the set empties. Thread-safe.
  Nanos reset_after(Nanos now) const;
  // How long a new subject denied now must wait (the period's end). Thread-safe.
  Nanos retry_after(Nanos now) const { return reset_after(now); }
  // Every member of the period try_admit would use at `now`. Thread-safe.
  PeriodMembers members(Nanos now) const;
  // The members inserted since the previous drain_new() (as read now, in the
  // live period). One caller at a time.
  PeriodMembers drain_new(Nanos now);
  // Admits `saved` again when its period is the one containing `now`;
  // returns how many were admitted (0 for a period that has ended).
  // Restored members are not reported by drain_new(). Meant for recovery,
  // before workers run (a member admitted concurrently might not be either).
  int64_t restore(const PeriodMembers& saved, Nanos now);

  // Admin RESET: empties the set. Thread-safe; waits for in-flight writers.
  void reset();

  int64_t limit() const { return limit_; }
  uint64_t capacity() const { return capacity_; }
  uint64_t memory_bytes() const { return 2 * capacity_ * sizeof(uint64_t); }
  const Calendar& calendar() const { return calendar_; }

 private:
  struct Storage;
  DistinctSubjects(int64_t limit, Calendar calendar);

  // The bounds of the period with id `id`, which is `current`'s or later.
  PeriodBounds bounds_of(uint64_t id, const PeriodBounds& current) const;
  // Whether live period `id` starts further ahead of `now` than skew explains.
  bool stepped(uint64_t id, const PeriodBounds& current, Nanos now) const;
  PeriodMembers read_members(Nanos now, const subjects_detail::GenerationScan& scan) const;
  SubjectCharge answer(SubjectVerdict verdict, int gen, uint64_t id, const PeriodBounds& current,
                       Nanos now) const;

  int64_t limit_;
  uint64_t capacity_;
  Calendar calendar_;
  std::unique_ptr<Storage> storage_;
};

}  // namespace tollgate
