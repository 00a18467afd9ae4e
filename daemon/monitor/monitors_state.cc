// The monitors' learned state as bytes (the entry format in monitors.h), so
// that baselines, warm-up and firings survive a restart.
#include <bit>
#include <cmath>

#include "monitor/monitors.h"

namespace tollgate {
namespace {

constexpr uint8_t kStateVersion = 1;
constexpr size_t kStateHours = 24;

class StateWriter {
 public:
  explicit StateWriter(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { fixed(v, 2); }
  void u32(uint32_t v) { fixed(v, 4); }
  void u64(uint64_t v) { fixed(v, 8); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  void fixed(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string& out_;
};

// Reads the entry front to back; the first read past the end (or a value out
// of range) sets the error and every later read returns 0.
class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}
  uint8_t u8() { return static_cast<uint8_t>(fixed(1)); }
  uint16_t u16() { return static_cast<uint16_t>(fixed(2)); }
  uint32_t u32() { return static_cast<uint32_t>(fixed(4)); }
  uint64_t u64() { return fixed(8); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  // A count, a share or a rate: finite and not negative, or -1 where "unknown" is allowed.
  double f64(bool may_be_unknown = false) {
    const double v = std::bit_cast<double>(u64());
    if (!std::isfinite(v) || (v < 0 && !(may_be_unknown && v == -1))) fail("a value out of range");
    return v;
  }
  std::string str() {
    const uint32_t n = u32();
    if (n > in_.size() - at_) {
      fail("truncated");
      return {};
    }
    std::string s(in_.substr(at_, n));
    at_ += n;
    return s;
  }
  // A count of items that take at least `min_bytes` each: at most what is left.
  uint32_t count(size_t min_bytes) {
    const uint32_t n = u32();
    if (static_cast<uint64_t>(n) * min_bytes > in_.size() - at_) fail("truncated");
    return error_.empty() ? n : 0;
  }
  uint8_t below(uint8_t bound) {
    const uint8_t v = u8();
    if (v >= bound) fail("a value out of range");
    return v;
  }
  void fail(std::string_view why) {
    if (error_.empty()) error_ = std::string(why) + " at byte " + std::to_string(at_);
  }
  bool done() const { return at_ == in_.size(); }
  const std::string& error() const { return error_; }

 private:
  uint64_t fixed(size_t bytes) {
    if (!error_.empty()) return 0;
    if (in_.size() - at_ < bytes) {
      fail("truncated");
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in_[at_ + i])} << (8 * i);
    at_ += bytes;
    return v;
  }
  std::string_view in_;
  size_t at_ = 0;
  std::string error_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> Monitors::save_state() const {
  auto series = [](StateWriter& w, const Series& s) {
    w.u64(s.hour);
    w.u64(s.prev_hour);
    w.u64(s.day);
    w.u64(s.prev_day);
    uint8_t slots = 0;
    for (uint16_t n : s.samples) slots += n > 0 ? 1 : 0;
    w.u8(slots);
    for (size_t h = 0; h < s.samples.size(); ++h) {
      if (s.samples[h] == 0) continue;
      w.u8(static_cast<uint8_t>(h));
      w.u16(s.samples[h]);
      w.f64(s.baseline[h]);
    }
  };
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(watches_.size());
  for (const auto& [contract, watch] : watches_) {
    const Watch& x = *watch;
    std::string bytes;
    // At most: the fixed fields, the zone, 2 + channels series of 33 + 11 per slot, firings.
    bytes.reserve(512 + x.zone_name.size() + (2 + x.channels.size()) * (64 + 11 * kHoursPerWeek) +
                  x.firings.size() * 64);
    StateWriter w(bytes);
    w.u8(kStateVersion);
    w.i64(x.first_seen);
    w.i64(x.hour_index);
    w.i64(x.day_index);
    w.u8(static_cast<uint8_t>(x.hour_of_week));
    w.u8(static_cast<uint8_t>(x.prev_hour_of_week));
    w.u8(static_cast<uint8_t>(x.weekday));
    w.u8(static_cast<uint8_t>(x.prev_weekday));
    w.u8(static_cast<uint8_t>(x.local_hour));
    w.str(x.zone_name);
    series(w, x.calls);
    series(w, x.scope);
    w.u32(static_cast<uint32_t>(x.channels.size()));
    for (const auto& [name, s] : x.channels) {
      w.str(name);
      series(w, s);
    }
    for (uint64_t v : x.hour_calls) w.u64(v);
    for (int64_t v : x.hour_stamp) w.i64(v);
    w.f64(x.subjects_baseline);
    w.u32(static_cast<uint32_t>(x.subjects_days));
    w.f64(x.subjects_prev_day);
    w.f64(x.subjects_today);
    w.i64(x.balance);
    w.i64(x.balance_hour_start);
    w.f64(x.burn_per_hour);
    w.u32(static_cast<uint32_t>(x.firings.size()));
    for (const auto& [key, f] : x.firings) {
      w.str(key);
      w.u8(f.active ? 1 : 0);
      w.i64(f.since);
      w.i64(f.quiet_until);
      w.i64(f.cooldown);
      w.u32(static_cast<uint32_t>(f.applied.size()));
      for (bool a : f.applied) w.u8(a ? 1 : 0);
    }
    out.emplace_back(contract, std::move(bytes));
  }
  return out;
}

std::expected<void, std::string> Monitors::restore_state(std::string_view contract, std::string_view entry) {
  StateReader r(entry);
  const uint8_t version = r.u8();
  if (r.error().empty() && (version == 0 || version > kStateVersion))
    return std::unexpected("entry format version " + std::to_string(version) + " (this tollgate reads up to " +
                           std::to_string(kStateVersion) + ")");
  auto read_series = [&r](Series& s) {
    s.hour = r.u64();
    s.prev_hour = r.u64();
    s.day = r.u64();
    s.prev_day = r.u64();
    const uint8_t slots = r.u8();
    for (uint8_t i = 0; i < slots && r.error().empty(); ++i) {
      const uint8_t h = r.below(kHoursPerWeek);
      const uint16_t n = r.u16();
      const double b = r.f64();
      if (n == 0) r.fail("a baseline slot without samples");
      if (!r.error().empty()) break;
      if (s.samples[h] != 0) r.fail("a baseline slot twice");
      s.samples[h] = n;
      s.baseline[h] = b;
    }
  };
  auto w = std::make_unique<Watch>();
  w->first_seen = r.i64();
  w->hour_index = r.i64();
  w->day_index = r.i64();
  w->hour_of_week = r.below(kHoursPerWeek);
  w->prev_hour_of_week = r.below(kHoursPerWeek);
  w->weekday = r.below(7);
  w->prev_weekday = r.below(7);
  w->local_hour = r.below(kStateHours);
  w->zone_name = r.str();
  read_series(w->calls);
  read_series(w->scope);
  const uint32_t channels = r.count(4 + 33);
  for (uint32_t i = 0; i < channels && r.error().empty(); ++i) {
    std::string name = r.str();
    read_series(w->channels[name]);
  }
  for (uint64_t& v : w->hour_calls) v = r.u64();
  for (int64_t& v : w->hour_stamp) v = r.i64();
  w->subjects_baseline = r.f64();
  w->subjects_days = static_cast<int>(r.u32() & 0x7fffffff);
  w->subjects_prev_day = r.f64(true);
  w->subjects_today = r.f64(true);
  w->balance = r.i64();
  w->balance_hour_start = r.i64();
  w->burn_per_hour = r.f64();
  const uint32_t firings = r.count(4 + 1 + 24 + 4);
  for (uint32_t i = 0; i < firings && r.error().empty(); ++i) {
    Firing& f = w->firings[r.str()];
    f.active = r.below(2) == 1;
    f.since = r.i64();
    f.quiet_until = r.i64();
    f.cooldown = r.i64();
    const uint32_t stages = r.count(1);
    for (uint32_t s = 0; s < stages && r.error().empty(); ++s) f.applied.push_back(r.below(2) == 1);
  }
  // A later version appends fields: version 1 must end here.
  if (r.error().empty() && !r.done()) r.fail("unexpected bytes");
  if (!r.error().empty()) return std::unexpected("contract '" + std::string(contract) + "': " + r.error());
  if (w->zone_name.empty() || !cctz::load_time_zone(w->zone_name, &w->zone)) w->zone = cctz::utc_time_zone();
  // Counters of the new process start at 0; the next tick counts from there.
  watches_[std::string(contract)] = std::move(w);
  return {};
}

}  // namespace tollgate
