#include "engine/subjects/distinct_set.h"

#include <algorithm>

#include <xxhash.h>

#include "engine/dirty_bits.h"
#include "engine/limits/limit_result.h"

namespace tollgate {

using subjects_detail::PeriodGenerations;

namespace {

constexpr uint64_t kEmpty = 0;
constexpr uint64_t kRemoved = 1;
// Slots zeroed per chunk: small enough that one chunk per call is cheap.
constexpr uint64_t kMinChunkSlots = 256;

// The two reserved slot values stand for two other (arbitrary) hashes.
uint64_t slot_value(uint64_t hash) {
  return hash <= kRemoved ? hash ^ 0x9e3779b97f4a7c14ULL : hash;
}

uint64_t next_pow2(uint64_t x) {
  uint64_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

}  // namespace

// The two tables and their generation headers, on the heap so the object can
// move while the clear callback keeps a stable owner pointer.
struct DistinctSubjects::Storage {
  Storage(uint64_t capacity, uint64_t chunk_slots)
      : capacity(capacity),
        chunk_slots(chunk_slots),
        slots(new std::atomic<uint64_t>[2 * capacity]()),
        inserted(capacity),
        generations(2, 1, static_cast<uint32_t>(capacity / chunk_slots), &clear_chunk, this) {}

  static void clear_chunk(void* owner, int gen, uint32_t chunk) {
    auto* self = static_cast<Storage*>(owner);
    std::atomic<uint64_t>* begin = self->table(gen) + uint64_t{chunk} * self->chunk_slots;
    for (uint64_t i = 0; i < self->chunk_slots; ++i) begin[i].store(kEmpty, std::memory_order_relaxed);
  }

  std::atomic<uint64_t>* table(int gen) const { return slots.get() + uint64_t(gen) * capacity; }

  // Membership by linear probing; a present value lies before the first empty
  // slot of its probe sequence (removal leaves kRemoved, never kEmpty).
  bool lookup(int gen, uint64_t value) const {
    const std::atomic<uint64_t>* t = table(gen);
    uint64_t mask = capacity - 1;
    uint64_t i = value & mask;
    for (uint64_t n = 0; n < capacity; ++n, i = (i + 1) & mask) {
      uint64_t v = t[i].load(std::memory_order_acquire);
      if (v == value) return true;
      if (v == kEmpty) return false;
    }
    return false;
  }

  // Inserts `value` unless present (false). Reuses the first removed slot on
  // the way to the first empty one. Lock-free: it restarts only when a CAS
  // lost to another thread's change. The count invariant (≤ limit < capacity
  // live values) guarantees a free slot.
  bool insert(int gen, uint64_t value) {
    std::atomic<uint64_t>* t = table(gen);
    uint64_t mask = capacity - 1;
    for (;;) {
      uint64_t i = value & mask;
      int64_t removed = -1;
      bool restart = false;
      for (uint64_t n = 0; n < capacity && !restart; ++n, i = (i + 1) & mask) {
        uint64_t v = t[i].load(std::memory_order_acquire);
        if (v == value) return false;
        if (v == kRemoved && removed < 0) removed = static_cast<int64_t>(i);
        if (v != kEmpty) continue;
        uint64_t at = removed >= 0 ? static_cast<uint64_t>(removed) : i;
        uint64_t expected = removed >= 0 ? kRemoved : kEmpty;
        if (t[at].compare_exchange_strong(expected, value, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
          inserted.mark(at);
          return true;
        }
        restart = true;
      }
      if (restart) continue;
      if (removed < 0) return false;  // unreachable while count ≤ limit
      uint64_t expected = kRemoved;
      if (t[removed].compare_exchange_strong(expected, value, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
        inserted.mark(static_cast<uint64_t>(removed));
        return true;
      }
    }
  }

  // Marks `value` removed; true iff this call removed it.
  bool remove(int gen, uint64_t value) {
    std::atomic<uint64_t>* t = table(gen);
    uint64_t mask = capacity - 1;
    uint64_t i = value & mask;
    for (uint64_t n = 0; n < capacity; ++n, i = (i + 1) & mask) {
      uint64_t v = t[i].load(std::memory_order_acquire);
      if (v == kEmpty) return false;
      if (v == value) {
        return t[i].compare_exchange_strong(v, kRemoved, std::memory_order_acq_rel,
                                            std::memory_order_acquire);
      }
    }
    return false;
  }

  uint64_t capacity;
  uint64_t chunk_slots;
  std::unique_ptr<std::atomic<uint64_t>[]> slots;
  DirtyBits inserted;  // slot indexes (either generation) inserted since the last drain_new()
  PeriodGenerations generations;
};

DistinctSubjects::DistinctSubjects(int64_t limit, Calendar calendar)
    : limit_(limit),
      capacity_(next_pow2(std::max<uint64_t>(16, 2 * static_cast<uint64_t>(limit)))),
      calendar_(std::move(calendar)) {
  uint64_t chunk = std::max(kMinChunkSlots, capacity_ / (uint64_t{1} << 16));
  storage_ = std::make_unique<Storage>(capacity_, std::min(chunk, capacity_));
}

DistinctSubjects::DistinctSubjects(DistinctSubjects&&) noexcept = default;
DistinctSubjects& DistinctSubjects::operator=(DistinctSubjects&&) noexcept = default;
DistinctSubjects::~DistinctSubjects() = default;

std::expected<DistinctSubjects, std::string> DistinctSubjects::make(
    const LimitSpec& spec, std::string_view default_zone) {
  return make(spec.limit, spec.period, spec.timezone.empty() ? default_zone : spec.timezone);
}

std::expected<void, std::string> DistinctSubjects::check(int64_t limit, Period period, std::string_view zone) {
  if (limit < 1 || limit > kMaxLimit) {
    return std::unexpected("distinct_subjects: limit must be between 1 and " +
                           std::to_string(kMaxLimit));
  }
  auto calendar = Calendar::make(period, zone);
  if (!calendar) return std::unexpected("distinct_subjects: " + calendar.error());
  return {};
}

uint64_t DistinctSubjects::memory_for(int64_t limit) {
  const auto cap = static_cast<uint64_t>(std::clamp<int64_t>(limit, 1, kMaxLimit));
  const uint64_t capacity = next_pow2(std::max<uint64_t>(16, 2 * cap));
  return 2 * capacity * sizeof(uint64_t) + capacity / 8;  // two generations of slots + the inserted bits
}

std::expected<DistinctSubjects, std::string> DistinctSubjects::make(int64_t limit, Period period,
                                                                    std::string_view zone) {
  if (auto ok = check(limit, period, zone); !ok) return std::unexpected(ok.error());
  return DistinctSubjects(limit, *Calendar::make(period, zone));
}

uint64_t DistinctSubjects::hash_subject(std::string_view subject) {
  return XXH3_64bits(subject.data(), subject.size());
}

PeriodBounds DistinctSubjects::bounds_of(uint64_t id, const PeriodBounds& current) const {
  return subjects_detail::bounds_of_id(calendar_, id, current);
}

bool DistinctSubjects::stepped(uint64_t id, const PeriodBounds& current, Nanos now) const {
  return limits_detail::saturating_sub(bounds_of(id, current).start, now) > kAheadLimit;
}

SubjectCharge DistinctSubjects::answer(SubjectVerdict verdict, int gen, uint64_t id,
                                       const PeriodBounds& current, Nanos now) const {
  PeriodBounds period = bounds_of(id, current);
  SubjectCharge r;
  r.verdict = verdict;
  r.count = std::min(limit_, storage_->generations.count(gen));
  r.remaining = limit_ - r.count;
  r.reset_after = std::max<Nanos>(0, limits_detail::saturating_sub(period.end, now));
  r.admitted_in = std::max(now, period.start);
  if (verdict == SubjectVerdict::kOverCap) r.retry_after = std::max<Nanos>(1, r.reset_after);
  return r;
}

SubjectCharge DistinctSubjects::try_admit(uint64_t subject_hash, Nanos now) {
  const uint64_t value = slot_value(subject_hash);
  const PeriodBounds current = calendar_.bounds(now);
  const uint64_t id_now = PeriodGenerations::period_id(current.start);
  Storage& s = *storage_;
  for (;;) {
    PeriodGenerations::Live live = s.generations.acquire(id_now);
    if (live.status != PeriodGenerations::Live::Status::kReady) {
      SubjectCharge busy;
      busy.verdict = SubjectVerdict::kBusy;
      busy.remaining = limit_;
      busy.retry_after = kBusyRetry;
      busy.reset_after = std::max<Nanos>(0, limits_detail::saturating_sub(current.end, now));
      return busy;
    }
    const int gen = live.gen;
    if (live.id != id_now && stepped(live.id, current, now)) {
      s.generations.retag(gen, live.id, id_now);  // count the current period, members kept
      continue;
    }
    // The common case: already counted. Valid only if the generation still
    // counts that period after the read.
    if (s.lookup(gen, value)) {
      if (s.generations.still_live(gen, live.id)) {
        return answer(SubjectVerdict::kSeen, gen, live.id, current, now);
      }
      continue;
    }
    switch (s.generations.enter_writer(gen, live.id, 1, limit_)) {
      case PeriodGenerations::Enter::kMoved:
        continue;
      case PeriodGenerations::Enter::kFull:
        // A racing thread may just have inserted this very subject.
        if (s.lookup(gen, value) && s.generations.still_live(gen, live.id)) {
          return answer(SubjectVerdict::kSeen, gen, live.id, current, now);
        }
        if (!s.generations.still_live(gen, live.id)) continue;
        return answer(SubjectVerdict::kOverCap, gen, live.id, current, now);
      case PeriodGenerations::Enter::kEntered:
        break;
    }
    if (s.insert(gen, value)) {
      s.generations.leave_writer(gen, 0);
      return answer(SubjectVerdict::kAdmitted, gen, live.id, current, now);
    }
    s.generations.leave_writer(gen, 1);  // a racing duplicate won: give the unit back
    return answer(SubjectVerdict::kSeen, gen, live.id, current, now);
  }
}

SubjectCharge DistinctSubjects::peek_admit(uint64_t subject_hash, Nanos now) const {
  const uint64_t value = slot_value(subject_hash);
  const PeriodBounds current = calendar_.bounds(now);
  const uint64_t id_now = PeriodGenerations::period_id(current.start);
  const Storage& s = *storage_;
  for (int attempt = 0; attempt < 8; ++attempt) {
    PeriodGenerations::Live live = s.generations.find(id_now);
    if (live.status != PeriodGenerations::Live::Status::kReady) break;  // try_admit would open it empty
    const bool seen = s.lookup(live.gen, value);
    if (!s.generations.still_live(live.gen, live.id)) continue;
    // A clock step's period counts as the current one (try_admit retags it).
    const uint64_t id = live.id != id_now && stepped(live.id, current, now) ? id_now : live.id;
    SubjectCharge r = answer(SubjectVerdict::kSeen, live.gen, id, current, now);
    if (seen) return r;
    if (r.count >= limit_) {
      r.verdict = SubjectVerdict::kOverCap;
      r.retry_after = std::max<Nanos>(1, r.reset_after);
    } else {
      r.verdict = SubjectVerdict::kAdmitted;
      r.count += 1;
      r.remaining -= 1;
    }
    return r;
  }
  SubjectCharge r;
  r.verdict = SubjectVerdict::kAdmitted;
  r.count = 1;
  r.remaining = limit_ - 1;
  r.reset_after = std::max<Nanos>(0, limits_detail::saturating_sub(current.end, now));
  r.admitted_in = now;
  return r;
}

void DistinctSubjects::forget(uint64_t subject_hash, Nanos period_of_admission) {
  const uint64_t value = slot_value(subject_hash);
  uint64_t id = PeriodGenerations::period_id(calendar_.bounds(period_of_admission, false).start);
  Storage& s = *storage_;
  int gen = s.generations.find_exact(id);
  if (gen < 0) return;  // that period is over: nothing to give back
  if (s.generations.enter_writer(gen, id, 0, limit_) != PeriodGenerations::Enter::kEntered) return;
  s.generations.leave_writer(gen, s.remove(gen, value) ? 1 : 0);
}

bool DistinctSubjects::contains(uint64_t subject_hash, Nanos now) const {
  const uint64_t value = slot_value(subject_hash);
  const uint64_t id_now = PeriodGenerations::period_id(calendar_.bounds(now).start);
  const Storage& s = *storage_;
  for (;;) {
    PeriodGenerations::Live live = s.generations.find(id_now);
    if (live.status != PeriodGenerations::Live::Status::kReady) return false;
    bool found = s.lookup(live.gen, value);
    if (s.generations.still_live(live.gen, live.id)) return found;
  }
}

int64_t DistinctSubjects::count(Nanos now) const {
  const uint64_t id_now = PeriodGenerations::period_id(calendar_.bounds(now).start);
  PeriodGenerations::Live live = storage_->generations.find(id_now);
  return live.status == PeriodGenerations::Live::Status::kReady ? std::min(limit_, live.count) : 0;
}

Nanos DistinctSubjects::reset_after(Nanos now) const {
  const PeriodBounds current = calendar_.bounds(now);
  PeriodGenerations::Live live =
      storage_->generations.find(PeriodGenerations::period_id(current.start));
  PeriodBounds period =
      live.status == PeriodGenerations::Live::Status::kReady ? bounds_of(live.id, current) : current;
  return std::max<Nanos>(0, limits_detail::saturating_sub(period.end, now));
}

// Reads the members in the slots `scan` names from the live generation.
PeriodMembers DistinctSubjects::read_members(Nanos now, const subjects_detail::GenerationScan& scan) const {
  const Storage& s = *storage_;
  PeriodMembers out;
  auto start = scan.read(
      s.generations, calendar_, now, [&](int gen) { return s.table(gen); }, [&] { out.hashes.clear(); },
      [&](uint64_t, uint64_t v) {
        if (v > kRemoved) out.hashes.push_back(v);
      });
  if (!start) return {};  // the period keeps moving under us: nothing worth saving
  out.period_start = *start;
  return out;
}

PeriodMembers DistinctSubjects::members(Nanos now) const {
  return read_members(now, subjects_detail::GenerationScan::all(capacity_));
}

PeriodMembers DistinctSubjects::drain_new(Nanos now) {
  auto scan = subjects_detail::GenerationScan::drained(storage_->inserted);
  if (scan.empty()) return {};
  return read_members(now, scan);
}

int64_t DistinctSubjects::restore(const PeriodMembers& saved, Nanos now) {
  if (saved.period_start == 0 || saved.period_start != calendar_.bounds(now).start) return 0;
  int64_t admitted = 0;
  for (uint64_t h : saved.hashes)
    if (try_admit(h, now).verdict == SubjectVerdict::kAdmitted) ++admitted;
  storage_->inserted.drain([](uint64_t) {});  // already durable: not new to the next checkpoint
  return admitted;
}

void DistinctSubjects::reset() { storage_->generations.reset(); }

}  // namespace tollgate
