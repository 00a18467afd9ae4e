#include "engine/subjects/period_generations.h"

#include <cassert>
#include <thread>

#include "engine/limits/limit_result.h"
#include "tollgate/time.h"

namespace tollgate::subjects_detail {

namespace {

using State = PeriodGenerations::State;

constexpr int kStateShift = 62;
constexpr int kIdShift = 34;
constexpr uint64_t kPayloadMask = (uint64_t{1} << kIdShift) - 1;
constexpr uint64_t kWriterMask = (uint64_t{1} << PeriodGenerations::kWriterBits) - 1;
constexpr uint64_t kInflightMask = (uint64_t{1} << PeriodGenerations::kChunkBits) - 1;
constexpr Nanos kMinuteNanos = 60 * kNanosPerSecond;

static_assert(PeriodGenerations::kCountBits + PeriodGenerations::kWriterBits == kIdShift);
static_assert(2 * PeriodGenerations::kChunkBits == kIdShift);

State state_of(uint64_t h) { return static_cast<State>(h >> kStateShift); }
uint64_t id_of(uint64_t h) { return (h >> kIdShift) & PeriodGenerations::kIdMask; }
int64_t count_of(uint64_t h) {
  return static_cast<int64_t>((h & kPayloadMask) >> PeriodGenerations::kWriterBits);
}
uint64_t writers_of(uint64_t h) { return h & kWriterMask; }
uint64_t next_chunk_of(uint64_t h) { return (h & kPayloadMask) >> PeriodGenerations::kChunkBits; }
uint64_t inflight_of(uint64_t h) { return h & kInflightMask; }

uint64_t make_header(State s, uint64_t id, uint64_t payload) {
  return (static_cast<uint64_t>(s) << kStateShift) | (id << kIdShift) | payload;
}
// newest_: 0 = no period yet, else 1 << 63 | generation << kIdBits | id.
uint64_t newest_word(int gen, uint64_t id) {
  return (uint64_t{1} << 63) | (static_cast<uint64_t>(gen) << PeriodGenerations::kIdBits) | id;
}
int newest_gen(uint64_t n) { return static_cast<int>((n >> PeriodGenerations::kIdBits) & 3); }
uint64_t newest_id(uint64_t n) { return n & PeriodGenerations::kIdMask; }

uint64_t clearing(uint64_t id, uint64_t next, uint64_t inflight) {
  return make_header(State::kClearing, id, (next << PeriodGenerations::kChunkBits) | inflight);
}

}  // namespace

PeriodGenerations::PeriodGenerations(int generations, int keep, uint32_t chunks,
                                     ClearChunk clear, void* owner)
    : generations_(generations), keep_(keep), chunks_(chunks), clear_(clear), owner_(owner) {
  assert(generations >= 2 && generations <= kMaxGenerations);
  assert(keep >= 1 && keep < generations);
  assert(chunks >= 1 && chunks <= kMaxChunks);
}

PeriodBounds bounds_of_id(const Calendar& calendar, uint64_t id, const PeriodBounds& current) {
  int64_t ahead = PeriodGenerations::id_distance(id, PeriodGenerations::period_id(current.start));
  if (ahead <= 0) return current;
  // The later period starts within the minute `id` names; ask about that
  // minute's last second.
  Nanos probe;
  if (__builtin_mul_overflow(limits_detail::floor_div(current.start, kMinuteNanos) + ahead,
                             kMinuteNanos, &probe)) {
    probe = limits_detail::kNanosMax;
  }
  return calendar.bounds(limits_detail::saturating_add(probe, 59 * kNanosPerSecond), false);
}

uint64_t PeriodGenerations::period_id(int64_t start) {
  return static_cast<uint64_t>(limits_detail::floor_div(start, kMinuteNanos)) & kIdMask;
}

int64_t PeriodGenerations::id_distance(uint64_t a, uint64_t b) {
  return static_cast<int64_t>(((a - b) & kIdMask) << (64 - kIdBits)) >> (64 - kIdBits);
}

PeriodGenerations::State PeriodGenerations::state(int gen) const {
  return state_of(headers_[gen].load(std::memory_order_acquire));
}

PeriodGenerations::Live PeriodGenerations::find(uint64_t id_now) const {
  uint64_t n = newest_.load(std::memory_order_acquire);
  if (n == 0 || id_distance(newest_id(n), id_now) < 0) return {};
  const int gen = newest_gen(n);
  uint64_t h = headers_[gen].load(std::memory_order_acquire);
  // Not live yet: it is going live right now, with nothing counted.
  if (state_of(h) != State::kLive || id_of(h) != newest_id(n)) return {};
  return {Live::Status::kReady, gen, newest_id(n), count_of(h)};
}

int PeriodGenerations::find_exact(uint64_t id) const {
  for (int g = 0; g < generations_; ++g) {
    uint64_t h = headers_[g].load(std::memory_order_acquire);
    if (state_of(h) == State::kLive && id_of(h) == id) return g;
  }
  return -1;
}

bool PeriodGenerations::still_live(int gen, uint64_t id) const {
  uint64_t h = headers_[gen].load(std::memory_order_acquire);
  return state_of(h) == State::kLive && id_of(h) == id;
}

int64_t PeriodGenerations::count(int gen) const {
  return count_of(headers_[gen].load(std::memory_order_acquire));
}

PeriodGenerations::Live PeriodGenerations::acquire(uint64_t id_now) {
  for (;;) {
    uint64_t n = newest_.load(std::memory_order_acquire);
    if (n != 0 && id_distance(newest_id(n), id_now) >= 0) {
      const int gen = newest_gen(n);
      uint64_t h = headers_[gen].load(std::memory_order_acquire);
      if (state_of(h) == State::kLive && id_of(h) == newest_id(n)) {
        help_clear();
        return {Live::Status::kReady, gen, newest_id(n), count_of(h)};
      }
      if (state_of(h) == State::kLive && id_distance(id_of(h), newest_id(n)) > 0) {
        // Finish a retag (a clock step's period set back) for its caller.
        headers_[gen].compare_exchange_strong(h, make_header(State::kLive, newest_id(n), h & kPayloadMask),
                                              std::memory_order_acq_rel, std::memory_order_acquire);
        continue;
      }
      if (state_of(h) == State::kClean) {
        // Finish the winning caller's activation for it (it may be preempted).
        headers_[gen].compare_exchange_strong(h, make_header(State::kLive, newest_id(n), 0),
                                              std::memory_order_acq_rel,
                                              std::memory_order_acquire);
        continue;
      }
      return {Live::Status::kBusy, -1, 0, 0};  // reset() is zeroing it
    }
    // No generation counts this period (or a later one): go live on a clean
    // one other than the newest, or make one clean first — a clearing one,
    // else the oldest live.
    const int current = n != 0 ? newest_gen(n) : -1;
    int clean = -1, clearing_gen = -1, oldest = -1;
    std::array<uint64_t, kMaxGenerations> h{};
    for (int g = 0; g < generations_; ++g) {
      if (g == current) continue;
      h[g] = headers_[g].load(std::memory_order_acquire);
      switch (state_of(h[g])) {
        case State::kClean:
          if (clean < 0) clean = g;
          break;
        case State::kClearing:
          if (clearing_gen < 0) clearing_gen = g;
          break;
        case State::kLive:
          if (oldest < 0 || id_distance(id_of(h[g]), id_of(h[oldest])) < 0) oldest = g;
          break;
      }
    }
    if (clean >= 0) {
      // One word decides which generation counts the new period, so two
      // callers can never bring two generations live for it.
      if (newest_.compare_exchange_strong(n, newest_word(clean, id_now), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        headers_[clean].compare_exchange_strong(h[clean], make_header(State::kLive, id_now, 0),
                                                std::memory_order_acq_rel,
                                                std::memory_order_acquire);
      }
      continue;
    }
    int target = clearing_gen >= 0 ? clearing_gen : oldest;
    if (target < 0 || !clear_all(target)) return {Live::Status::kBusy, -1, 0, 0};
  }
}

bool PeriodGenerations::clear_step(int gen) {
  uint64_t h = headers_[gen].load(std::memory_order_acquire);
  for (;;) {
    switch (state_of(h)) {
      case State::kClean:
        return false;
      case State::kLive:
        if (writers_of(h) != 0) return false;
        if (headers_[gen].compare_exchange_weak(h, clearing(id_of(h), 0, 0),
                                                std::memory_order_acq_rel,
                                                std::memory_order_acquire)) {
          h = clearing(id_of(h), 0, 0);
        }
        continue;
      case State::kClearing: {
        uint64_t next = next_chunk_of(h);
        uint64_t inflight = inflight_of(h);
        if (next < chunks_) {
          if (!headers_[gen].compare_exchange_weak(h, clearing(id_of(h), next + 1, inflight + 1),
                                                   std::memory_order_acq_rel,
                                                   std::memory_order_acquire)) {
            continue;
          }
          clear_(owner_, gen, static_cast<uint32_t>(next));
          // The zero stores happen before this release; whoever marks the
          // generation clean acquires them through the header's RMW chain.
          uint64_t old = headers_[gen].fetch_sub(1, std::memory_order_acq_rel);
          if (next_chunk_of(old) == chunks_ && inflight_of(old) == 1) {
            uint64_t done = old - 1;
            headers_[gen].compare_exchange_strong(done, make_header(State::kClean, id_of(old), 0),
                                                  std::memory_order_acq_rel,
                                                  std::memory_order_acquire);
          }
          return true;
        }
        if (inflight != 0) return false;  // the last chunks are in other hands
        if (headers_[gen].compare_exchange_weak(h, make_header(State::kClean, id_of(h), 0),
                                                std::memory_order_acq_rel,
                                                std::memory_order_acquire)) {
          return true;
        }
        continue;
      }
    }
  }
}

bool PeriodGenerations::clear_all(int gen) {
  while (clear_step(gen)) {
  }
  return state(gen) == State::kClean;
}

bool PeriodGenerations::superseded(int gen,
                                   const std::array<uint64_t, kMaxGenerations>& headers) const {
  if (state_of(headers[gen]) == State::kClearing) return true;
  if (state_of(headers[gen]) != State::kLive) return false;
  int newer = 0;
  const int newest = newest_gen(newest_.load(std::memory_order_acquire));
  for (int g = 0; g < generations_; ++g) {
    if (g == gen || state_of(headers[g]) != State::kLive) continue;
    const int64_t ahead = id_distance(id_of(headers[g]), id_of(headers[gen]));
    // The same period on the newest generation: it was retagged (retag()).
    if (ahead > 0 || (ahead == 0 && g == newest)) ++newer;
  }
  return newer >= keep_;
}

bool PeriodGenerations::retag(int gen, uint64_t from, uint64_t to) {
  uint64_t n = newest_word(gen, from);
  if (!newest_.compare_exchange_strong(n, newest_word(gen, to), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
    return false;
  uint64_t h = headers_[gen].load(std::memory_order_acquire);
  while (state_of(h) == State::kLive && id_of(h) == from &&
         !headers_[gen].compare_exchange_weak(h, make_header(State::kLive, to, h & kPayloadMask),
                                              std::memory_order_acq_rel, std::memory_order_acquire)) {
  }
  return true;
}

void PeriodGenerations::help_clear() {
  std::array<uint64_t, kMaxGenerations> h{};
  for (int g = 0; g < generations_; ++g) h[g] = headers_[g].load(std::memory_order_acquire);
  for (int g = 0; g < generations_; ++g) {
    if (superseded(g, h)) {
      clear_step(g);
      return;
    }
  }
}

PeriodGenerations::Enter PeriodGenerations::enter_writer(int gen, uint64_t id,
                                                         int64_t count_delta,
                                                         int64_t count_limit) {
  uint64_t h = headers_[gen].load(std::memory_order_acquire);
  for (;;) {
    if (state_of(h) != State::kLive || id_of(h) != id) return Enter::kMoved;
    if (count_of(h) + count_delta > count_limit) return Enter::kFull;
    // More than 511 writers at once on one generation: wait for one to leave.
    if (writers_of(h) == kWriterMask) {
      h = headers_[gen].load(std::memory_order_acquire);
      continue;
    }
    uint64_t desired = h + (static_cast<uint64_t>(count_delta) << kWriterBits) + 1;
    if (headers_[gen].compare_exchange_weak(h, desired, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
      return Enter::kEntered;
    }
  }
}

void PeriodGenerations::leave_writer(int gen, int64_t count_undo) {
  headers_[gen].fetch_sub((static_cast<uint64_t>(count_undo) << kWriterBits) + 1,
                          std::memory_order_acq_rel);
}

void PeriodGenerations::reset() {
  newest_.store(0, std::memory_order_release);
  for (int g = 0; g < generations_; ++g) {
    while (!clear_all(g)) std::this_thread::yield();
  }
}

}  // namespace tollgate::subjects_detail
