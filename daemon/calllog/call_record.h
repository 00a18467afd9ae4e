// One entry of the call log (README, "Call log and tollgate-replay"): a CHECK
// as it was decided, a SETTLE of a hold, an admin RECHARGE, a config
// generation's mark, or an admin change that alters decisions (status,
// counter reset, monitor action). Strings are
// views (into a worker buffer, a decoded block or the caller's input): a
// CallRecord owns nothing and is only valid as long as what it points into.
// Plain value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string_view>

#include "tollgate/decision.h"
#include "tollgate/time.h"

namespace tollgate::calllog {

// Stored values: never renumber, only append.
enum class RecordKind : uint8_t {
  kCheck = 1,     // a CHECK (PEEK is not logged)
  kSettle = 2,    // SETTLE <key> <id> COMMIT|CANCEL that found an open hold
  kRecharge = 3,  // RECHARGE <key> <amount>: cost = amount in minor units, id_hash = payment id's hash
  // Kinds from here on are stored as "extended" kinds (calllog/block_codec.h);
  // segments written before them read as before.
  kGeneration = 4,  // a config generation starts: cost = its number, key = the config file, text = its YAML
  kStatus = 5,      // SUSPEND/RESUME/TERMINATE: key = contract, cost = the ContractStatus override
  kReset = 6,       // RESET: key = the key, limit = the limit (empty: every limit)
  kAction = 7,      // a monitor action put in force (allowed) or lifted: key = contract, cost =
                    // MonitorActionKind, limit = the monitor, channel = the channel blocked
  kExpire = 8,      // a worker's hold timer settled expired holds: cost = how many (at most; earliest first)
  kGroup = 9,       // the next `cost` records are kCheck records decided together, all-or-nothing
                    // (Engine::check_all: MULTI/EXEC, Envoy RLS; calllog/group_hook.h); key = the first member's
};
inline constexpr uint8_t kLastRecordKind = 9;

struct CallRecord {
  RecordKind kind = RecordKind::kCheck;
  Nanos time = 0;
  std::string_view key;
  std::string_view channel;  // empty: none given
  std::string_view purpose;  // empty: none given
  int64_t cost = 1;          // kRecharge: the amount (minor units)
  // Privacy: the SUBJECT itself is never stored, only this hash (0: no
  // SUBJECT). Replay stands the hash in for the subject: distinct-subject
  // caps and per-subject limits only need equality. On the CHECK path the
  // hash is not taken by the worker: the raw SUBJECT (and ID) bytes are
  // copied into the worker's ring, in the daemon's own memory like the
  // request they came from, and the writer hashes them when it collects
  // the ring (calllog/worker_buffer.h), before anything is encoded: the
  // subject never reaches a block, a segment or the disk unhashed.
  uint64_t subject_hash = 0;
  uint64_t id_hash = 0;  // 0: no ID (kRecharge: the payment id)
  int64_t hold_ms = -1;  // -1: no HOLD
  int64_t wait_ms = -1;  // -1: no WAIT
  // The live decision (kCheck); kSettle: `allowed` is COMMIT (true) or CANCEL.
  bool allowed = false;
  Code code = Code::kUnknown;
  std::string_view limit;  // the deciding limit; empty when none
  int64_t balance = -1;    // kCheck: the live decision's balance (minor units); -1 without pricing
  // kCheck of a priced contract (balance >= 0): what the call was charged by
  // the unit price of the lots its credits came from (tollgate/decision.h,
  // LotPrices and LotCharge; the three words count only when lot_prices is
  // not kNone). lots_known false: not recorded — a log written before the
  // split was (replay then infers it from the balance; README, "Money by
  // lot price").
  bool lots_known = false;
  LotPrices lot_prices = LotPrices::kNone;
  int64_t lot_price = 0;
  int64_t lot_credits = 0;
  int64_t lot_rest = 0;
  std::string_view text;   // kGeneration: the config's YAML (written by the writer, never through a worker's buffer)
  // Not stored: the config generation of the engine that decided the record
  // (EngineOptions::generation), which places it after that generation's
  // mark (calllog/call_log.h, "Generations"). Decoded records carry 0.
  uint32_t generation = 0;
};

// The hash a SUBJECT or an ID is logged as (xxh3, never 0: 0 means "none").
uint64_t log_hash(std::string_view text);

}  // namespace tollgate::calllog
