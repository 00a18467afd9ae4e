// tollgate-replay's monitors and lot prices: the candidate config's monitors
// (`monitors:`, `monitor_defaults:`) evaluated on the simulated clock, their
// actions put in force in memory, and the money of priced contracts broken
// down by the unit price of the lots it came from (README, "Call log and
// tollgate-replay").
//
// Monitors: the live daemon samples every watched contract about once a
// second (control/monitor_runner.h); ReplayMonitors does the same on the
// records' clock, at whole simulated seconds, with the same pure logic
// (monitor/monitors.h) and the same sampling. A tick is skipped when it could
// not change anything: no record since the last tick and no instant the
// monitors wait for (a quarter hour — every zone's hour and day boundaries —,
// an action's expiry, a staged action's `after:`, a cool-down's or a
// warm-up's end). Within a tick only the contracts that had a record since
// the last one are sampled, and of those only the ones whose counters or
// balance moved (those instants and the first tick sample every watched
// contract, so warm-ups start when replay does and every zone's hours roll;
// a balance moved by a hold's expiry alone is seen at the next of them).
// The distinct-user estimate (an HLL read, the one costly input) is taken
// only for contracts with a new_subjects monitor: at the full ticks, and in
// between at most once a simulated minute and only when the calls since the
// last read could have moved it by more than 1/64 (about HLL's own error):
// new_subjects may fire up to a minute later than live would.
// Actions: block_channel, suspend, throttle and enforce are built as the
// daemon builds them (monitor/monitor_actions.h), refused where the daemon
// would refuse them (action_refusal: a throttle past the slots, an enforce of
// a limit that is not a shadow limit), put on the candidate's ContractState
// and its restriction word, throttle slots and enforced mask
// (Engine::sync_restrictions), exactly as the daemon's journaled admin record
// applies them (engine/admin_record.cc), and lifted when their `for:` has
// passed; nothing is journaled. A throttle's bucket starts full when put in
// force and runs on the records' clock. Monitor actions recorded live are not
// used: the candidate's monitors decide.
// Firing times follow the simulated clock, so even a candidate whose monitors
// equal live's fires at the records' instants, within a tick (1 s) of live.
//
// Lots: for each call of a priced contract, the candidate's charge comes
// from its Account's lots (the change of each lot's debited − refunded since
// the last call, times that lot's unit price: exact). The live charge is the
// fall of the recorded balance; how it is split depends on the log:
//  - Logs that record the lot split (CallRecord::lots_known): each call's
//    charge as the engine took it (tollgate/decision.h, LotPrices): its
//    credits under the price of the lots they came from, a call from two
//    prices under both; past two prices, the first price's credits under it
//    and the others' money under price 0 ("mixed"). A HOLD's charge is
//    recorded the same way, and a SETTLE CANCEL of it (matched by its ID)
//    gives each price back its credits and money (a negative line share);
//    the candidate's refund of that SETTLE is given back the same way, at
//    the SETTLE (the candidate's lots as they moved), so that a refund is
//    never netted into the next call on either side.
//    What the balance fell by beyond the calls' charges and those refunds
//    goes under price -1 ("other"): holds the live timer cancelled on expiry,
//    lots that expired, a CANCEL after its lot expired (the credits were
//    forfeited: the balance did not rise), a balance another worker's call
//    moved between the charge and its read.
//  - Older logs (lots_known false): the fall is put under the price
//    fall / COST when that divides exactly (a call charged within one lot)
//    and under price 0 ("mixed": it crossed into a lot of another price, or
//    a cancelled hold's refund was netted in) otherwise.
// Totals stay exact in minor units either way.
//
// Thread-safety: one owner (the Replayer); not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "calllog/call_record.h"
#include "config/config.h"
#include "engine/engine.h"
#include "engine/runtime_state.h"
#include "monitor/monitors.h"

namespace tollgate::replay {

// One action a candidate's monitor took.
struct MonitorActionTaken {
  std::string action;   // "block_channel", "suspend", "throttle", "enforce", "event"
  std::string channel;  // per: channel — the channel it measured (and blocks)
  Nanos at = 0;
  Nanos until = 0;      // 0 for event
  bool applied = false; // put in force on the candidate's later decisions (every do: but event)
  std::string refused;  // why the daemon would have refused it (not applied), e.g. a 5th throttle
};

// What one monitor of one contract did over the replay.
struct MonitorReport {
  uint64_t fired = 0;
  uint64_t cleared = 0;
  Nanos first_fired = 0;  // 0: never
  Nanos last_fired = 0;
  std::string first_channel;
  std::string first_measure;  // e.g. "calls_day"
  double first_value = 0;
  double first_threshold = 0;
  std::vector<MonitorActionTaken> actions;  // in order
};

// contract → monitor name → report.
using MonitorReports = std::map<std::string, std::map<std::string, MonitorReport>>;

class ReplayMonitors {
 public:
  // Takes the candidate's monitors (each contract's own, then the defaults
  // it does not override, as the daemon does) and their zones. Firings are
  // written into `out`, which must outlive this object.
  ReplayMonitors(const Config& candidate, MonitorReports& out);
  bool empty() const { return specs_.empty(); }

  // Called before each record at `now` (records in time order; one a little
  // out of order is seen by the next tick, never by an earlier one): runs every
  // tick due at or before `now`, then notes that a record follows. Cheap when
  // no tick is due (a compare). `engine` and `state` are the candidate's.
  void at(Nanos now, Engine& engine, RuntimeState& state) {
    if (now >= next_due_) run(now, engine, state);
    if (!dirty_) {  // the first record since the last tick: the daemon's next tick would see it
      dirty_ = true;
      busy_tick_ = grid_after(now > last_tick_ ? now : last_tick_);  // never back in time
      if (busy_tick_ < next_due_) next_due_ = busy_tick_;
    }
  }
  // A record of `key` was applied: its contract is sampled at the next tick.
  // `slot` caches the lookup (start at kUnresolved; kept by the caller per contract).
  static constexpr int32_t kUnresolved = -2;
  void touch(int32_t& slot, std::string_view key) {
    if (slot == kUnresolved) slot = slot_of(key);
    if (slot >= 0 && !specs_[static_cast<size_t>(slot)].touched) {
      specs_[static_cast<size_t>(slot)].touched = true;
      touched_.push_back(static_cast<uint32_t>(slot));
    }
  }
  void touch(std::string_view key) {
    int32_t slot = kUnresolved;
    touch(slot, key);
  }
  // The end of the log: the ticks the daemon would run in the second after
  // the last record (so that the last calls are seen).
  void finish(Nanos last, Engine& engine, RuntimeState& state);

  uint64_t ticks() const { return ticks_; }  // ticks evaluated (for tests and the bench)

 private:
  struct Watched {  // one contract with monitors
    std::string key;
    std::string zone;
    std::vector<MonitorSpec> specs;
    uint64_t last_total = UINT64_MAX;  // calls + scope denials + channel calls at the last sample
    int64_t last_balance = INT64_MIN;
    bool touched = false;  // a record since the last tick
    bool needs_subjects = false;  // a new_subjects monitor reads the distinct-user estimate
    double subjects = -1;         // that estimate, read at `subjects_at`
    Nanos subjects_at = INT64_MIN;
    uint64_t subjects_calls = 0;  // calls when it was read
  };
  static Nanos grid_after(Nanos t);
  int32_t slot_of(std::string_view key) const;  // index in specs_, or -1
  void run(Nanos now, Engine& engine, RuntimeState& state);
  void tick(Nanos now, bool full, Engine& engine, RuntimeState& state);
  void carry_out(const MonitorOutcome& o, const Watched& w, Engine& engine, RuntimeState& state);
  void lift_expired(Nanos now, Engine& engine, RuntimeState& state);
  void wake_at(Nanos t) { wakes_.insert(t); }

  MonitorReports& out_;
  std::vector<Watched> specs_;
  std::unordered_map<std::string, uint32_t> slots_;  // contract key → index in specs_
  std::vector<uint32_t> touched_;                    // indices with `touched` set
  Monitors monitors_;
  std::vector<ContractSample> samples_;
  std::vector<Monitors::SpecsOf> sample_specs_;
  std::vector<std::pair<std::string, ActiveAction>> in_force_;  // contract, action
  std::set<Nanos> wakes_;  // instants a tick must run at even without records (rounded up to the grid)
  Nanos last_tick_ = INT64_MIN;
  Nanos next_due_ = INT64_MIN;  // the first tick runs at the first record
  Nanos next_quarter_ = INT64_MIN;
  Nanos busy_tick_ = INT64_MAX;  // dirty_: the whole second after the first record since the last tick
  bool dirty_ = false;  // records were applied since the last tick
  bool started_ = false;
  uint64_t ticks_ = 0;
};

// The money of one unit price, live and candidate.
struct LotCounts {
  uint64_t live_calls = 0;  // calls charged (a call charged from lots of two prices counts under both)
  uint64_t candidate_calls = 0;
  int64_t live_credits = 0;
  int64_t candidate_credits = 0;
  int64_t live_minor = 0;
  int64_t candidate_minor = 0;
};

// One priced contract's charges by lot price (the unit price; 0: not
// attributable to one price, -1: no call's charge; see the file comment).
class LotBreakdown {
 public:
  static constexpr int64_t kMixed = 0;
  static constexpr int64_t kOther = -1;

  // One CHECK `live` (its cost and, when recorded, its lot split): the live
  // and candidate balance falls computed by the Replayer (0 when that side
  // is unpriced). Looks the candidate's account up once, in `state`.
  void charge(RuntimeState& state, const calllog::CallRecord& live, int64_t live_charge, int64_t candidate_charge);
  // A SETTLE of hold `id_hash` of this contract; no call counts. Live: a
  // CANCEL of a hold whose split was recorded gives its credits back to
  // their prices; returns that money (0: none known), by which the live
  // balance rose. Candidate: `candidate_refund` is what the candidate's
  // settle raised its balance by, given back to the prices of the lots it
  // went to. The Replayer takes both out of the next call's balance fall.
  int64_t settle(uint64_t id_hash, bool commit, int64_t candidate_refund);
  // The candidate's account of contract `key` (looked up once; null: unpriced).
  const Account* account(RuntimeState& state, std::string_view key);
  const std::map<int64_t, LotCounts>& by_price() const { return by_price_; }

 private:
  // A live HOLD's recorded charge, until its SETTLE (or, once its deadline is
  // a minute past, forgotten: the live timer settled it).
  struct LiveHold {
    LotPrices prices = LotPrices::kNone;
    int64_t cost = 0;
    int64_t price = 0;
    int64_t credits = 0;
    int64_t rest = 0;
    Nanos deadline = 0;
  };
  // `sign` × the split of `h` into the live counts; returns its money.
  int64_t live_split(const LiveHold& h, int sign);
  void live_inferred(int64_t cost, int64_t live_charge);
  // `call`: a call's charge (counted as a call under each price it took from).
  void candidate(const Account& account, int64_t charge, bool call);
  std::map<int64_t, LotCounts> by_price_;
  const Account* account_ = nullptr;
  bool looked_up_ = false;
  std::vector<int64_t> net_;  // per lot: debited − refunded at the last call
  uint32_t low_ = 0;          // every lot below was empty at the last call
  std::unordered_map<uint64_t, LiveHold> live_holds_;  // by ID hash
  size_t purge_at_ = 1024;  // live_holds_ size at which expired ones are dropped
};

// The text of a contract's monitors and lots (report_text; the JSON is in
// replay/replay_extras_json.h, which only the library includes).
std::string monitors_text(const std::map<std::string, MonitorReport>& monitors);
std::string lots_text(const std::map<int64_t, LotCounts>& lots, int currency_decimals);

}  // namespace tollgate::replay
