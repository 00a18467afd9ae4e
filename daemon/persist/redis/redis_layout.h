// How the daemon's state is laid out in Redis (storage.mode: redis), as pure
// functions: key and field names, the deltas between two observations of a
// limit's state words (what a daemon adds to Redis, never overwrites), and the
// words rebuilt from a key's fields at start-up. Plain values; thread-safe.
//
// Keys (P = storage.redis.prefix, default "tollgate:"):
//   P k:<key>          hash: one key's counters, fields per limit <name>:
//                        <name>|t              token bucket TAT, µs (advanced by a script)
//                        <name>|q|<period id>  quota units used in that period (HINCRBY)
//                        <name>|w|<window>|<slot>  sliding-window units of a slice (HINCRBY)
//   P lots:<contract>  hash: lot id -> lot (amount, unit price, credits, created)
//   P wallet           hash: contract -> wallet after its latest recharge
//   P status           hash: contract -> admin status override
//   P actions          hash: action_field(contract, target) -> the monitor action in force
//   P baselines        hash: contract -> the monitors' learned state (baselines, warm-up, firings;
//                      monitor/monitors.h), rewritten every few minutes and at a clean stop
//                        (a contract image holding that one action; lifted: deleted)
//   P payments         hash: payment id -> recharge record (idempotency)
//   P payment-lots     hash: payment id -> "<contract>|<amount>|<lot id>"
//   P ledger           hash: <run>:<local seq> -> "<global seq>|<lot id>|<entry>"
//   P ledger:seq, P lot:seq, P runs   counters (INCR) for global ledger seqs, lot ids, daemon runs
//   P applied:<run>    the highest counter batch of a daemon run applied (resends are no-ops)
//
// On a Redis Cluster (storage.redis.cluster) every script must touch one hash
// slot, so the keys that hold money and admin state — lots, wallet, status,
// payments, payment-lots, ledger and the seq counters — share one hash tag:
// they are named P{g}<name> (e.g. "tollgate:{g}ledger", "tollgate:{g}lots:acme")
// and live in one slot, on one primary. Counters hashes keep their names
// (P k:<key>) and spread over the slots; the write-behind sends them in
// batches of one slot, each with its own applied mark
// P applied:<run>:{<tag of that slot>}. A standalone/Sentinel Redis keeps the
// untagged names above (no migration between the two layouts).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate::persist {

class RedisKeys {
 public:
  // `cluster`: the Redis Cluster layout (money keys under one hash tag).
  explicit RedisKeys(std::string prefix, bool cluster = false)
      : prefix_(std::move(prefix)), global_(cluster ? prefix_ + "{g}" : prefix_), cluster_(cluster) {}
  const std::string& prefix() const { return prefix_; }
  bool cluster() const { return cluster_; }
  std::string counters(std::string_view key) const { return prefix_ + "k:" + std::string(key); }
  std::string lots(std::string_view contract) const { return global_ + "lots:" + std::string(contract); }
  std::string wallets() const { return global_ + "wallet"; }
  std::string status() const { return global_ + "status"; }
  std::string actions() const { return global_ + "actions"; }
  // The monitors' learned state: contract -> entry (monitor/monitors.h), advisory.
  std::string baselines() const { return global_ + "baselines"; }
  std::string payments() const { return global_ + "payments"; }
  std::string payment_lots() const { return global_ + "payment-lots"; }
  std::string ledger() const { return global_ + "ledger"; }
  std::string ledger_seq() const { return global_ + "ledger:seq"; }
  std::string lot_seq() const { return global_ + "lot:seq"; }
  std::string runs() const { return global_ + "runs"; }
  std::string applied(uint64_t run) const { return prefix_ + "applied:" + std::to_string(run); }
  // The applied mark of a run's batches to one cluster slot (in that slot).
  std::string applied(uint64_t run, int slot) const;
  // A ledger entry's field: unique to one daemon run and its local seq.
  static std::string ledger_id(uint64_t run, uint64_t seq) { return std::to_string(run) + ":" + std::to_string(seq); }
  // A monitor action's field in actions(): one per contract and target (the
  // kind, monitor, channel and shadow limit, as ActiveAction::same_target),
  // so a later stage on the same target replaces it. Every part is written
  // with its length ("<n>:<part>"), so no name can collide with another.
  static std::string action_field(std::string_view contract, uint8_t kind, std::string_view monitor,
                                  std::string_view channel, std::string_view limit);
  // SCAN MATCH patterns for every counters / lots key (glob characters of the prefix escaped).
  std::string counters_pattern() const { return glob_escape(prefix_ + "k:") + "*"; }
  std::string lots_pattern() const { return glob_escape(global_ + "lots:") + "*"; }
  static std::string glob_escape(std::string_view s);

 private:
  std::string prefix_;
  std::string global_;  // prefix of the money keys: P, or P{g} on a cluster
  bool cluster_ = false;
};

// One change of one field of a key's counters hash.
struct FieldDelta {
  enum class Op : char { kIncr = 'i', kTat = 't', kPrune = 'p' };
  Op op = Op::kIncr;
  std::string field;  // kPrune: the field prefix
  // kIncr: units to add (may be negative: a refund). kTat: the daemon's TAT
  // (µs) now. kPrune: drop fields under the prefix numbered below this.
  int64_t value = 0;
  int64_t tat_base = 0;  // kTat: the TAT (µs) Redis already has from this daemon
};

// Appends what changed in one limit's words from `before` (what Redis has
// from this daemon; all zero for a key never flushed) to `after` (now).
// Sealed words produce nothing. Quota and window deltas are unit counts per
// period / slice; a token bucket yields its TAT pair (see tat_advance), and
// nothing when it is full at `now` (Redis' max(stored, now) covers that).
void limit_deltas(LimitType type, std::string_view name, std::span<const uint64_t> before,
                  std::span<const uint64_t> after, Nanos now, std::vector<FieldDelta>& out);

// How far a token-bucket TAT in Redis is advanced (µs) at `now_us` for a
// daemon whose TAT went from `base_us` to `tat_us`: the part of its advance
// still ahead of now. Redis then stores max(stored, now) + this; for one
// daemon that is exactly its own TAT, for several the sum of their debts.
int64_t tat_advance(int64_t base_us, int64_t tat_us, int64_t now_us);

// Merges `d` into a pending delta of the same field (sums increments; a TAT
// keeps the older base and takes the newer TAT; a prune keeps the higher bound).
void coalesce(FieldDelta& pending, const FieldDelta& d);

// The state words of one limit rebuilt from its fields in a counters hash
// (`fields` maps field name -> integer value), starting from `current` (the
// fresh words) for what Redis does not have. nullopt when Redis has nothing
// for the limit.
std::optional<std::vector<uint64_t>> limit_words(LimitType type, std::string_view name,
                                                 const std::unordered_map<std::string, int64_t>& fields,
                                                 std::span<const uint64_t> current);

// How long a counters hash is kept after its latest write (ms): long enough
// for every state it holds to matter (a bucket refilling, a window, a period).
int64_t counters_ttl_ms(const LimitSpec& spec);

}  // namespace tollgate::persist
