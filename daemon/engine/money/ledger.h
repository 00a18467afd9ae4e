// The append-only money ledger: every change of a contract's balance as an
// entry (docs/architecture.md, "The life of a RECHARGE"). Thread-safe (one mutex; control plane, never
// on the hot path). Owns its entries; entries are never changed or removed.
//
// `amount` is the signed change of the balance in minor units: recharge > 0,
// debit < 0, refund > 0, adjust either sign, admin usually 0, expire < 0
// (credits of a lot past its `expires` instant, see account.h). So for every
// contract Σ amount == balance whenever the counters behind the last flush
// are the ones the balance is computed from (check_invariant).
#pragma once

#include <cstdint>
#include <expected>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/money/account.h"
#include "tollgate/time.h"

namespace tollgate {

// Stored (journal, snapshot, Redis) as the number: append, never renumber.
enum class LedgerKind : uint8_t { kRecharge, kDebit, kRefund, kAdjust, kAdmin, kExpire };

// Wire name: "recharge", "debit", "refund", "adjust", "admin", "expire".
[[nodiscard]] std::string_view ledger_kind_name(LedgerKind kind);

inline constexpr int64_t kDaemonActor = -1;  // `actor` of entries the daemon makes itself

struct LedgerEntry {
  uint64_t seq = 0;  // 1, 2, ... across all contracts; assigned by append
  int64_t time_ms = 0;
  std::string contract;
  LedgerKind kind = LedgerKind::kAdmin;
  int64_t amount = 0;  // signed minor units (see above)
  int64_t lot = -1;    // lot index, -1 when no lot is involved
  int64_t actor = kDaemonActor;  // admin peer uid
  std::string id;      // payment / idempotency id, may be empty
  friend bool operator==(const LedgerEntry&, const LedgerEntry&) = default;
};

// What a flush observed: the account's balance and credits computed from the
// very counter values the flush turned into entries.
struct FlushResult {
  int64_t balance = 0;
  int64_t credits = 0;
  size_t appended = 0;  // entries added
};

// Per lot: the counters already turned into entries (LotState's).
struct FlushMark {
  int64_t debited = 0;
  int64_t refunded = 0;
  int64_t expired = 0;
  int64_t forfeited = 0;
  friend bool operator==(const FlushMark&, const FlushMark&) = default;
};

// What Ledger::add did with an entry.
enum class LedgerAddOutcome : uint8_t {
  kAppended,    // seq was the next one
  kDuplicate,   // seq already present: skipped
  kRenumbered,  // seq left a gap (records lost): appended under the next seq
};

class Ledger {
 public:
  // Adds an entry made elsewhere under its own seq: a recharge or admin
  // change (ContractAdmin numbers it last_seq() + 1 and makes it durable
  // first), or one read back in recovery. A seq already present is skipped
  // (a replay); a seq past the next one is appended under the next seq.
  LedgerAddOutcome add(LedgerEntry entry);

  // Turns the account's debit/refund counters into entries: per lot, one
  // `debit` for the credits debited since the previous flush of `contract`
  // (amount = -delta × unit_price; credits expiry took are not debits), one
  // `refund` for credits refunded since then (forfeited ones included) and
  // one `expire` for credits expired or forfeited since then. Workers may keep debiting; what they do after the snapshot
  // goes into the next flush. Flushes of one contract must all be given the
  // same account.
  FlushResult flush_debits(const Account& account, std::string_view contract, Nanos now);
  // The same from a snapshot the caller took of that account (a checkpoint
  // takes it at an instant no hold settle is in flight: hold_table.h).
  FlushResult flush_snapshot(const AccountSnapshot& snapshot, std::string_view contract, Nanos now);

  // Entries of `contract` with seq > since_seq, oldest first.
  [[nodiscard]] std::vector<LedgerEntry> entries(std::string_view contract,
                                                 uint64_t since_seq = 0) const;
  // The seq of the newest entry, 0 when empty.
  [[nodiscard]] uint64_t last_seq() const;

  // --- Persistence (control plane) ---

  // Entries of every contract with seq > since_seq, oldest first, at most `max`.
  [[nodiscard]] std::vector<LedgerEntry> entries_after(uint64_t since_seq, size_t max) const;
  // The flush marks of `contract` (per lot), as the next flush starts from.
  [[nodiscard]] std::vector<FlushMark> marks(std::string_view contract) const;
  // Recovery: sets the flush marks of `contract` (the restored lot counters).
  void restore_marks(std::string_view contract, std::vector<FlushMark> marks);

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using ByContract = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  uint64_t append_locked(LedgerEntry entry);
  // Appends entries for `credits` × `unit_price`, split so no amount overflows.
  size_t append_counted_locked(std::string_view contract, LedgerKind kind, int64_t credits,
                               const LotState& lot, int64_t time_ms);

  mutable std::mutex mutex_;
  std::vector<LedgerEntry> entries_;
  ByContract<std::vector<size_t>> by_contract_;  // positions in entries_
  ByContract<std::vector<FlushMark>> flushed_;   // per lot: counters already in entries
};

// Checks Σ amount of `contract`'s entries == `balance` (exact, no overflow);
// the error names both sides. Use the balance returned by flush_debits.
[[nodiscard]] std::expected<void, std::string> check_invariant(const Ledger& ledger,
                                                               std::string_view contract,
                                                               int64_t balance);

}  // namespace tollgate
