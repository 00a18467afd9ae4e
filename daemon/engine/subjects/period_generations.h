// Roll-over machinery shared by the per-period subject structures: a few
// "generations" of owner-held storage, each tagged with the calendar period it
// counts, so a new period starts on storage that was zeroed ahead of time
// instead of clearing a big table while other callers wait.
//
// Each generation has one header word:
//   state (2 bits) | period id (28 bits) | payload (34 bits)
//   kClean     storage all zero, ready to go live (id: the period it last held)
//   kLive      counts period `id`; payload = count (25 bits) | writers (9 bits)
//   kClearing  being zeroed; payload = next chunk (17 bits) | chunks in flight (17 bits)
// The period id is the period's start in whole minutes since the epoch, mod
// 2^28, compared wrap-aware (as Quota does): valid while callers' clocks are
// within ±255 years of each other.
//
// Life cycle: clean → live (by the first call of a new period: one CAS on the
// `newest_` word names the generation, then its header goes live; any caller
// finishes the second step for a preempted winner) →
// clearing (once `keep` newer generations are live and no writer is inside)
// → clean (when every chunk is zeroed and no zeroing is in flight). Every
// data-plane call zeroes at most one chunk of a superseded generation, so a
// busy limit pre-clears its spare during the period; a call that finds no
// clean generation at a roll-over zeroes unclaimed chunks itself (cooperating
// with the other callers) and reports kBusy only when the last chunks are
// being zeroed by another thread at that moment.
//
// Writers (anything that changes a generation's storage) register in the
// header for the duration of the change, so no generation is zeroed under a
// writer and no late write lands in a zeroed generation.
//
// Thread-safe and lock-free throughout except reset() (see there). The owner
// provides the storage and the chunk-zeroing callback and must outlive this.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "engine/dirty_bits.h"
#include "engine/limits/calendar.h"

namespace tollgate::subjects_detail {

// The bounds of the period with id `id` (a PeriodGenerations::period_id), which
// is `current`'s period or a later one (when another caller's clock is ahead).
// Cold path for later periods: asks the calendar without touching its cache.
PeriodBounds bounds_of_id(const Calendar& calendar, uint64_t id, const PeriodBounds& current);

class PeriodGenerations {
 public:
  static constexpr int kMaxGenerations = 3;
  static constexpr int kIdBits = 28;
  static constexpr int kWriterBits = 9;
  static constexpr int kCountBits = 25;
  static constexpr int kChunkBits = 17;
  static constexpr int64_t kMaxCount = (int64_t{1} << kCountBits) - 1;
  static constexpr uint32_t kMaxChunks = (uint32_t{1} << kChunkBits) - 1;
  static constexpr uint64_t kIdMask = (uint64_t{1} << kIdBits) - 1;

  enum class State : uint64_t { kClean = 0, kLive = 1, kClearing = 2 };

  // Zeroes chunk `chunk` of generation `gen`'s storage (relaxed stores suffice).
  using ClearChunk = void (*)(void* owner, int gen, uint32_t chunk);

  // `generations` (2..kMaxGenerations) of storage, each zeroed in `chunks`
  // (1..kMaxChunks) pieces; the `keep` newest live generations are kept, older
  // ones are cleared. All storage must start zeroed. Not thread-safe.
  PeriodGenerations(int generations, int keep, uint32_t chunks, ClearChunk clear, void* owner);

  PeriodGenerations(const PeriodGenerations&) = delete;
  PeriodGenerations& operator=(const PeriodGenerations&) = delete;

  // The period id of a period starting at `start` (ns since the epoch).
  static uint64_t period_id(int64_t start);
  // a − b in periods' minutes, wrap-aware over kIdBits.
  static int64_t id_distance(uint64_t a, uint64_t b);

  struct Live {
    enum class Status { kReady, kNone, kBusy } status = Status::kNone;
    int gen = -1;
    uint64_t id = 0;  // the period the generation counts (≥ the asked id)
    int64_t count = 0;
  };

  // The generation counting period `id_now`, or a later one when another
  // caller's clock is already there (time never reopens an earlier period).
  // Activates a clean generation when none is live for `id_now` or later,
  // zeroing what it must first; kBusy when that zeroing is in another
  // thread's hands right now. Also zeroes ≤ 1 chunk of a superseded
  // generation. Thread-safe, lock-free.
  Live acquire(uint64_t id_now);
  // As acquire() but changes nothing: kNone when no generation counts
  // `id_now` or later. Thread-safe.
  Live find(uint64_t id_now) const;
  // The live generation counting exactly `id`, or −1. Thread-safe.
  int find_exact(uint64_t id) const;
  // True while `gen` is still live for `id` (validates reads of its storage).
  bool still_live(int gen, uint64_t id) const;
  int64_t count(int gen) const;

  // Calls read(gen) on the generation live for `id_now` (or a later period)
  // until that generation is still live after the read, so what was read is
  // one period's. The period id read, or nullopt when none is live or it kept
  // moving (a few attempts). Thread-safe.
  template <typename Read>
  std::optional<uint64_t> read_live(uint64_t id_now, Read&& read) const {
    for (int attempt = 0; attempt < 4; ++attempt) {
      Live live = find(id_now);
      if (live.status != Live::Status::kReady) return std::nullopt;
      read(live.gen);
      if (still_live(live.gen, live.id)) return live.id;
    }
    return std::nullopt;
  }

  enum class Enter { kEntered, kMoved, kFull };
  // Registers a writer on `gen` while it is live for `id`, adding
  // `count_delta` to its count unless that would pass `count_limit` (kFull;
  // nothing changed). kMoved: the generation no longer counts `id`.
  // Thread-safe (CAS loop).
  [[nodiscard]] Enter enter_writer(int gen, uint64_t id, int64_t count_delta, int64_t count_limit);
  // Unregisters a writer, subtracting `count_undo` from the count. Thread-safe.
  void leave_writer(int gen, int64_t count_undo);

  // A clock step's period: makes the newest generation `gen`, live for the
  // later period `from`, count period `to` instead, with its storage and
  // count kept (the clock stood later when it went live, and has been set
  // back). A generation still live for `to` is superseded by it. Callers
  // racing with the change see kBusy (acquire) or kMoved (writers) for an
  // instant. False when `gen` is not the newest for `from` (any more).
  // Thread-safe, lock-free.
  bool retag(int gen, uint64_t from, uint64_t to);

  // Zeroes ≤ 1 chunk of a superseded generation. Thread-safe, lock-free.
  void help_clear();

  // Makes every generation clean (all storage zero). Waits for in-flight
  // writers and zeroings of others: control-plane only. Calls racing with it
  // may count into a generation activated during the reset. Thread-safe.
  void reset();

  State state(int gen) const;

 private:
  // Zeroes chunks of `gen` until none is left to claim; true when it ended
  // clean. Thread-safe, lock-free.
  bool clear_all(int gen);
  // One step of clearing `gen`: start it (from live, when no writer is in),
  // zero one chunk, or finish it. False when there was nothing it could do.
  bool clear_step(int gen);
  bool superseded(int gen, const std::array<uint64_t, kMaxGenerations>& headers) const;

  int generations_;
  int keep_;
  uint32_t chunks_;
  ClearChunk clear_;
  void* owner_;
  std::array<std::atomic<uint64_t>, kMaxGenerations> headers_{};
  // Which generation counts the newest period (and that period's id): the
  // single word through which a generation goes live, so concurrent first
  // calls of a period agree on one. 0: none yet.
  std::atomic<uint64_t> newest_{0};
};

// The persistence scan the distinct set and the HLL share: which words of a
// generation to read (all of them, or those a DirtyBits marked since its
// previous drain), read from the generation live for `now`'s period.
// Thread-safety: read() only reads (safe from any thread, concurrently with
// the data plane); drained() drains `dirty`, one thread at a time.
class GenerationScan {
 public:
  // Every index of a generation of `size` words.
  static GenerationScan all(uint64_t size) { return GenerationScan(size); }
  // The indexes `dirty` had marked, draining them: a later scan gets only
  // what is marked after this one.
  static GenerationScan drained(DirtyBits& dirty) {
    GenerationScan scan(0);
    scan.all_ = false;
    dirty.drain([&](uint64_t i) { scan.indexes_.push_back(i); });
    return scan;
  }
  bool empty() const { return all_ ? size_ == 0 : indexes_.empty(); }

  // Reads the words of the generation live for `now`'s period (or a later
  // one, see PeriodGenerations::read_live) from `table_of(gen)`, retrying
  // while that generation moves on, so that what was read is one period's:
  // begin() before each attempt, then keep(index, word) for every index.
  // Returns the start of the period read, or nullopt when none is live or it
  // kept moving.
  template <typename TableOf, typename Begin, typename Keep>
  std::optional<Nanos> read(const PeriodGenerations& generations, const Calendar& calendar, Nanos now,
                            TableOf&& table_of, Begin&& begin, Keep&& keep) const {
    const PeriodBounds current = calendar.bounds(now);
    auto id = generations.read_live(PeriodGenerations::period_id(current.start), [&](int gen) {
      const std::atomic<uint64_t>* table = table_of(gen);
      begin();
      auto visit = [&](uint64_t i) { keep(i, table[i].load(std::memory_order_acquire)); };
      if (all_) {
        for (uint64_t i = 0; i < size_; ++i) visit(i);
      } else {
        for (uint64_t i : indexes_) visit(i);
      }
    });
    if (!id) return std::nullopt;
    return bounds_of_id(calendar, *id, current).start;
  }

 private:
  explicit GenerationScan(uint64_t size) : size_(size) {}

  uint64_t size_ = 0;
  bool all_ = true;
  std::vector<uint64_t> indexes_;  // when !all_
};

}  // namespace tollgate::subjects_detail
