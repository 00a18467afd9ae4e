#include "persist/redis/redis_layout.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"
#include "persist/redis/redis_slot.h"

namespace tollgate::persist {
namespace {

constexpr int64_t kNanosPerMicro = 1000;
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
  const Quota::Word a = Quota::decode_word(after);
  const Quota::Word b = Quota::decode_word(before);
  if (a.sealed || after == before) return;
  const std::string prefix = field_of(name, 'q') + '|';
  if (!b.sealed && b.period_id == a.period_id) {
    const int64_t diff = a.count - b.count;
    if (diff != 0) out.push_back({FieldDelta::Op::kIncr, prefix + std::to_string(a.period_id), diff, 0});
    return;
  }
  if (a.count == 0) return;  // a new period with nothing used yet
  out.push_back({FieldDelta::Op::kIncr, prefix + std::to_string(a.period_id), a.count, 0});
  // Earlier periods this daemon wrote are dead now (a never-flushed key has none; the TTL takes the rest).
  if (before != 0 && !b.sealed)
    out.push_back({FieldDelta::Op::kPrune, prefix, static_cast<int64_t>(a.period_id), 0});
}

void window_deltas(std::string_view name, std::span<const uint64_t> before, std::span<const uint64_t> after,
                   std::vector<FieldDelta>& out) {
  if (after.empty() || SlidingWindow::decode_word(after[0]).sealed) return;
  const std::string prefix = field_of(name, 'w') + '|';
  const bool before_sealed = !before.empty() && SlidingWindow::decode_word(before[0]).sealed;
  int64_t newest = -1;
  for (size_t i = 0; i < after.size(); ++i) {
    const uint64_t b = before_sealed || i >= before.size() ? 0 : before[i];
    if (after[i] == b) continue;
    const SlidingWindow::SlotWord now_slot = SlidingWindow::decode_word(after[i]);
    const SlidingWindow::SlotWord saved = SlidingWindow::decode_word(b);
    const int64_t diff = saved.window == now_slot.window ? now_slot.count - saved.count : now_slot.count;
    if (diff == 0) continue;
    out.push_back(
        {FieldDelta::Op::kIncr, prefix + std::to_string(now_slot.window) + '|' + std::to_string(i), diff, 0});
    if (b != 0 && saved.window != now_slot.window) newest = std::max(newest, static_cast<int64_t>(now_slot.window));
  }
  // Slices older than the previous window can no longer count.
  if (newest > 0) out.push_back({FieldDelta::Op::kPrune, prefix, newest - 1, 0});
}

}  // namespace

std::string RedisKeys::applied(uint64_t run, int slot) const {
  return prefix_ + "applied:" + std::to_string(run) + ":{" + tag_for_slot(slot) + "}";
}

std::string RedisKeys::action_field(std::string_view contract, uint8_t kind, std::string_view monitor,
                                    std::string_view channel, std::string_view limit) {
  std::string out;
  auto part = [&out](std::string_view s) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
  };
  part(contract);
  out += '|';
  out += std::to_string(kind);
  out += '|';
  part(monitor);
  out += '|';
  part(channel);
  out += '|';
  part(limit);
  return out;
}

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
      if (after.empty() || after[0] == b0) return;
      const TokenBucket::Word a = TokenBucket::decode_word(after[0]);
      if (a.sealed || a.tat <= now) return;  // full: nothing ahead of now
      const TokenBucket::Word b = TokenBucket::decode_word(b0);
      const int64_t base = b.sealed ? 0 : b.tat / kNanosPerMicro;
      // Round the TAT up: Redis may see a bucket a µs emptier, never fuller.
      const int64_t tat = (a.tat + kNanosPerMicro - 1) / kNanosPerMicro;
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
      words[0] = TokenBucket::encode_word(std::min(it->second, max_us) * kNanosPerMicro);
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
      words[0] = Quota::encode_word(static_cast<uint64_t>(best_id), count);
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
        words[*slot] = SlidingWindow::encode_word(static_cast<uint32_t>(*window), count);
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
