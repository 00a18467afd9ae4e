#include "persist/embedded/recovery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tollgate::persist {

void Recovery::snapshot_record(uint8_t type, std::string_view bytes) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kContract: {
      auto image = decode_contract(bytes);
      if (!image) return undecodable(image.error());
      restorer_.contract(*image);
      break;
    }
    case RecordType::kLedgerEntries: ledger(bytes); break;
    case RecordType::kPayments: {
      auto payments = decode_payments(bytes);
      if (!payments) return undecodable(payments.error());
      restorer_.payments(std::move(*payments));
      break;
    }
    case RecordType::kCounters: counters(bytes); break;
    case RecordType::kHolds: holds(bytes); break;
    case RecordType::kIdRecords: id_records(bytes); break;
    case RecordType::kSubjects: subjects(bytes); break;
    case RecordType::kSubjectEstimate: subject_estimate(bytes); break;
    case RecordType::kMeta: break;
    default: undecodable(fmt::format("snapshot record of unknown type {}", type));
  }
}

void Recovery::journal_record(const files::RecordView& r) {
  ++c_.recovery_records_replayed;
  const auto type = static_cast<RecordType>(r.type);
  if (held_) {
    if (type == RecordType::kCancel) {
      auto seq = decode_cancel(r.payload);
      if (seq && *seq == held_->first) {
        ++c_.recovery_admin_cancelled;
        spdlog::warn("recovery: skipping admin mutation at journal seq {} ({} {}): it was refused", held_->first,
                     held_->second.event_kind, held_->second.contract);
        held_.reset();
        return;
      }
    }
    apply_held();
  }
  switch (type) {
    case RecordType::kLedgerEntries: ledger(r.payload); break;
    case RecordType::kCounters: counters(r.payload); break;
    case RecordType::kHolds: holds(r.payload); break;
    case RecordType::kIdRecords: id_records(r.payload); break;
    case RecordType::kSubjects: subjects(r.payload); break;
    case RecordType::kSubjectEstimate: subject_estimate(r.payload); break;
    case RecordType::kAdmin: {
      auto record = decode_admin(r.payload);
      if (!record) return undecodable(fmt::format("journal seq {}: {}", r.seq, record.error()));
      held_.emplace(r.seq, std::move(*record));  // applied unless a cancel follows
      break;
    }
    case RecordType::kCancel: break;  // of a record not held: nothing to undo
    default: undecodable(fmt::format("journal seq {}: unknown record type {}", r.seq, r.type));
  }
}

void Recovery::finish() {
  if (held_) apply_held();
  restorer_.finish();
  // Holds last: each one's debit is in the ledger just rebuilt (see
  // EmbeddedStore::append_hold_set_locked), so its CANCEL refunds what was taken.
  Engine& engine = engine_;
  if (latest_holds_.ledger_seq > state_.ledger().last_seq()) {
    // The commit that wrote this set was torn before its ledger entries:
    // the set before it is the one that agrees with the recovered ledger.
    ++c_.recovery_holds_sets_untrusted;
    spdlog::warn("recovery: the latest hold set needs ledger seq {} but the ledger ends at {}; using the one before",
                 latest_holds_.ledger_seq, state_.ledger().last_seq());
    latest_holds_ = std::move(previous_holds_);
  }
  for (const HoldImage& h : latest_holds_.holds) {
    if (engine.restore_hold(h)) ++c_.recovery_holds_restored;
    else ++c_.recovery_holds_skipped;
  }
  // Holds that expired while the daemon was down are settled now, by their
  // contract's hold_timeout, rather than when their worker next wakes up.
  for (int worker = 0; worker < engine.holds().workers(); ++worker)
    c_.recovery_holds_expired += engine.expire_holds(worker, now_);
  const RestoreStats& s = restorer_.stats();
  c_.recovery_keys_restored = s.keys_restored;
  c_.recovery_keys_skipped = s.keys_skipped;
  c_.recovery_limits_skipped = s.limits_skipped;
  c_.recovery_ledger_entries = s.ledger_entries;
  c_.recovery_ledger_gaps = s.ledger_gaps;
  c_.recovery_errors = s.errors;
}

void Recovery::apply_held() {
  if (auto r = apply_admin_record(held_->second, engine_, state_); !r)
    restorer_.error(fmt::format("journal seq {}: {}", held_->first, r.error()));
  else
    ++c_.recovery_admin_applied;
  held_.reset();
}

void Recovery::ledger(std::string_view bytes) {
  auto entries = decode_ledger_entries(bytes);
  if (!entries) return undecodable(entries.error());
  restorer_.ledger(std::move(*entries));
}

void Recovery::counters(std::string_view bytes) {
  auto decoded = decode_counters(
      bytes, [&](std::string_view key, std::span<const SavedLimit> saved) { restorer_.counters(key, saved); });
  if (!decoded) undecodable(decoded.error());
}

// Each holds record is the whole open set: the latest one wins (unless
// its commit was torn, see finish()).
void Recovery::holds(std::string_view bytes) {
  auto decoded = decode_holds(bytes);
  if (!decoded) return undecodable(decoded.error());
  previous_holds_ = std::move(latest_holds_);
  latest_holds_ = std::move(*decoded);
}

// Replies already expired are dropped by restore().
void Recovery::id_records(std::string_view bytes) {
  auto decoded = decode_id_records(bytes);
  if (!decoded) return undecodable(decoded.error());
  DedupTable& dedup = engine_.dedup();
  for (const DedupTable::Record& r : *decoded)
    if (dedup.restore(r, now_)) ++c_.recovery_id_records;
}

// Applied in journal order, so an admin RESET replayed later empties them
// again; members of a period that has ended are dropped by restore().
void Recovery::subjects(std::string_view bytes) {
  auto decoded = decode_subjects(bytes);
  if (!decoded) return undecodable(decoded.error());
  if (sets_.empty())
    engine_.for_each_distinct_set([&](const std::string& contract, const std::string& limit,
                                               DistinctSubjects& set) { sets_[{contract, limit}] = &set; });
  auto it = sets_.find({decoded->contract, decoded->limit});
  if (it == sets_.end()) return;  // the limit is no longer configured
  const int64_t admitted =
      it->second->restore(PeriodMembers{decoded->period_start, std::move(decoded->hashes)}, now_);
  c_.recovery_subjects += static_cast<uint64_t>(admitted);
}

void Recovery::subject_estimate(std::string_view bytes) {
  auto decoded = decode_subject_estimate(bytes);
  if (!decoded) return undecodable(decoded.error());
  if (estimates_.empty())
    engine_.for_each_subject_estimate(
        [&](const std::string& contract, PeriodHll& hll) { estimates_[contract] = &hll; });
  auto it = estimates_.find(decoded->contract);
  if (it == estimates_.end()) return;  // the contract is gone
  c_.recovery_estimate_words += it->second->restore(decoded->registers, now_);
}

}  // namespace tollgate::persist
