#include "engine/money/ledger.h"

#include <algorithm>
#include <limits>

namespace tollgate {

std::string_view ledger_kind_name(LedgerKind kind) {
  switch (kind) {
    case LedgerKind::kRecharge: return "recharge";
    case LedgerKind::kDebit: return "debit";
    case LedgerKind::kRefund: return "refund";
    case LedgerKind::kAdjust: return "adjust";
    case LedgerKind::kAdmin: return "admin";
    case LedgerKind::kExpire: return "expire";
  }
  return "unknown";
}

uint64_t Ledger::append_locked(LedgerEntry entry) {
  entry.seq = entries_.size() + 1;
  auto it = by_contract_.find(entry.contract);
  if (it == by_contract_.end()) it = by_contract_.emplace(entry.contract, std::vector<size_t>{}).first;
  it->second.push_back(entries_.size());
  entries_.push_back(std::move(entry));
  return entries_.back().seq;
}

size_t Ledger::append_counted_locked(std::string_view contract, LedgerKind kind, int64_t credits,
                                     const LotState& lot, int64_t time_ms) {
  // One credit's price fits; a flush window holding more than INT64_MAX minor
  // units of debits is split rather than overflowed.
  const int64_t max_credits = std::numeric_limits<int64_t>::max() / lot.unit_price;
  size_t appended = 0;
  while (credits > 0) {
    const int64_t part = std::min(credits, max_credits);
    const int64_t money = part * lot.unit_price;
    append_locked(LedgerEntry{.time_ms = time_ms,
                              .contract = std::string(contract),
                              .kind = kind,
                              .amount = kind == LedgerKind::kDebit || kind == LedgerKind::kExpire ? -money : money,
                              .lot = lot.index,
                              .actor = kDaemonActor,
                              .id = {}});
    credits -= part;
    ++appended;
  }
  return appended;
}

FlushResult Ledger::flush_debits(const Account& account, std::string_view contract, Nanos now) {
  return flush_snapshot(account.snapshot(), contract, now);
}

FlushResult Ledger::flush_snapshot(const AccountSnapshot& snapshot, std::string_view contract, Nanos now) {
  std::lock_guard lock(mutex_);
  auto it = flushed_.find(contract);
  if (it == flushed_.end()) it = flushed_.emplace(std::string(contract), std::vector<FlushMark>{}).first;
  std::vector<FlushMark>& marks = it->second;
  marks.resize(std::max(marks.size(), snapshot.lots.size()));
  FlushResult result{.balance = snapshot.balance, .credits = snapshot.credits};
  const int64_t time_ms = now / kNanosPerMilli;
  for (const LotState& lot : snapshot.lots) {
    FlushMark& mark = marks[lot.index];
    // debited − expired, refunded + forfeited and expired + forfeited only
    // grow; Σ of the three entries is −Δdebited + Δrefunded, the balance's move.
    result.appended += append_counted_locked(contract, LedgerKind::kDebit,
                                             (lot.debited - lot.expired) - (mark.debited - mark.expired), lot, time_ms);
    result.appended += append_counted_locked(contract, LedgerKind::kRefund,
                                             (lot.refunded + lot.forfeited) - (mark.refunded + mark.forfeited), lot,
                                             time_ms);
    result.appended += append_counted_locked(contract, LedgerKind::kExpire,
                                             (lot.expired + lot.forfeited) - (mark.expired + mark.forfeited), lot,
                                             time_ms);
    mark = FlushMark{lot.debited, lot.refunded, lot.expired, lot.forfeited};
  }
  return result;
}

std::vector<LedgerEntry> Ledger::entries(std::string_view contract, uint64_t since_seq) const {
  std::lock_guard lock(mutex_);
  std::vector<LedgerEntry> out;
  const auto it = by_contract_.find(contract);
  if (it == by_contract_.end()) return out;
  const std::vector<size_t>& positions = it->second;
  // seq == position + 1, so the first position with seq > since_seq is >= since_seq.
  auto first = std::lower_bound(positions.begin(), positions.end(), since_seq);
  for (; first != positions.end(); ++first) out.push_back(entries_[*first]);
  return out;
}

uint64_t Ledger::last_seq() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::vector<LedgerEntry> Ledger::entries_after(uint64_t since_seq, size_t max) const {
  std::lock_guard lock(mutex_);
  std::vector<LedgerEntry> out;
  for (uint64_t i = since_seq; i < entries_.size() && out.size() < max; ++i) out.push_back(entries_[i]);
  return out;
}

LedgerAddOutcome Ledger::add(LedgerEntry entry) {
  std::lock_guard lock(mutex_);
  if (entry.seq != 0 && entry.seq <= entries_.size()) return LedgerAddOutcome::kDuplicate;
  const bool in_order = entry.seq == entries_.size() + 1;
  append_locked(std::move(entry));
  return in_order ? LedgerAddOutcome::kAppended : LedgerAddOutcome::kRenumbered;
}

std::vector<FlushMark> Ledger::marks(std::string_view contract) const {
  std::lock_guard lock(mutex_);
  const auto it = flushed_.find(contract);
  return it == flushed_.end() ? std::vector<FlushMark>{} : it->second;
}

void Ledger::restore_marks(std::string_view contract, std::vector<FlushMark> marks) {
  std::lock_guard lock(mutex_);
  auto it = flushed_.find(contract);
  if (it == flushed_.end()) it = flushed_.emplace(std::string(contract), std::vector<FlushMark>{}).first;
  it->second = std::move(marks);
}

std::expected<void, std::string> check_invariant(const Ledger& ledger, std::string_view contract,
                                                 int64_t balance) {
  __int128 sum = 0;
  for (const LedgerEntry& entry : ledger.entries(contract)) sum += entry.amount;
  if (sum == balance) return {};
  const auto to_string = [](__int128 v) {
    const bool negative = v < 0;
    unsigned __int128 magnitude = negative ? -static_cast<unsigned __int128>(v)
                                           : static_cast<unsigned __int128>(v);
    std::string digits;
    do {
      digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
      magnitude /= 10;
    } while (magnitude != 0);
    return negative ? "-" + digits : digits;
  };
  return std::unexpected("ledger of " + std::string(contract) + " sums to " + to_string(sum) +
                         " but the balance is " + std::to_string(balance));
}

}  // namespace tollgate
