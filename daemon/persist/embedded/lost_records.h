// What recovery gives up when the operator lets it (`--recover`): collects the
// decodable meaning of journal records and snapshot records that will not be
// restored — every RECHARGE with its payment id above all (a lost payment id
// would be accepted again as new money, so each one is logged for the
// operator to reconcile) — and logs it. Not thread-safe; start-up only.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "persist/files/journal.h"

namespace tollgate::persist {

class LostRecords {
 public:
  struct Payment {
    std::string id;
    std::string contract;
    int64_t amount = 0;  // minor units
    uint64_t journal_seq = 0;  // 0: from a snapshot
  };

  // A journal record that will not be replayed.
  void journal_record(const files::RecordView& record);
  // A record of a snapshot that will not be loaded.
  void snapshot_record(uint8_t type, std::string_view bytes);

  // RECHARGEs lost (refused ones, followed by their cancel, excluded).
  std::vector<Payment> payments() const;
  uint64_t records() const { return records_; }
  uint64_t undecodable() const { return undecodable_; }

  // Logs at error level one line per payment id ("payment id 'x' <fate>:
  // RECHARGE of ..."), then a summary that starts with `what`. Returns the
  // number of payment ids logged.
  size_t log(std::string_view what, std::string_view fate = "lost") const;

 private:
  std::vector<Payment> payments_;
  std::set<uint64_t> cancelled_;               // journal seqs of refused admin records
  std::map<std::string, uint64_t> by_type_;  // record counts by kind, for the summary
  uint64_t records_ = 0;
  uint64_t undecodable_ = 0;
};

}  // namespace tollgate::persist
