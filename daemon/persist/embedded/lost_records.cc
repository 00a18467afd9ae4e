#include "persist/embedded/lost_records.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "persist/state_codec.h"

namespace tollgate::persist {
namespace {

std::string type_name(uint8_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kLedgerEntries: return "ledger batches";
    case RecordType::kAdmin: return "admin mutations";
    case RecordType::kCancel: return "cancels";
    case RecordType::kCounters: return "counter batches";
    case RecordType::kHolds: return "hold sets";
    case RecordType::kIdRecords: return "ID reply batches";
    case RecordType::kSubjects: return "distinct-subject batches";
    case RecordType::kSubjectEstimate: return "distinct-subject estimates";
    case RecordType::kContract: return "contract images";
    case RecordType::kPayments: return "payment batches";
    case RecordType::kMeta: return "meta records";
  }
  return fmt::format("records of type {}", type);
}

}  // namespace

void LostRecords::journal_record(const files::RecordView& record) {
  ++records_;
  ++by_type_[type_name(record.type)];
  switch (static_cast<RecordType>(record.type)) {
    case RecordType::kAdmin: {
      auto admin = decode_admin(record.payload);
      if (!admin) {
        ++undecodable_;
        return;
      }
      if (admin->kind == AdminRecord::Kind::kRecharge)
        payments_.push_back(Payment{admin->payment_id, admin->contract, admin->lot.amount, record.seq});
      break;
    }
    case RecordType::kCancel: {
      if (auto seq = decode_cancel(record.payload)) cancelled_.insert(*seq);
      else ++undecodable_;
      break;
    }
    default: break;
  }
}

void LostRecords::snapshot_record(uint8_t type, std::string_view bytes) {
  ++records_;
  ++by_type_[type_name(type)];
  if (static_cast<RecordType>(type) != RecordType::kPayments) return;
  auto payments = decode_payments(bytes);
  if (!payments) {
    ++undecodable_;
    return;
  }
  for (const PaymentImage& p : *payments) payments_.push_back(Payment{p.id, p.record.contract, p.record.amount, 0});
}

std::vector<LostRecords::Payment> LostRecords::payments() const {
  std::vector<Payment> out;
  std::set<std::string> seen;  // a snapshot and the journal may both hold one payment
  for (const Payment& p : payments_) {
    if (p.journal_seq != 0 && cancelled_.contains(p.journal_seq)) continue;
    if (seen.insert(p.id).second) out.push_back(p);
  }
  return out;
}

size_t LostRecords::log(std::string_view what, std::string_view fate) const {
  const std::vector<Payment> lost = payments();
  for (const Payment& p : lost) {
    spdlog::error("recovery: payment id '{}' {}: RECHARGE of '{}', amount {} ({})", p.id, fate, p.contract, p.amount,
                  p.journal_seq == 0 ? std::string("from a snapshot") : fmt::format("journal seq {}", p.journal_seq));
  }
  std::string kinds;
  for (const auto& [name, count] : by_type_) kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", count, name);
  spdlog::error("recovery: {}: {} intact records ({}), {} payment ids (listed above), {} could not be decoded",
                what, records_, kinds.empty() ? "none" : kinds, lost.size(), undecodable_);
  return lost.size();
}

}  // namespace tollgate::persist
