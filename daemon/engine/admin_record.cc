#include "engine/admin_record.h"

#include <fmt/format.h>

namespace tollgate {

LotState recharge_lot(const RechargeResult& plan, Nanos now, Nanos expires) {
  return LotState{.index = plan.lot,
                  .amount = plan.amount,
                  .unit_price = plan.unit_price,
                  .credits = plan.credits,
                  .debited = 0,
                  .refunded = 0,
                  .created = now,
                  .expires = expires};
}

LedgerEntry recharge_entry(const RechargeResult& plan, uint64_t seq, Nanos now, std::string_view contract,
                           int64_t actor, std::string_view payment_id) {
  return LedgerEntry{.seq = seq,
                     .time_ms = now / kNanosPerMilli,
                     .contract = std::string(contract),
                     .kind = LedgerKind::kRecharge,
                     .amount = plan.amount,
                     .lot = plan.lot,
                     .actor = actor,
                     .id = std::string(payment_id)};
}
namespace {

// A record is applied only if its ledger entry is the one its mutation makes
// (a recharge: +amount on its lot under its payment id; a status change or
// reset: an admin entry of 0), so a replayed record can never put money in
// the ledger that is not in a lot, or the reverse.
bool ledger_entry_matches(const AdminRecord& r) {
  const LedgerEntry& e = r.ledger_entry;
  if (e.contract != r.contract) return false;
  if (r.kind != AdminRecord::Kind::kRecharge) return e.kind == LedgerKind::kAdmin && e.amount == 0;
  return e.kind == LedgerKind::kRecharge && e.amount == r.lot.amount && e.lot == int64_t{r.lot.index} &&
         e.id == r.payment_id;
}

}  // namespace

std::expected<void, std::string> apply_admin_record(const AdminRecord& record, Engine& engine, RuntimeState& state) {
  if (!ledger_entry_matches(record))
    return std::unexpected(fmt::format("{} of '{}': its ledger entry (seq {}) does not match it", record.event_kind,
                                       record.contract, record.ledger_entry.seq));
  switch (record.kind) {
    case AdminRecord::Kind::kRecharge: {
      ContractState& st = state.contract(record.contract);
      Account* account = st.account();
      // A contract whose pricing left the config keeps its lots.
      if (account == nullptr) {
        // A replayed record with an impossible price is refused, not a crash
        // (PriceLadder::flat takes only a positive price).
        if (record.lot.unit_price <= 0)
          return std::unexpected(fmt::format("recharge of '{}' ({}): unit price {}", record.contract,
                                             record.payment_id, record.lot.unit_price));
        account = &st.ensure_account(PriceLadder::flat(record.lot.unit_price));
      }
      if (auto restored = account->add_lot(record.lot, record.wallet); !restored)
        return std::unexpected(fmt::format("recharge of '{}' ({}): {}", record.contract, record.payment_id,
                                           restored.error()));
      state.payments().add(record.payment_id,
                               PaymentRecord{record.contract, record.lot.amount, record.reply});
      break;
    }
    case AdminRecord::Kind::kStatus:
      state.contract(record.contract).override_status(record.status, record.reason);
      break;
    case AdminRecord::Kind::kReset: {
      Entry* e = engine.entry_for(record.contract, record.time);
      if (e == nullptr) return std::unexpected(fmt::format("reset of '{}': no such key", record.contract));
      for (const auto& l : e->policy()->limits)
        if (record.limit.empty() || l->spec.name == record.limit) l->limiter.reset(e->words() + l->word_offset, record.time);
      break;
    }
    case AdminRecord::Kind::kAction: {
      ContractState& st = state.contract(record.contract);
      if (record.lift) st.lift_action(record.action);
      else st.put_action(record.action);
      engine.sync_restrictions(record.contract);
      break;
    }
  }
  state.ledger().add(record.ledger_entry);
  // A monitor's own action records carry no event: the monitor runner raised it with its measure.
  if (!record.event_kind.empty())
    state.add_event({0, record.time / kNanosPerMilli, record.event_kind, record.contract, record.actor,
                     record.event_detail});
  return {};
}

}  // namespace tollgate
