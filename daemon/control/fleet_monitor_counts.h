// Fleet mode: the monitors' counts summed over the fleet (docs/fleet.md,
// "Monitors on the fleet's counts"). A `volume` monitor of 100,000 calls a
// day must see the fleet's calls, not one node's. Each node keeps counting
// with the workers' plain atomic increments (nothing changes on the CHECK
// path); the monitor runner's sample of a contract is handed here each tick
// (fleet_sample), and FleetLeases, about four times a second, adds this
// node's deltas to the contract's Redis hash P{c:<contract>}:mon (calls,
// scope denials, calls per channel; cumulative, one atomic script per
// contract) and reads the totals back (take_reports / on_reply). The sample
// the monitors see is then this node's own count plus what the other nodes
// added since this node first read the hash — a cumulative counter, as the
// monitors expect (monitor/monitors.h takes deltas between samples). The
// channel counters restart with each config generation, so the others'
// part of a channel restarts with it too.
//
// Every node samples the same sums, so only one node evaluates the monitors
// built on them (volume, scope_probing, night_share): the monitor leader,
// the smallest live node id (FleetLeases' heartbeat). The others keep their
// series up to date and take over when the leader goes.
//
// new_subjects: a node's distinct-user estimate (its HyperLogLog, one per
// contract and period) counts only the users it saw; a user balanced across
// k nodes would be new on each. For a contract with a new_subjects monitor
// the runner hands the HLL in too (fleet_subjects): the register words that
// rose since they were last sent go to Redis with the counts
// (P{c:<contract>}:subj:<period start>, a string of one byte per register,
// merged with a byte-wise max: an HLL union is exact, and a max applied
// twice changes nothing, so a word whose reply was lost is simply sent
// again), and the union comes back. The sample's estimate is that of the
// union merged with this node's own words (which may be newer). Same
// precision and hash on every node (the same build), so the registers line up.
//
// Balance: a node's own account sees only its own debits (every node holds
// the same lots and spends them locally), so its balance is not the fleet's.
// With the counts, the script also answers the fleet's credits left in the
// contract's global pool (cr|in − cr|used − cr|doubt: what the fleet has not
// spent and can still spend; credits in doubt are left out until FLEET
// RESOLVE). fleet_sample replaces the sample's balance by those credits'
// value in minor units: as one account spends its lots oldest first, the
// credits left are the newest ones, so they are valued at the newest lots'
// prices (credits_value), plus the account's wallet. The burn rate the
// monitors derive from the sampled balance is then the fleet's, and balance
// monitors run on the leader only, like the count-based ones. Until the
// first answer the balance is unknown (-1: not evaluated).
//
// Exactly once, or at most once: a report whose reply is lost is counted as
// added (the others may miss those deltas; this node never counts them twice).
//
// Thread-safety: every method on the control loop thread (the runner's
// timer and FleetLeases' replies); a mutex makes leader() and the tests'
// direct calls safe anyway. Plain data; owns nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/money/account.h"
#include "engine/subjects/hyperloglog.h"
#include "monitor/monitors.h"

namespace tollgate {

class FleetMonitorCounts {
 public:
  // The monitor runner, each tick, for each contract it samples: records this
  // node's cumulative counts and replaces them in `s` by the fleet's, and,
  // for a priced contract (`account`), its balance by the fleet's.
  void fleet_sample(ContractSample& s, const Account* account = nullptr);
  // For a contract with a new_subjects monitor, after fleet_sample: queues
  // this node's risen register words of `hll`'s period at `now` and
  // replaces the sample's distinct-user estimate by the fleet's (-1 until
  // the union of this period was read once).
  void fleet_subjects(ContractSample& s, const PeriodHll& hll, Nanos now);

  // A contract's report: the deltas to add (field, delta), fields in Redis' names.
  struct Report {
    std::string contract;
    std::vector<std::pair<std::string, int64_t>> deltas;
    bool priced = false;  // read the fleet's credits left as well (the contract has an account)
    // new_subjects: the register words to merge (index, packed word) into
    // the union of the period starting at `subjects_period` (0: none).
    Nanos subjects_period = 0;
    std::vector<std::pair<uint32_t, uint64_t>> subject_words;
  };
  // The reports due (every contract sampled, none with a report in flight).
  std::vector<Report> take_reports();
  // The answer to `report`: the totals after it was added (field, total);
  // `answered` false when the reply was lost (its deltas count as added);
  // `credits_left` the fleet's credits left (-1: not known; a lost reply keeps the last known).
  void on_reply(const Report& report, bool answered, const std::vector<std::pair<std::string, int64_t>>& totals,
                int64_t credits_left = -1);
  // The answer to `report`'s register words: the union's bytes (one per
  // register) of its period; `answered` false when lost (the words go again).
  void on_subjects_reply(const Report& report, bool answered, std::string_view union_registers);
  // The estimate of `union_registers` (one byte per register, missing
  // ones zero) merged with `words`, at `precision`. Pure.
  static double union_estimate(std::string_view union_registers, const std::vector<std::pair<uint32_t, uint64_t>>& words,
                               int precision);

  // The value in minor units of the newest `credits` credits of `account`'s
  // lots (a spent-oldest-first account's last credits), plus its wallet.
  // Credits beyond the lots this node knows (a recharge made on another
  // daemon, its lot not loaded here yet) are valued at the newest lot's price.
  static int64_t credits_value(const Account& account, int64_t credits);

  // Whether this node evaluates the fleet-count monitors.
  void set_leader(bool leader);
  bool leader() const;
  // Whether a monitor of `kind` is evaluated on fleet counts (only by the leader).
  static bool fleet_kind(MonitorKind kind) {
    return kind == MonitorKind::kVolume || kind == MonitorKind::kScopeProbing || kind == MonitorKind::kNightShare ||
           kind == MonitorKind::kBalance || kind == MonitorKind::kNewSubjects;
  }

 private:
  struct Track {
    const void* generation = nullptr;
    std::map<std::string, uint64_t> local;     // field -> this node's cumulative count (latest sample)
    std::map<std::string, uint64_t> reported;  // field -> the local count up to which deltas went out
    std::map<std::string, int64_t> mine;       // field -> Σ this node's deltas in the totals
    std::map<std::string, int64_t> others;     // field -> total − mine at the latest reply
    std::map<std::string, int64_t> base;       // field -> others when this node started counting them
    bool based = false;                        // a reply came (bases set)
    bool in_flight = false;
    bool priced = false;        // the contract has an account: its credits left are read too
    int64_t credits_left = -1;  // the fleet's, at the latest answer (-1: not known)
    // new_subjects (fleet_subjects): the period counted, the words sent
    // (index -> word), those risen since, and the union read back.
    Nanos subjects_period = 0;
    std::map<uint32_t, uint64_t> words_sent;
    std::map<uint32_t, uint64_t> words_due;
    std::string union_registers;
    bool union_read = false;
  };
  int64_t others_since(const Track& t, const std::string& field) const;

  mutable std::mutex mutex_;
  std::map<std::string, Track> tracks_;
  bool leader_ = true;  // alone until a heartbeat says otherwise
};

}  // namespace tollgate
