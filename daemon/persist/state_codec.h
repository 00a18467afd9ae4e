// Binary encoding of the daemon's persisted state (the meaning the store's
// opaque records carry): admin mutations, ledger entries, payment records,
// contract images, counter words, open holds, remembered IDs and
// distinct-subject members. Little endian, length-prefixed; every
// payload starts with a format version byte so the format can evolve.
// Pure functions and plain values; thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/admin_record.h"
#include "engine/dedup_table.h"
#include "engine/hold_table.h"
#include "engine/subjects/hyperloglog.h"
#include "engine/money/ledger.h"
#include "engine/money/payments.h"

namespace tollgate {
class Entry;
}

namespace tollgate::persist {

inline constexpr uint8_t kPayloadVersion = 1;
// kHolds payloads: version 2 counts a hold's spans in a u32 (any number of
// lots). encode_holds writes version 1 (a u8, at most 4 spans a hold, the
// previous daemon's format) whenever every hold fits it, so a store without
// a hold over more lots stays readable by the previous daemon; both decode.
inline constexpr uint8_t kHoldsPayloadVersion = 2;

// Record type tags, shared by journal records and snapshot records.
enum class RecordType : uint8_t {
  kLedgerEntries = 1,  // journal + snapshot: a batch of ledger entries, seq order
  kAdmin = 2,          // journal: one AdminRecord
  kCancel = 3,         // journal: the AdminRecord at <seq> was refused, never apply it
  kCounters = 4,       // journal + snapshot: a batch of keys' limit words
  kHolds = 5,          // journal + snapshot: the whole open-hold set (replaces the previous one)
  kIdRecords = 6,      // journal + snapshot: a batch of remembered CHECK ... ID replies
  kSubjects = 7,       // journal + snapshot: members of one distinct_subjects set in one period
  kSubjectEstimate = 8,  // journal + snapshot: register words of one contract's distinct-subject HLL
  kContract = 10,      // snapshot: one contract's status override and account lots
  kPayments = 11,      // snapshot: a batch of payment records
  kMeta = 12,          // snapshot: when and by what it was written
};

// Appends fixed-width little-endian values and length-prefixed strings.
class Encoder {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void str(std::string_view s);
  std::string& bytes() { return out_; }
  size_t size() const { return out_.size(); }
  void clear() { out_.clear(); }

 private:
  std::string out_;
};

// Reads what Encoder wrote; any overrun makes ok() false and returns zeros.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string_view str();
  std::string_view raw(size_t n);  // the next n bytes
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  size_t pos() const { return pos_; }  // bytes read so far

 private:
  bool need(size_t n);
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::string encode_admin(const AdminRecord& record);
std::expected<AdminRecord, std::string> decode_admin(std::string_view payload);

std::string encode_cancel(uint64_t journal_seq);
std::expected<uint64_t, std::string> decode_cancel(std::string_view payload);

std::string encode_ledger_entries(std::span<const LedgerEntry> entries);
std::expected<std::vector<LedgerEntry>, std::string> decode_ledger_entries(std::string_view payload);

struct PaymentImage {
  std::string id;
  PaymentRecord record;
};
std::string encode_payments(std::span<const PaymentImage> payments);
std::expected<std::vector<PaymentImage>, std::string> decode_payments(std::string_view payload);

// One contract's runtime state. Lot counters are the ledger's flush marks
// (what the ledger's debit entries add up to), so the two always agree.
struct ContractImage {
  std::string key;
  ContractStatus status = ContractStatus::kActive;
  bool overridden = false;
  std::string reason;
  bool has_account = false;
  int64_t wallet = 0;
  std::vector<LotState> lots;
  std::vector<ActiveAction> actions;  // monitor actions in force (encoded only when some are)
};
std::string encode_contract(const ContractImage& image);
std::expected<ContractImage, std::string> decode_contract(std::string_view payload);

// The whole open-hold set as of a checkpoint, and the ledger sequence that
// checkpoint's ledger entries reach: recovery trusts the set only if the
// ledger it recovered reaches that far (else the commit was torn after it).
struct HoldSet {
  uint64_t ledger_seq = 0;
  std::vector<HoldImage> holds;  // in the order given (the store sorts them)
  friend bool operator==(const HoldSet&, const HoldSet&) = default;
};
std::string encode_holds(const HoldSet& set);
std::expected<HoldSet, std::string> decode_holds(std::string_view payload);

std::string encode_id_records(std::span<const DedupTable::Record> records);
std::expected<std::vector<DedupTable::Record>, std::string> decode_id_records(std::string_view payload);

// Members (subject hashes) of one contract's distinct_subjects limit, counted
// in the period starting at `period_start`.
struct SubjectMembers {
  std::string contract;
  std::string limit;
  Nanos period_start = 0;
  std::vector<uint64_t> hashes;
  friend bool operator==(const SubjectMembers&, const SubjectMembers&) = default;
};
std::string encode_subjects(const SubjectMembers& members);
std::expected<SubjectMembers, std::string> decode_subjects(std::string_view payload);

// Register words of one contract's PeriodHll in one period.
struct EstimateWords {
  std::string contract;
  HllWords registers;
};
std::string encode_subject_estimate(const EstimateWords& estimate);
std::expected<EstimateWords, std::string> decode_subject_estimate(std::string_view payload);

// A batch of keys' counter words: begin, add_entry per key, finish.
class CounterBatch {
 public:
  CounterBatch() { clear(); }
  // Appends `entry`'s key and every limit's words (name, type, words).
  void add_entry(const Entry& entry);
  size_t keys() const { return keys_; }
  size_t bytes() const { return encoder_.size(); }
  // The payload (key count patched in); valid until clear().
  std::string_view finish();
  void clear();

 private:
  Encoder encoder_;
  uint32_t keys_ = 0;
};

// One limit's saved words as decoded (views into the payload).
struct SavedLimit {
  std::string_view name;
  uint8_t type = 0;
  std::span<const char> words;  // count × 8 bytes, little endian
  size_t count = 0;
  uint64_t word(size_t i) const;
};

// Calls visit(key, limits) for each key of a kCounters payload. Returns the
// number of keys, or an error when the payload is malformed.
std::expected<size_t, std::string> decode_counters(
    std::string_view payload,
    const std::function<void(std::string_view key, std::span<const SavedLimit> limits)>& visit);

}  // namespace tollgate::persist
