// Recharge idempotency: payment id -> the first recharge it made and its
// reply, so a retried RECHARGE returns the same answer and adds nothing.
// Thread-safe (one mutex; control plane). Owns its records. Unbounded on
// purpose: every payment id is a money record kept for the contract's life
// (it is persisted with the ledger), never evicted.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tollgate {

// The RECHARGE reply: [credits, unit_price_minor, balance_minor].
struct RechargeReply {
  int64_t credits = 0;
  int64_t unit_price = 0;
  int64_t balance = 0;
  friend bool operator==(const RechargeReply&, const RechargeReply&) = default;
};

struct PaymentRecord {
  std::string contract;
  int64_t amount = 0;
  RechargeReply reply;
  friend bool operator==(const PaymentRecord&, const PaymentRecord&) = default;
};

class PaymentRegistry {
 public:
  // The record of `payment_id`, if any: a retried RECHARGE answers from it
  // (ContractAdmin::recharge checks its contract and amount).
  [[nodiscard]] std::optional<PaymentRecord> find(std::string_view payment_id) const;
  [[nodiscard]] size_t size() const;

  // Records `payment_id` as applied (a recharge being applied after it was
  // made durable, or recovery). Returns false when the id is already known
  // (the record is not replaced).
  bool add(std::string_view payment_id, PaymentRecord record);
  // Calls fn(id, record) for every record, under the mutex (fn must not call back).
  void for_each(const std::function<void(const std::string&, const PaymentRecord&)>& fn) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  mutable std::mutex mutex_;
  std::unordered_map<std::string, PaymentRecord, StringHash, std::equal_to<>> records_;
};

}  // namespace tollgate
