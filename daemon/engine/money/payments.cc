#include "engine/money/payments.h"

namespace tollgate {

std::expected<RechargeReply, std::string> PaymentRegistry::recharge_once(
    std::string_view payment_id, std::string_view contract, int64_t amount,
    const std::function<std::expected<RechargeReply, std::string>()>& apply) {
  if (payment_id.empty()) return std::unexpected("payment id is empty");
  std::lock_guard lock(mutex_);
  if (const auto it = records_.find(payment_id); it != records_.end()) {
    const PaymentRecord& record = it->second;
    if (record.contract != contract)
      return std::unexpected("payment id " + std::string(payment_id) +
                             " was used for contract " + record.contract);
    if (record.amount != amount)
      return std::unexpected("payment id " + std::string(payment_id) +
                             " was used with amount " + std::to_string(record.amount));
    return record.reply;
  }
  std::expected<RechargeReply, std::string> reply = apply();
  if (reply)
    records_.emplace(std::string(payment_id),
                     PaymentRecord{std::string(contract), amount, *reply});
  return reply;
}

std::optional<PaymentRecord> PaymentRegistry::find(std::string_view payment_id) const {
  std::lock_guard lock(mutex_);
  const auto it = records_.find(payment_id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

bool PaymentRegistry::restore(std::string_view payment_id, PaymentRecord record) {
  std::lock_guard lock(mutex_);
  return records_.emplace(std::string(payment_id), std::move(record)).second;
}

void PaymentRegistry::for_each(
    const std::function<void(const std::string&, const PaymentRecord&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, record] : records_) fn(id, record);
}

size_t PaymentRegistry::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

}  // namespace tollgate
