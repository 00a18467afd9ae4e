#include "engine/subjects/hyperloglog.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

#include "engine/dirty_bits.h"

namespace tollgate {

using subjects_detail::PeriodGenerations;

namespace hll_detail {

namespace {

constexpr uint64_t kByte = 0xff;

// 2^-r for every rank a 64-bit hash can give.
const std::array<double, 66> kInversePowers = [] {
  std::array<double, 66> t{};
  for (int r = 0; r < 66; ++r) t[r] = std::ldexp(1.0, -r);
  return t;
}();

double alpha(double m) {
  if (m <= 16) return 0.673;
  if (m <= 32) return 0.697;
  if (m <= 64) return 0.709;
  return 0.7213 / (1.0 + 1.079 / m);
}

// Byte-wise maximum of two words of packed registers.
uint64_t byte_max(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  for (int shift = 0; shift < 64; shift += 8) {
    out |= std::max((a >> shift) & kByte, (b >> shift) & kByte) << shift;
  }
  return out;
}

}  // namespace

Rank rank_of(uint64_t hash, int precision) {
  // The sentinel bit caps the rank at 64 − p + 1.
  uint64_t rest = (hash << precision) | (uint64_t{1} << (precision - 1));
  return {hash >> (64 - precision), static_cast<uint8_t>(std::countl_zero(rest) + 1)};
}

bool would_raise(const std::atomic<uint64_t>* words, Rank r) {
  uint64_t w = words[r.index >> 3].load(std::memory_order_relaxed);
  return ((w >> ((r.index & 7) * 8)) & kByte) < r.rank;
}

bool raise(std::atomic<uint64_t>* words, Rank r) {
  std::atomic<uint64_t>& word = words[r.index >> 3];
  const int shift = static_cast<int>(r.index & 7) * 8;
  uint64_t w = word.load(std::memory_order_relaxed);
  for (;;) {
    if (((w >> shift) & kByte) >= r.rank) return false;
    uint64_t desired = (w & ~(kByte << shift)) | (uint64_t{r.rank} << shift);
    if (word.compare_exchange_weak(w, desired, std::memory_order_relaxed)) return true;
  }
}

double estimate(const std::atomic<uint64_t>* words, int precision) {
  const uint64_t m = uint64_t{1} << precision;
  double sum = 0;
  uint64_t zeros = 0;
  for (uint64_t i = 0; i < m / 8; ++i) {
    uint64_t w = words[i].load(std::memory_order_relaxed);
    for (int shift = 0; shift < 64; shift += 8) {
      uint64_t r = (w >> shift) & kByte;
      sum += kInversePowers[r];
      zeros += r == 0;
    }
  }
  const auto md = static_cast<double>(m);
  double raw = alpha(md) * md * md / sum;
  // Small range: linear counting on the empty registers is more accurate.
  if (raw <= 2.5 * md && zeros != 0) return md * std::log(md / static_cast<double>(zeros));
  return raw;
}

}  // namespace hll_detail

HyperLogLog::HyperLogLog(int precision)
    : precision_(precision),
      words_(new std::atomic<uint64_t>[(uint64_t{1} << precision) / 8]()) {}

std::expected<HyperLogLog, std::string> HyperLogLog::make(int precision) {
  if (precision < kMinPrecision || precision > kMaxPrecision) {
    return std::unexpected("hyperloglog: precision must be between " +
                           std::to_string(kMinPrecision) + " and " +
                           std::to_string(kMaxPrecision));
  }
  return HyperLogLog(precision);
}

void HyperLogLog::add(uint64_t hash) {
  hll_detail::Rank r = hll_detail::rank_of(hash, precision_);
  if (hll_detail::would_raise(words_.get(), r)) hll_detail::raise(words_.get(), r);
}

double HyperLogLog::estimate() const { return hll_detail::estimate(words_.get(), precision_); }

bool HyperLogLog::merge(const HyperLogLog& other) {
  if (other.precision_ != precision_) return false;
  for (uint64_t i = 0; i < registers() / 8; ++i) {
    uint64_t theirs = other.words_[i].load(std::memory_order_relaxed);
    uint64_t w = words_[i].load(std::memory_order_relaxed);
    for (;;) {
      uint64_t desired = hll_detail::byte_max(w, theirs);
      if (desired == w ||
          words_[i].compare_exchange_weak(w, desired, std::memory_order_relaxed)) {
        break;
      }
    }
  }
  return true;
}

void HyperLogLog::clear() {
  for (uint64_t i = 0; i < registers() / 8; ++i) words_[i].store(0, std::memory_order_relaxed);
}

uint8_t HyperLogLog::register_value(uint64_t index) const {
  uint64_t w = words_[index >> 3].load(std::memory_order_relaxed);
  return static_cast<uint8_t>(w >> ((index & 7) * 8));
}

double HyperLogLog::standard_error() const {
  return 1.04 / std::sqrt(static_cast<double>(registers()));
}

// Three generations of packed registers and their headers, on the heap so the
// object can move while the clear callback keeps a stable owner pointer.
struct PeriodHll::Storage {
  static constexpr uint64_t kMinChunkWords = 256;  // 2 KiB zeroed per call at most

  explicit Storage(int precision)
      : words_per_generation((uint64_t{1} << precision) / 8),
        chunk_words(std::min(words_per_generation, kMinChunkWords)),
        words(new std::atomic<uint64_t>[3 * words_per_generation]()),
        raised(words_per_generation),
        generations(3, 2, static_cast<uint32_t>(words_per_generation / chunk_words), &clear_chunk,
                    this) {}

  static void clear_chunk(void* owner, int gen, uint32_t chunk) {
    auto* self = static_cast<Storage*>(owner);
    std::atomic<uint64_t>* begin = self->table(gen) + uint64_t{chunk} * self->chunk_words;
    for (uint64_t i = 0; i < self->chunk_words; ++i) begin[i].store(0, std::memory_order_relaxed);
  }

  std::atomic<uint64_t>* table(int gen) const {
    return words.get() + uint64_t(gen) * words_per_generation;
  }

  uint64_t words_per_generation;
  uint64_t chunk_words;
  std::unique_ptr<std::atomic<uint64_t>[]> words;
  DirtyBits raised;  // word indexes (any generation) raised since the last drain_changed()
  PeriodGenerations generations;
};

PeriodHll::PeriodHll(int precision, Calendar calendar)
    : precision_(precision),
      calendar_(std::move(calendar)),
      storage_(std::make_unique<Storage>(precision)) {}

PeriodHll::PeriodHll(PeriodHll&&) noexcept = default;
PeriodHll& PeriodHll::operator=(PeriodHll&&) noexcept = default;
PeriodHll::~PeriodHll() = default;

std::expected<PeriodHll, std::string> PeriodHll::make(Period period, std::string_view zone,
                                                      int precision) {
  if (precision < HyperLogLog::kMinPrecision || precision > HyperLogLog::kMaxPrecision) {
    return std::unexpected("hyperloglog: precision must be between " +
                           std::to_string(HyperLogLog::kMinPrecision) + " and " +
                           std::to_string(HyperLogLog::kMaxPrecision));
  }
  auto calendar = Calendar::make(period, zone);
  if (!calendar) return std::unexpected("hyperloglog: " + calendar.error());
  return PeriodHll(precision, std::move(*calendar));
}

bool PeriodHll::add(uint64_t hash, Nanos now) {
  const uint64_t id_now = PeriodGenerations::period_id(calendar_.bounds(now).start);
  const hll_detail::Rank r = hll_detail::rank_of(hash, precision_);
  Storage& s = *storage_;
  for (;;) {
    PeriodGenerations::Live live = s.generations.acquire(id_now);
    if (live.status != PeriodGenerations::Live::Status::kReady) return false;
    // Most adds change nothing once the sketch has warmed up: no write at all.
    if (!hll_detail::would_raise(s.table(live.gen), r)) return true;
    if (s.generations.enter_writer(live.gen, live.id, 0, PeriodGenerations::kMaxCount) !=
        PeriodGenerations::Enter::kEntered) {
      continue;  // the generation moved on: look again
    }
    if (hll_detail::raise(s.table(live.gen), r)) s.raised.mark(r.index / 8);
    s.generations.leave_writer(live.gen, 0);
    return true;
  }
}

double PeriodHll::estimate_generation(int gen, uint64_t id) const {
  // A generation can be recycled while it is read; retry, then give up.
  for (int attempt = 0; attempt < 3; ++attempt) {
    double e = hll_detail::estimate(storage_->table(gen), precision_);
    if (storage_->generations.still_live(gen, id)) return e;
  }
  return 0;
}

PeriodEstimate PeriodHll::estimate(Nanos now) const {
  PeriodEstimate out;
  const PeriodBounds current = calendar_.bounds(now);
  const uint64_t id_now = PeriodGenerations::period_id(current.start);
  PeriodGenerations::Live live = storage_->generations.find(id_now);
  out.current_period = current;
  if (live.status == PeriodGenerations::Live::Status::kReady) {
    out.current_period = subjects_detail::bounds_of_id(calendar_, live.id, current);
    out.current = estimate_generation(live.gen, live.id);
  }
  out.previous_period = calendar_.bounds(out.current_period.start - 1, false);
  const uint64_t previous_id = PeriodGenerations::period_id(out.previous_period.start);
  int gen = storage_->generations.find_exact(previous_id);
  if (gen >= 0) out.previous = estimate_generation(gen, previous_id);
  return out;
}

HllWords PeriodHll::read_words(Nanos now, const subjects_detail::GenerationScan& scan) const {
  const Storage& s = *storage_;
  HllWords out;
  auto start = scan.read(
      s.generations, calendar_, now, [&](int gen) { return s.table(gen); }, [&] { out.words.clear(); },
      [&](uint64_t i, uint64_t w) {
        if (w != 0) out.words.emplace_back(static_cast<uint32_t>(i), w);
      });
  if (!start) return {};
  out.period_start = *start;
  out.precision = precision_;
  return out;
}

HllWords PeriodHll::registers(Nanos now) const {
  return read_words(now, subjects_detail::GenerationScan::all(storage_->words_per_generation));
}

HllWords PeriodHll::drain_changed(Nanos now) {
  auto scan = subjects_detail::GenerationScan::drained(storage_->raised);
  if (scan.empty()) return {};
  return read_words(now, scan);
}

size_t PeriodHll::restore(const HllWords& saved, Nanos now) {
  const PeriodBounds current = calendar_.bounds(now);
  if (saved.precision != precision_ || saved.period_start == 0 || saved.period_start != current.start) return 0;
  Storage& s = *storage_;
  const uint64_t id_now = PeriodGenerations::period_id(current.start);
  PeriodGenerations::Live live = s.generations.acquire(id_now);
  if (live.status != PeriodGenerations::Live::Status::kReady ||
      s.generations.enter_writer(live.gen, live.id, 0, PeriodGenerations::kMaxCount) !=
          PeriodGenerations::Enter::kEntered)
    return 0;
  size_t merged = 0;
  std::atomic<uint64_t>* t = s.table(live.gen);
  for (const auto& [index, theirs] : saved.words) {
    if (index >= s.words_per_generation) continue;
    uint64_t w = t[index].load(std::memory_order_relaxed);
    while (!t[index].compare_exchange_weak(w, hll_detail::byte_max(w, theirs), std::memory_order_relaxed)) {
    }
    ++merged;
  }
  s.generations.leave_writer(live.gen, 0);
  s.raised.drain([](uint64_t) {});  // already durable: not new to the next checkpoint
  return merged;
}

void PeriodHll::reset() { storage_->generations.reset(); }

}  // namespace tollgate
