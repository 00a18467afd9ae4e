#include "persist/state_restorer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>
#include <string>

#include "engine/counter_table.h"
#include "engine/money/ledger.h"
#include "engine/policy.h"

namespace tollgate::persist {
namespace {

constexpr uint64_t kMaxErrorLogs = 20;

}  // namespace

bool worth_saving(const Entry& e, Nanos now) {
  if (e.policy()->limits.empty()) return false;
  for (const auto& l : e.policy()->limits)
    if (l->limiter.peek(e.words() + l->word_offset, 0, now).sealed) return false;
  return true;
}

void StateRestorer::error(std::string message) {
  ++stats_.errors;
  if (stats_.errors <= kMaxErrorLogs) spdlog::error("recovery: {}", message);
}

void StateRestorer::contract(const ContractImage& image) {
  ContractState& st = state_.contract(image.key);
  if (image.overridden) st.restore_status(image.status, true, image.reason);
  for (const ActiveAction& a : image.actions) st.put_action(a);
  if (!image.has_account) return;
  Account* account = st.account();
  if (account == nullptr) {
    if (image.lots.empty()) return;
    // PriceLadder::flat takes only a positive price (a caller bug otherwise):
    // a stored lot that says otherwise is damage, reported, not a crash.
    if (image.lots.front().unit_price <= 0)
      return error(fmt::format("contract '{}': lot 0 has unit price {}", image.key, image.lots.front().unit_price));
    account = &st.ensure_account(PriceLadder::flat(image.lots.front().unit_price));
  }
  for (LotState lot : image.lots) {
    lot.debited = lot.refunded = lot.expired = lot.forfeited = 0;  // rebuilt from the ledger in finish()
    const bool last = lot.index + 1 == image.lots.size();
    if (auto r = account->add_lot(lot, last ? image.wallet : 0); !r)
      return error(fmt::format("contract '{}': {}", image.key, r.error()));
  }
}

void StateRestorer::ledger(std::vector<LedgerEntry> entries) {
  for (LedgerEntry& e : entries) {
    if (e.kind == LedgerKind::kDebit || e.kind == LedgerKind::kRefund || e.kind == LedgerKind::kExpire) {
      if (e.lot < 0) {
        error(fmt::format("ledger entry {} has no lot", e.seq));
        continue;
      }
      // Lots are restored before the entries that debit them (contract
      // images and recharge records come first), so a lot the account does
      // not have is an error, not a reason to size the sums by e.lot.
      const ContractState* st = state_.find(e.contract);
      const Account* account = st != nullptr ? st->account() : nullptr;
      if (account == nullptr || e.lot >= int64_t{account->lot_count()}) {
        error(fmt::format("ledger entry {} of '{}' names lot {}, which was never recharged", e.seq, e.contract, e.lot));
        continue;
      }
      auto& lots = money_[e.contract];
      if (lots.size() <= static_cast<size_t>(e.lot)) lots.resize(static_cast<size_t>(e.lot) + 1);
      const bool debit = e.kind != LedgerKind::kRefund;  // debit and expire entries are negative
      LotSums& sums = lots[e.lot];
      int64_t& sum = e.kind == LedgerKind::kDebit ? sums.debited
                     : e.kind == LedgerKind::kRefund ? sums.refunded
                                                      : sums.expired;
      int64_t next = 0;
      if (debit ? __builtin_sub_overflow(sum, e.amount, &next) : __builtin_add_overflow(sum, e.amount, &next)) {
        error(fmt::format("ledger entry {} of '{}' overflows the sums of lot {}", e.seq, e.contract, e.lot));
        continue;
      }
      sum = next;
    }
    switch (state_.ledger().add(std::move(e))) {
      case LedgerAddOutcome::kAppended:
        ++stats_.ledger_entries;
        break;
      case LedgerAddOutcome::kDuplicate:
        break;
      case LedgerAddOutcome::kRenumbered:
        ++stats_.ledger_entries, ++stats_.ledger_gaps;
        break;
    }
  }
}

void StateRestorer::payments(std::vector<PaymentImage> payments) {
  for (PaymentImage& p : payments) state_.payments().add(p.id, std::move(p.record));
}

void StateRestorer::counters(std::string_view key, std::span<const SavedLimit> saved) {
  Entry* e = engine_.entry_for(key, now_);
  if (e == nullptr) {
    ++stats_.keys_skipped;
    return;
  }
  const Policy& policy = *e->policy();
  for (const SavedLimit& s : saved) {
    const CompiledLimit* match = nullptr;
    for (const auto& l : policy.limits)
      if (l->spec.name == s.name && static_cast<uint8_t>(l->spec.type) == s.type &&
          static_cast<size_t>(l->limiter.words()) == s.count) {
        match = l.get();
        break;
      }
    if (match == nullptr) {
      ++stats_.limits_skipped;
      continue;
    }
    for (size_t w = 0; w < s.count; ++w) e->words()[match->word_offset + w].store(s.word(w), std::memory_order_relaxed);
  }
  e->touch(now_ - kRestoredAge);
  ++stats_.keys_restored;
}

void StateRestorer::finish() {
  std::set<std::string, std::less<>> overdrawn;  // kZeroBalance: contracts left at balance 0
  for (auto& [key, lots] : money_) {
    ContractState* st = state_.find(key);
    Account* account = st != nullptr ? st->account() : nullptr;
    if (account == nullptr) {
      error(fmt::format("ledger of '{}' has debits but the contract has no account", key));
      continue;
    }
    // Several daemons sharing one balance (storage.mode redis) can debit a
    // lot past its credits; the excess moves on to the next lots so the
    // balance still equals the ledger's sum (the marks follow the counters).
    std::vector<FlushMark> marks(std::max<size_t>(lots.size(), account->lot_count()));
    int64_t carry = 0;  // credits debited beyond earlier lots
    for (uint32_t i = 0; i < marks.size(); ++i) {
      auto lot = account->lot(i);
      if (!lot) {
        error(fmt::format("ledger of '{}' debits lot {} which does not exist", key, i));
        break;
      }
      const LotSums sums = i < lots.size() ? lots[i] : LotSums{};
      // A lot moves in whole credits at its own price; money that is not a
      // whole number of them would be floored away below (Σ ledger ≠
      // balance), so it is damage, not something to round.
      if (sums.debited % lot->unit_price != 0 || sums.refunded % lot->unit_price != 0 ||
          sums.expired % lot->unit_price != 0) {
        error(fmt::format("ledger of '{}' debits {}, refunds {} and expires {} on lot {}: not whole credits at its "
                          "price {}",
                          key, sums.debited, sums.refunded, sums.expired, i, lot->unit_price));
        continue;
      }
      // Expired credits count in `debited` (account.h); forfeited ones (a hold
      // cancelled after its lot's instant: a refund and an expire entry) come
      // back as refunded-then-expired, the same balance and the same entries.
      const int64_t expired = sums.expired / lot->unit_price;
      int64_t debited = 0;
      if (__builtin_add_overflow(sums.debited / lot->unit_price, expired, &debited) ||
          __builtin_add_overflow(debited, carry, &debited)) {
        error(fmt::format("ledger of '{}' overflows the counters of lot {}", key, i));
        continue;
      }
      FlushMark mark{debited, sums.refunded / lot->unit_price, expired, 0};
      carry = 0;
      if (mark.debited - mark.refunded > lot->credits) {
        carry = mark.debited - mark.refunded - lot->credits;
        mark.debited -= carry;
        mark.expired = std::min(mark.expired, mark.debited);
      }
      marks[i] = mark;
      if (auto r = account->restore_counters(i, mark.debited, mark.refunded, mark.expired); !r)
        error(fmt::format("contract '{}': {}", key, r.error()));
    }
    if (carry > 0 && overdraft_ == Overdraft::kError) {
      error(fmt::format("ledger of '{}' debits {} credits beyond its lots: the ledger and the lots disagree", key,
                        carry));
    } else if (carry > 0) {
      ++stats_.overdrafts;
      overdrawn.insert(key);
      spdlog::warn(
          "recovery: contract '{}' was debited {} credits beyond its lots (several daemons spent one balance); "
          "its balance is 0",
          key, carry);
    }
    state_.ledger().restore_marks(key, std::move(marks));
  }
  money_.clear();
  // Whatever the pieces said, a state whose balance is not Σ ledger is not
  // started from: lots whose credits and wallet do not add up to what their
  // recharges paid, money on a lot the ledger never put there, … (each
  // found by the store_recovery fuzzer in a damaged store). The Redis
  // store's shared-balance overdraft is the one stated exception.
  for (ContractState* st : state_.all()) {
    const Account* account = st->account();
    if (account == nullptr || overdrawn.contains(st->key())) continue;
    if (auto ok = check_invariant(state_.ledger(), st->key(), account->balance()); !ok) error(ok.error());
  }
}

}  // namespace tollgate::persist
