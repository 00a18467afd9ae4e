#include "control/fleet_monitor_counts.h"

#include <algorithm>
#include <atomic>

namespace tollgate {
namespace {

constexpr const char* kCalls = "calls";
constexpr const char* kScope = "scope";

std::string channel_field(const std::string& channel) { return "ch:" + channel; }

constexpr size_t kMaxWordsPerReport = 256;

}  // namespace

int64_t FleetMonitorCounts::others_since(const Track& t, const std::string& field) const {
  auto o = t.others.find(field);
  if (o == t.others.end()) return 0;
  auto b = t.base.find(field);
  return std::max<int64_t>(0, o->second - (b == t.base.end() ? 0 : b->second));
}

int64_t FleetMonitorCounts::credits_value(const Account& account, int64_t credits) {
  int64_t value = account.wallet();
  int64_t price = 0;  // the newest lot's, for credits beyond the lots known here
  for (uint32_t i = account.lot_count(); i-- > 0 && credits > 0;) {
    const std::optional<LotState> lot = account.lot(i);
    if (!lot) continue;
    if (price == 0) price = lot->unit_price;
    const int64_t n = std::min(credits, lot->credits);
    value += n * lot->unit_price;
    credits -= n;
  }
  return value + std::max<int64_t>(0, credits) * price;
}

void FleetMonitorCounts::fleet_sample(ContractSample& s, const Account* account) {
  std::lock_guard lock(mutex_);
  Track& t = tracks_[s.contract];
  if (account != nullptr) {
    t.priced = true;
    s.balance = t.credits_left >= 0 ? credits_value(*account, t.credits_left) : -1;
  }
  if (t.generation != s.generation) {
    // The channel counters restarted with the policy: so do the reported
    // marks and the others' part of every channel.
    t.generation = s.generation;
    for (auto it = t.local.begin(); it != t.local.end();) {
      if (it->first.starts_with("ch:")) {
        t.reported.erase(it->first);
        it = t.local.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [field, others] : t.others)
      if (field.starts_with("ch:")) t.base[field] = others;
  }
  t.local[kCalls] = s.calls;
  t.local[kScope] = s.scope_denials;
  for (size_t i = 0; i < s.channels.size() && i < s.channel_calls.size(); ++i)
    t.local[channel_field(s.channels[i])] = s.channel_calls[i];
  s.calls += static_cast<uint64_t>(others_since(t, kCalls));
  s.scope_denials += static_cast<uint64_t>(others_since(t, kScope));
  for (size_t i = 0; i < s.channels.size() && i < s.channel_calls.size(); ++i)
    s.channel_calls[i] += static_cast<uint64_t>(others_since(t, channel_field(s.channels[i])));
}

std::vector<FleetMonitorCounts::Report> FleetMonitorCounts::take_reports() {
  std::lock_guard lock(mutex_);
  std::vector<Report> out;
  for (auto& [contract, t] : tracks_) {
    if (t.in_flight) continue;
    Report r;
    r.contract = contract;
    for (const auto& [field, local] : t.local) {
      uint64_t& reported = t.reported[field];
      // A count below its mark (a restarted counter): it starts again from 0.
      const uint64_t delta = local >= reported ? local - reported : local;
      reported = local;
      r.deltas.emplace_back(field, static_cast<int64_t>(delta));
    }
    r.priced = t.priced;
    if (t.subjects_period != 0) {
      r.subjects_period = t.subjects_period;
      // At most kMaxWordsPerReport at a time: the merge runs inside Redis (a
      // whole day's 2,048 words at once blocked it ~14 ms); the rest go next.
      auto it = t.words_due.begin();
      while (it != t.words_due.end() && r.subject_words.size() < kMaxWordsPerReport) {
        r.subject_words.emplace_back(it->first, it->second);
        t.words_sent[it->first] = it->second;
        it = t.words_due.erase(it);
      }
    }
    t.in_flight = true;
    out.push_back(std::move(r));
  }
  return out;
}

void FleetMonitorCounts::on_reply(const Report& report, bool answered,
                                  const std::vector<std::pair<std::string, int64_t>>& totals, int64_t credits_left) {
  std::lock_guard lock(mutex_);
  auto it = tracks_.find(report.contract);
  if (it == tracks_.end()) return;
  Track& t = it->second;
  t.in_flight = false;
  for (const auto& [field, delta] : report.deltas) t.mine[field] += delta;
  if (!answered) return;
  t.credits_left = credits_left;
  for (const auto& [field, total] : totals) {
    const int64_t others = total - t.mine[field];
    t.others[field] = others;
    // What the others counted before this node's first read is not this node's to see.
    if (!t.based) t.base[field] = others;
  }
  t.based = true;
}

void FleetMonitorCounts::fleet_subjects(ContractSample& s, const PeriodHll& hll, Nanos now) {
  // The period by the calendar, not by the registers: a node that saw no
  // user yet today (no live period) still reads the day's union.
  const Nanos period = hll.calendar().bounds(now).start;
  HllWords words = hll.registers(now);
  if (words.period_start != period) words.words.clear();
  std::lock_guard lock(mutex_);
  Track& t = tracks_[s.contract];
  if (period != t.subjects_period) {  // a new period: a new union
    t.subjects_period = period;
    t.words_sent.clear();
    t.words_due.clear();
    t.union_registers.clear();
    t.union_read = false;
  }
  for (const auto& [index, word] : words.words) {
    auto sent = t.words_sent.find(index);
    if (sent == t.words_sent.end() || sent->second != word) t.words_due[index] = word;
  }
  s.subjects_today = t.union_read ? union_estimate(t.union_registers, words.words, hll.precision()) : -1;
}

void FleetMonitorCounts::on_subjects_reply(const Report& report, bool answered, std::string_view union_registers) {
  if (report.subjects_period == 0) return;
  std::lock_guard lock(mutex_);
  auto it = tracks_.find(report.contract);
  if (it == tracks_.end()) return;
  Track& t = it->second;
  if (t.subjects_period != report.subjects_period) return;  // a period that ended meanwhile
  if (!answered) {
    // Sent again with the next report (a max merged twice changes nothing);
    // a word that rose since is due already with its newer value.
    for (const auto& [index, word] : report.subject_words) {
      t.words_due.try_emplace(index, word);
      t.words_sent.erase(index);
    }
    return;
  }
  t.union_registers.assign(union_registers);
  t.union_read = true;
}

double FleetMonitorCounts::union_estimate(std::string_view union_registers,
                                          const std::vector<std::pair<uint32_t, uint64_t>>& words, int precision) {
  const size_t count = (size_t{1} << precision) / 8;
  std::vector<std::atomic<uint64_t>> merged(count);
  for (size_t i = 0; i < count; ++i) {
    uint64_t w = 0;
    for (size_t k = 0; k < 8; ++k) {
      const size_t at = i * 8 + k;
      if (at < union_registers.size()) w |= uint64_t{static_cast<unsigned char>(union_registers[at])} << (8 * k);
    }
    merged[i].store(w, std::memory_order_relaxed);
  }
  for (const auto& [index, word] : words) {
    if (index >= count) continue;
    uint64_t w = merged[index].load(std::memory_order_relaxed);
    for (int shift = 0; shift < 64; shift += 8) {
      const uint64_t mine = (word >> shift) & 0xff;
      if (mine > ((w >> shift) & 0xff)) w = (w & ~(uint64_t{0xff} << shift)) | (mine << shift);
    }
    merged[index].store(w, std::memory_order_relaxed);
  }
  return hll_detail::estimate(merged.data(), precision);
}

void FleetMonitorCounts::set_leader(bool leader) {
  std::lock_guard lock(mutex_);
  leader_ = leader;
}

bool FleetMonitorCounts::leader() const {
  std::lock_guard lock(mutex_);
  return leader_;
}

}  // namespace tollgate
