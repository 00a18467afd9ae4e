#include "persist/redis/redis_layout.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"

namespace tollgate::persist {
namespace {

constexpr int64_t kNanosPerMicro = 1000;
constexpr uint64_t kQuotaCountMask = (uint64_t{1} << Quota::kCountBits) - 1;
constexpr uint64_t kWindowCountMask = 0xFFFF'FFFF;
constexpr int64_t kDayMs = 24 * 3600 * 1000;

std::string field_of(std::string_view name, char type) {
  std::string f(name);
  f += '|';
  f += type;
  return f;
}

// Parses a decimal (possibly negative) integer; nullopt unless all of `s` is one.
std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

void quota_deltas(std::string_view name, uint64_t before, uint64_t after, std::vector<FieldDelta>& out) {
  if (after == Quota::kSealed || after == before) return;
  const uint64_t after_id = after >> Quota::kCountBits;
  const int64_t after_count = static_cast<int64_t>(after & kQuotaCountMask);
  const std::string prefix = field_of(name, 'q') + '|';
  if (before != Quota::kSealed && before >> Quota::kCountBits == after_id) {
    const int64_t diff = after_count - static_cast<int64_t>(before & kQuotaCountMask);
    if (diff != 0) out.push_back({FieldDelta::Op::kIncr, prefix + std::to_string(after_id), diff, 0});
    return;
  }
  if (after_count == 0) return;  // a new period with nothing used yet
  out.push_back({FieldDelta::Op::kIncr, prefix + std::to_string(after_id), after_count, 0});
  // Earlier periods this daemon wrote are dead now (a never-flushed key has none; the TTL takes the rest).
  if (before != 0 && before != Quota::kSealed)
    out.push_back({FieldDelta::Op::kPrune, prefix, static_cast<int64_t>(after_id), 0});
}

void window_deltas(std::string_view name, std::span<const uint64_t> before, std::span<const uint64_t> after,
                   std::vector<FieldDelta>& out) {
  if (after.empty() || after[0] == SlidingWindow::kSealed) return;
  const std::string prefix = field_of(name, 'w') + '|';
  const bool before_sealed = !before.empty() && before[0] == SlidingWindow::kSealed;
  int64_t newest = -1;
  for (size_t i = 0; i < after.size(); ++i) {
    const uint64_t b = before_sealed || i >= before.size() ? 0 : before[i];
    if (after[i] == b) continue;
    const uint64_t window = after[i] >> 32;
    const int64_t count = static_cast<int64_t>(after[i] & kWindowCountMask);
    const int64_t diff = (b >> 32) == window ? count - static_cast<int64_t>(b & kWindowCountMask) : count;
    if (diff == 0) continue;
    out.push_back({FieldDelta::Op::kIncr, prefix + std::to_string(window) + '|' + std::to_string(i), diff, 0});
    if (b != 0 && (b >> 32) != window) newest = std::max(newest, static_cast<int64_t>(window));
  }
  // Slices older than the previous window can no longer count.
  if (newest > 0) out.push_back({FieldDelta::Op::kPrune, prefix, newest - 1, 0});
}

}  // namespace

std::string RedisKeys::glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void limit_deltas(LimitType type, std::string_view name, std::span<const uint64_t> before,
                  std::span<const uint64_t> after, Nanos now, std::vector<FieldDelta>& out) {
  const uint64_t b0 = before.empty() ? 0 : before[0];
  switch (type) {
    case LimitType::kTokenBucket: {
      if (after.empty() || after[0] == b0 || (after[0] & TokenBucket::kSealed) != 0) return;
      if (static_cast<int64_t>(after[0]) <= now) return;  // full: nothing ahead of now
      const int64_t base = (b0 & TokenBucket::kSealed) != 0 ? 0 : static_cast<int64_t>(b0) / kNanosPerMicro;
      // Round the TAT up: Redis may see a bucket a µs emptier, never fuller.
      const int64_t tat = (static_cast<int64_t>(after[0]) + kNanosPerMicro - 1) / kNanosPerMicro;
      out.push_back({FieldDelta::Op::kTat, field_of(name, 't'), tat, base});
      return;
    }
    case LimitType::kQuota:
      if (!after.empty()) quota_deltas(name, b0, after[0], out);
      return;
    case LimitType::kSlidingWindow:
      window_deltas(name, before, after, out);
      return;
    case LimitType::kConcurrency:
    case LimitType::kDistinctSubjects:
      return;
  }
}

int64_t tat_advance(int64_t base_us, int64_t tat_us, int64_t now_us) {
  return std::max<int64_t>(0, tat_us - std::max(base_us, now_us));
}

void coalesce(FieldDelta& pending, const FieldDelta& d) {
  switch (d.op) {
    case FieldDelta::Op::kIncr:
      pending.value += d.value;
      break;
    case FieldDelta::Op::kTat:
      pending.value = d.value;
      break;  // pending.tat_base stays: Redis has that one
    case FieldDelta::Op::kPrune:
      pending.value = std::max(pending.value, d.value);
      break;
  }
}

std::optional<std::vector<uint64_t>> limit_words(LimitType type, std::string_view name,
                                                 const std::unordered_map<std::string, int64_t>& fields,
                                                 std::span<const uint64_t> current) {
  std::vector<uint64_t> words(current.begin(), current.end());
  bool found = false;
  switch (type) {
    case LimitType::kTokenBucket: {
      auto it = fields.find(field_of(name, 't'));
      if (it == fields.end() || it->second <= 0 || words.empty()) return std::nullopt;
      const int64_t max_us = std::numeric_limits<int64_t>::max() / kNanosPerMicro;
      words[0] = static_cast<uint64_t>(std::min(it->second, max_us) * kNanosPerMicro);
      return words;
    }
    case LimitType::kQuota: {
      const std::string prefix = field_of(name, 'q') + '|';
      int64_t best_id = -1, count = 0;
      for (const auto& [f, v] : fields) {
        if (!f.starts_with(prefix)) continue;
        auto id = parse_int(std::string_view(f).substr(prefix.size()));
        if (id && *id >= 0 && *id > best_id) best_id = *id, count = v;
      }
      if (best_id < 0 || words.empty()) return std::nullopt;
      count = std::clamp<int64_t>(count, 0, Quota::kMaxLimit);
      words[0] = (static_cast<uint64_t>(best_id) << Quota::kCountBits) | static_cast<uint64_t>(count);
      return words;
    }
    case LimitType::kSlidingWindow: {
      const std::string prefix = field_of(name, 'w') + '|';
      std::vector<int64_t> newest(words.size(), -1);
      for (const auto& [f, v] : fields) {
        if (!f.starts_with(prefix)) continue;
        std::string_view rest = std::string_view(f).substr(prefix.size());
        const size_t bar = rest.find('|');
        if (bar == std::string_view::npos) continue;
        auto window = parse_int(rest.substr(0, bar));
        auto slot = parse_int(rest.substr(bar + 1));
        if (!window || !slot || *window < 0 || *window > 0xFFFF'FFFF || *slot < 0 ||
            static_cast<size_t>(*slot) >= words.size() || *window <= newest[*slot])
          continue;
        newest[*slot] = *window;
        const int64_t count = std::clamp<int64_t>(v, 0, SlidingWindow::kMaxLimit);
        words[*slot] = (static_cast<uint64_t>(*window) << 32) | static_cast<uint64_t>(count);
        found = true;
      }
      if (!found) return std::nullopt;
      return words;
    }
    case LimitType::kConcurrency:
    case LimitType::kDistinctSubjects:
      break;
  }
  return std::nullopt;
}

int64_t counters_ttl_ms(const LimitSpec& spec) {
  switch (spec.type) {
    case LimitType::kTokenBucket: {
      // Time to refill from empty, plus a minute.
      const int64_t refill_ms = spec.rate > 0 ? spec.per / kNanosPerMilli * spec.burst / spec.rate : 0;
      return std::max<int64_t>(refill_ms, 0) + 60'000;
    }
    case LimitType::kSlidingWindow:
      return 2 * (spec.window / kNanosPerMilli) + 60'000;
    case LimitType::kQuota:
      return 35 * kDayMs;  // the longest period (a month) and some
    case LimitType::kConcurrency:
    case LimitType::kDistinctSubjects:
      break;
  }
  return kDayMs;
}

}  // namespace tollgate::persist
