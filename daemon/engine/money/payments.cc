#include "engine/money/payments.h"

namespace tollgate {

std::optional<PaymentRecord> PaymentRegistry::find(std::string_view payment_id) const {
  std::lock_guard lock(mutex_);
  const auto it = records_.find(payment_id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

bool PaymentRegistry::add(std::string_view payment_id, PaymentRecord record) {
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
