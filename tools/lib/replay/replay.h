// tollgate-replay's engine room: runs call-log records through a fresh
// Engine built from a candidate config, on the records' own clock (no
// sleeping), and compares every decision with the one recorded live.
//
// What is replayed: CHECKs (all limits, contracts, holds with their
// expiry, IDs), SETTLEs and RECHARGEs. Prepaid balances start from zero and
// the recorded recharges are applied (each payment id once) on the
// candidate's price ladder. Recorded admin changes that alter decisions
// (SUSPEND/RESUME/TERMINATE, RESET) are applied in both modes. With a
// candidate, the candidate's monitors run on the simulated clock and their
// actions apply to its later decisions; money is also broken down by lot
// price (replay/replay_monitors.h).
// Two modes: a candidate config for the whole stretch, or following the
// log's config generations (replay_log_live): each generation mark switches
// the engine exactly as the daemon's reload did (engine_for_reload and
// retire_engine, control/engine_options.h), and recorded monitor actions
// are put in force and lifted as they were live. With a candidate they are
// ignored (counted): the candidate's own monitors decide there. Holds
// expire at their deadlines with a candidate; following the generations,
// where the live hold timers expired them (kExpire records), since a call
// between a deadline and the timer saw the hold still open.
// Money: for priced contracts the live side's charge per call is the fall
// of the recorded balance since that contract's previous record (recharges
// added back), the candidate's the same on its own balances; the money
// delta is candidate minus live, in minor units (positive: the candidate
// would have charged more).
// Thread-safety: a Replayer has one owner (not thread-safe).
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "calllog/call_record.h"
#include "calllog/segment.h"
#include "config/config.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "engine/runtime_state.h"
#include "replay/replay_group.h"
#include "replay/replay_monitors.h"

namespace tollgate::replay {

// Flips decided by one limit: allowed → denied are named by the candidate's
// deciding limit, denied → allowed by the live one.
struct FlipCounts {
  uint64_t allowed_to_denied = 0;
  uint64_t denied_to_allowed = 0;
  int64_t money_delta_minor = 0;          // of the flipped calls
  std::map<std::string, uint64_t> codes;  // "QUOTA" → calls, both directions
};

struct ContractReport {
  uint64_t calls = 0;
  uint64_t allowed_live = 0;
  uint64_t allowed_candidate = 0;
  FlipCounts flips;
  int64_t live_charged_minor = 0;
  int64_t candidate_charged_minor = 0;
  Nanos first_flip = 0;                        // 0: no flip
  std::map<int64_t, uint64_t> flips_by_hour;   // hour start (ns) → flips
  std::unordered_set<uint64_t> subjects;       // subject hashes with a flipped call
  std::map<std::string, FlipCounts> limits;
  LotBreakdown lots;  // priced contracts: charges by lot price
  int32_t monitor_slot = ReplayMonitors::kUnresolved;  // the contract's place in the Replayer's monitors
};

struct ReplayReport {
  uint64_t calls = 0;  // CHECKs replayed
  uint64_t settles = 0;
  uint64_t recharges = 0;
  uint64_t recharges_repeated = 0;  // payment id seen before: not applied again
  uint64_t segments = 0;
  uint64_t blocks = 0;
  Nanos first_time = 0;
  Nanos last_time = 0;
  double seconds = 0;      // wall time of the replay (reading and deciding; not building the engine)
  double cpu_seconds = 0;  // the same in this thread's CPU time (what a busy machine does not inflate)
  std::map<std::string, ContractReport> contracts;  // by contract key; other keys under "(key classes)"
  std::vector<calllog::SegmentProblem> problems;
  std::vector<std::string> recharge_errors;
  MonitorReports monitors;  // the candidate's monitors that fired, by contract
  uint64_t monitor_ticks = 0;
  // Following the generations: marks applied (the first one included);
  // with a candidate: marks seen and not followed.
  uint64_t generations = 0;
  uint64_t admin_changes = 0;     // status changes and resets applied
  uint64_t holds_expired = 0;     // following: holds expired where the live timers expired them
  uint64_t groups = 0;            // groups of CHECKs decided together (check_all), cut ones included
  uint64_t actions_applied = 0;   // monitor actions put in force or lifted (following the generations)
  uint64_t actions_ignored = 0;   // ... recorded but not applied (a candidate config)
  std::vector<std::string> admin_errors;
  int currency_decimals = 2;      // of the config replayed (the first generation's when following)

  uint64_t allowed_to_denied() const;
  uint64_t denied_to_allowed() const;
  int64_t money_delta_minor() const;
};

class Replayer {
 public:
  // Builds the candidate engine. Errors: the engine's (one line each).
  static std::expected<std::unique_ptr<Replayer>, std::string> create(const Config& candidate, Nanos start);
  // Follows the log's generations from `mark` (a kGeneration record, the one
  // in force at the start): its config is the first engine's, built at the
  // mark's time, and every later mark switches config as a reload does.
  // Errors: the recorded config does not parse or build.
  static std::expected<std::unique_ptr<Replayer>, std::string> create_following(const calllog::CallRecord& mark);

  // Applies one record in log order.
  void apply(const calllog::CallRecord& r);
  // The same for a reader that decodes blocks (calllog::BlockDecoder): a
  // block with `strings` interned strings starts, and then each of its
  // records comes with its key's index among them. Each distinct key of a
  // block is then looked up once (its hash, contract and report), not once
  // per call: what lets replay keep up with the engine.
  void start_block(size_t strings);
  void apply(const calllog::CallRecord& r, uint32_t key_index);
  // After the last record: the monitors' last ticks (the second after it).
  void finish();
  // Set when following the generations and a recorded config did not
  // build: the replay cannot go on exactly (replay_log_live reports it).
  const std::string& error() const { return error_; }
  ReplayReport& report() { return report_; }

 private:
  // What replay keeps per distinct key (any record's: CHECK, RECHARGE, ...).
  struct KeyState {
    uint64_t hash = 0;  // CounterTable::hash_key(key): the engine's lookup
    // Resolved under engine generation `epoch` (a contract or not is the
    // config's word, so only a generation switch changes it; 0: never).
    uint64_t epoch = 0;
    bool is_contract = false;
    ContractReport* report = nullptr;  // the contract's, or the key classes' one
    // The last balance seen, live and candidate (recharges added).
    int64_t live_balance = 0;
    int64_t candidate_balance = 0;
    std::string key;  // the key itself (the index compares it)
  };
  // A slot of the key index: a key's hash and its state (null: empty).
  struct KeySlot {
    uint64_t hash = 0;
    KeyState* state = nullptr;
  };

  explicit Replayer(const Config& candidate);
  KeyState& key_state(std::string_view key);
  void apply(const calllog::CallRecord& r, KeyState& key);
  // `decided`: the decision already made for it (a group's, by check_all).
  void check(const calllog::CallRecord& r, KeyState& key, const Decision* decided = nullptr);
  // Groups (replay/replay_group.h, replay_group.cc): true when `r` was taken
  // as a member of the open group; cut_group replays an incomplete one.
  bool group_member(const calllog::CallRecord& r);
  void start_group(const calllog::CallRecord& r);
  void decide_group();
  void cut_group(std::string_view why);
  void recharge(const calllog::CallRecord& r, KeyState& key);
  void switch_generation(const calllog::CallRecord& mark);
  void admin_change(const calllog::CallRecord& r);
  void advance(Nanos now);
  ContractReport& contract_report(std::string_view key, bool is_contract);

  Reclaimer reclaimer_{4};
  RuntimeState state_;
  std::unique_ptr<Engine> engine_;
  ReplayReport report_;
  Nanos next_sweep_ = 0;
  // False: the engine's hold heap was empty when last asked and no record
  // since could have opened a hold (advance() skips asking it).
  bool holds_open_ = true;
  bool following_ = false;  // follows the log's generations (create_following)
  std::string error_;       // a generation switch that failed: the replay stops with it
  std::set<std::pair<std::string, uint64_t>> payments_;
  // Every key seen: its state (a deque: the block cache below and groups
  // hold pointers) found through an open-addressed index of (hash, state)
  // pairs keyed by the engine's own key hash, which the state keeps for
  // check_with_hash: one hash per key ever, and resolving a key once per
  // block (tens of thousands a block with 100,000 keys) is one probe into a
  // flat array, not a node map's bucket, node and modulo.
  std::deque<KeyState> key_states_;
  std::vector<KeySlot> key_index_;  // a power of two, at most half full
  std::vector<KeyState*> block_keys_;  // the current block's strings → key_states_ (null: not resolved yet)
  uint64_t epoch_ = 1;                 // bumped by each generation switch
  std::unordered_map<std::string, ContractReport*> report_index_;
  std::unique_ptr<ReplayMonitors> monitors_;  // null: the candidate has none
  PendingGroup group_;  // a kGroup's members being collected
};

struct ReplayOptions {
  std::string log_dir;
  Nanos from = INT64_MIN;
  Nanos to = INT64_MAX;
  // Called after each segment: (segments done, segments in all).
  std::function<void(size_t, size_t)> progress;
};

// Replays every record of the log in [from, to] through `candidate`.
// Errors: the log directory cannot be listed, or the engine cannot be built.
// An empty log is an error ("no call-log segments in DIR").
std::expected<ReplayReport, std::string> replay_log(const Config& candidate, const ReplayOptions& options);

// Replays every record of the log in [from, to] following the config
// generations the log marks (the determinism check: through the configs that
// were live, every recorded decision is reproduced). The generation in force
// at `from` is the last mark before it (segments before `from` are read for
// it). Errors: those of replay_log, a log with no generation record before
// its first call ("... give --config"), or a recorded config that does not
// build.
std::expected<ReplayReport, std::string> replay_log_live(const ReplayOptions& options);

// The report as JSON (the `--json` output) and as text.
std::string report_json(const ReplayReport& report);
std::string report_text(const ReplayReport& report, int currency_decimals);

}  // namespace tollgate::replay
