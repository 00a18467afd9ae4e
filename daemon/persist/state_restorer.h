// Rebuilds the daemon's runtime state from persisted pieces — contract images
// (status override, lots), ledger entries, payment records and keys' counter
// words — whichever store read them (the embedded journal/snapshots or
// Redis). Money is rebuilt from the ledger: finish() sets each lot's
// debited/refunded counters to what its debit/refund entries add up to, so
// Σ ledger == balance after every restore.
// Thread-safety: not thread-safe; use at start-up, before any worker runs.
// Borrows the RuntimeState and the engine, which must outlive it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "persist/state_codec.h"

namespace tollgate::persist {

// Whether a table entry's words should be persisted: it has counter limits
// and is not sealed by the evictor (a restored sealed word would leave the
// key unusable).
[[nodiscard]] bool worth_saving(const Entry& e, Nanos now);

// What a restore did; the stores copy these into their INFO counters.
struct RestoreStats {
  uint64_t keys_restored = 0;   // keys whose counter words were restored
  uint64_t keys_skipped = 0;    // saved keys no contract or key class matches any more
  uint64_t limits_skipped = 0;  // saved limits whose name/type/size no longer exists
  uint64_t ledger_entries = 0;  // ledger entries restored
  uint64_t ledger_gaps = 0;     // ledger entries restored out of sequence (after data loss)
  uint64_t errors = 0;          // pieces that could not be applied (the first ones are logged)
  uint64_t overdrafts = 0;      // contracts whose ledger debits exceed their lots (balance shared by daemons)
};

class StateRestorer {
 public:
  // Restored keys are marked as last used this long before `now`, so the
  // first checkpoint after start-up does not rewrite every restored key.
  static constexpr Nanos kRestoredAge = 10 * kNanosPerSecond;

  // What finish() makes of a contract whose ledger debits more credits than
  // its lots hold. One daemon never does that (a debit takes only what a lot
  // has), so for the embedded store it is damage: an error, and recovery
  // refuses to start. Several daemons sharing one balance in Redis can
  // (until fleet leasing): the excess is carried to later lots and the
  // balance restores as 0, logged and counted — Σ ledger is then below the
  // balance by the overdraft, which the log states.
  enum class Overdraft : uint8_t { kError, kZeroBalance };

  StateRestorer(RuntimeState& state, Engine& engine, Nanos now, Overdraft overdraft)
      : state_(state), engine_(engine), now_(now), overdraft_(overdraft) {}

  // A contract's status override and lots (lot counters are rebuilt from the
  // ledger by finish(), whatever the image says). Lots must come in index order.
  void contract(const ContractImage& image);
  // Ledger entries in seq order; debit/refund entries are summed per lot.
  void ledger(std::vector<LedgerEntry> entries);
  void payments(std::vector<PaymentImage> payments);
  // One key's saved limit words: matched to the current config by limit
  // name, type and word count; the rest is skipped and counted.
  void counters(std::string_view key, std::span<const SavedLimit> saved);
  // Sets every lot's counters and the ledger's flush marks from the ledger.
  void finish();

  // Counts (and logs the first few of) pieces that could not be applied.
  void error(std::string message);
  const RestoreStats& stats() const { return stats_; }

 private:
  RuntimeState& state_;
  Engine& engine_;
  Nanos now_;
  Overdraft overdraft_;
  RestoreStats stats_;
  // Per contract, per lot: money debited and refunded according to the ledger.
  // Per contract, per lot: Σ debit, Σ refund and Σ expire entries (minor units, as positive sums).
  struct LotSums {
    int64_t debited = 0;
    int64_t refunded = 0;
    int64_t expired = 0;
  };
  std::unordered_map<std::string, std::vector<LotSums>> money_;
};

}  // namespace tollgate::persist
