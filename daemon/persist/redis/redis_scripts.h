// The Lua scripts the Redis store runs, each one atomic step in Redis.
// Every ledger entry is stored under an id unique to one daemon run
// (<run>:<local seq>), so a re-sent entry is never counted twice, and gets a
// global sequence number from INCR, so several daemons never collide.
#pragma once

#include <string>

namespace tollgate::persist::scripts {

// KEYS: ledger, ledger seq. ARGV: (id, lot id, entry) triples.
const std::string& ledger();
// KEYS: the run's applied marks (a sorted set of batch numbers), then
// counter hashes. ARGV: batch number, now (µs), floor, then per hash: op
// count, ttl (ms), ops as (op, field, value) triples, op = i | t | p
// (HINCRBY; TAT = max(stored, now) + value; drop fields under a prefix
// numbered below value). A batch whose number is in the set is a resend and
// is skipped; numbers below `floor` (every batch the daemon had confirmed
// when it sealed this one) are dropped from the set. Exact, not "at or below
// the highest": batches may be applied out of order (one refused and re-sent
// while the next went through, e.g. TRYAGAIN during a cluster slot migration).
const std::string& counters();
// KEYS: payments, lots:<contract>, wallet, lot seq, ledger, ledger seq,
// payment lots. ARGV: payment id, payment record, lot, contract, wallet,
// ledger id, entry, amount. Returns {lot id, 0} for a new payment id, and
// {its lot id, 1} for one Redis already has with the same contract and amount
// (a retry whose first confirmation was lost, or another daemon's recharge);
// an error for one used with another contract or amount.
const std::string& recharge();
// KEYS: status, ledger, ledger seq. ARGV: contract, override, ledger id, entry.
const std::string& status();
// KEYS: actions, ledger, ledger seq. ARGV: the action's field, the action
// ('' = lifted: the field is deleted), ledger id, entry, and for a lift the
// instance expected there ('' = whatever is there). Returns 1 when it
// changed the hash (the entry appended), 0 when a lift found nothing to
// delete — already lifted by another daemon of a fleet, or a newer instance
// on that target that this lift must not remove — and then appends nothing,
// so a fleet's ledger holds one entry per change, not one per daemon.
const std::string& action();
// KEYS: counters hash, ledger, ledger seq. ARGV: field prefix ('' = all), ledger id, entry.
// KEYS may be the counters hash alone (a cluster: the entry goes with the write-behind).
const std::string& reset();

}  // namespace tollgate::persist::scripts
