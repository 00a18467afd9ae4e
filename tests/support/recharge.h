// Recharging in tests and benches through the verbs the daemon uses. The
// daemon (ContractAdmin) plans a recharge, makes it durable, then applies it:
// Account::add_lot with the planned lot and wallet, PaymentRegistry::add and
// Ledger::add of the recharge entry numbered last_seq() + 1. These helpers
// take the same steps without the durability in between, so that money tests
// exercise the path real recharges take. Not thread-safe beyond what the
// verbs are (one recharging thread per account, as in the daemon).
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "engine/admin_record.h"
#include "engine/money/account.h"
#include "engine/money/ledger.h"
#include "engine/money/payments.h"
#include "tollgate/time.h"

namespace tollgate {

// Tops `account` up by `amount` minor units: plan_recharge, then add_lot.
// Returns the plan (its `balance` is the balance once the lot is added).
inline std::expected<RechargeResult, std::string> apply_recharge(Account& account, int64_t amount, Nanos now) {
  auto plan = account.plan_recharge(amount, now);
  if (!plan) return plan;
  if (auto added = account.add_lot(recharge_lot(*plan, now), plan->wallet); !added)
    return std::unexpected(added.error());
  return plan;
}

// apply_recharge, plus the recharge's ledger entry (Ledger::add under the
// next seq) and, with a payment id, its payment record: every state a
// daemon's RECHARGE changes in the money room.
inline std::expected<RechargeResult, std::string> apply_recharge(Account& account, Ledger& ledger,
                                                                 PaymentRegistry* payments,
                                                                 std::string_view contract, int64_t amount,
                                                                 Nanos now, int64_t actor = kDaemonActor,
                                                                 std::string_view payment_id = {}) {
  auto plan = apply_recharge(account, amount, now);
  if (!plan) return plan;
  if (payments != nullptr && !payment_id.empty())
    payments->add(payment_id, PaymentRecord{std::string(contract), amount,
                                            RechargeReply{plan->credits, plan->unit_price, plan->balance}});
  ledger.add(recharge_entry(*plan, ledger.last_seq() + 1, now, contract, actor, payment_id));
  return plan;
}

}  // namespace tollgate
