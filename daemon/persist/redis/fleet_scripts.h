// Fleet mode's keys and Lua scripts (docs/fleet.md): the global pools each
// node leases units from. Every key of one contract carries the hash tag
// {c:<contract>}, so each script touches one slot (Redis Cluster ready).
//
// Keys (P = storage.redis.prefix):
//   P{c:<contract>}:pool   hash, per resource R ("cr" = prepaid credits,
//                          "q:<limit>:<period tag>" = a quota's period,
//                          "tb:<limit>" = a token bucket,
//                          "sw:<limit>:<slice tag>" = a sliding window's slice):
//     R|used     units spent fleet-wide (reported, or leases of dead nodes)
//     R|leased   units on lease at live nodes (Σ R|n|<node>)
//     R|n|<node> units on lease at that node
//     tb:<limit>|tat  the bucket's theoretical arrival time, µs of Redis'
//                clock: free tokens = floor((now + burst×T − max(tat, now)) / T)
//     cr|in      Σ credits of every lot any node knows (raised with max())
//     cr|doubt   credits leased to nodes that died: neither spendable nor lost
//     run|<node>, seq|<node>, last|<node>   the node's run id, last applied
//                sync and its reply (a resent sync answers the same again)
//   P{c:<contract>}:mon    hash: the monitors' counts summed over the fleet,
//                          cumulative (each node adds its deltas): calls,
//                          scope (scope denials), ch:<channel> (calls)
//   P{c:<contract>}:subj:<period start ms>   string: the union of every
//                          node's distinct-user HLL registers of that period
//                          (one byte per register; expires 3 days after
//                          the last node read it)
//   P fleet:nodes          sorted set: node -> last heartbeat (Redis TIME, ms)
// Plain functions of strings; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::persist::fleet {

std::string pool_key(std::string_view prefix, std::string_view contract);
std::string nodes_key(std::string_view prefix);
std::string monitor_key(std::string_view prefix, std::string_view contract);
// The union of the nodes' distinct-user HLL registers of the period starting at `period_start_ms`.
std::string subjects_key(std::string_view prefix, std::string_view contract, int64_t period_start_ms);
// Pub/sub channel of admin changes (status overrides) for the whole fleet.
std::string admin_channel(std::string_view prefix);

// KEYS: pool. ARGV: node, run, seq, fresh (1: the first sync of this run:
// the node's leases of an earlier run are reclaimed first), live nodes,
// resource count, then per resource: name, kind (c | q | t | w), cap (credits: Σ lot
// credits known; quota: its limit; token bucket: "burst/interval ns";
// sliding window: "limit/sub_buckets", free = limit − Σ used + leased of the
// window's slices), spent since the last report, units
// returned, units wanted, units admitted under fail: local since the last
// report (never leased: added to used only; used may then pass the cap, and
// free is then negative: nothing is granted until it is positive again).
// Applies reports and returns, then grants at most
// min(wanted, max(1, floor(free / (2 × live))), free) where free = cap − used
// − leased (− doubt for credits). Returns "g,free,used,leased,doubt;..." per
// resource; a resend of an applied seq returns the stored answer unchanged;
// another run of the same node id is refused (-SUPERSEDED); a node Redis
// has forgotten (restarted empty, or reclaimed while cut off) goes on.
const std::string& sync();
// KEYS: pool. ARGV: node. A dead node's leases: quota units count as spent,
// credits go in doubt. Returns the units moved. Idempotent.
const std::string& reclaim();
// KEYS: nodes. ARGV: node, lease_ttl ms. Marks the node alive (Redis' clock)
// and returns {live nodes, leader, dead node ids...} (dead: no heartbeat for
// lease_ttl; leader: the smallest live node id, which evaluates the monitors
// on fleet-wide counts).
const std::string& heartbeat();
// KEYS: the contract's monitor counts, and (priced contracts) its pool.
// ARGV: (field, delta) pairs, added. Returns {credits left, {field, total,
// ...}}: the hash after the additions, and the fleet's credits left
// (cr|in − cr|used − cr|doubt; -1 without a pool key or before any sync
// wrote cr|in) for the balance monitors.
const std::string& monitor_counts();
// KEYS: the contract's subjects union of one period (one byte per HLL
// register). ARGV: ttl seconds, then (word index, 16 hex digits: the word's
// 8 register bytes, lowest register first) pairs, merged with a byte-wise
// max (idempotent); the ttl is set again on every call (a union expires
// once no node has read it for that long). Returns the union's bytes.
const std::string& subject_registers();
// KEYS: nodes. ARGV: node. Forgets a node once its leases were reclaimed
// everywhere (or at a clean shutdown).
const std::string& forget();
// KEYS: pool. ARGV: spent | returned. In-doubt credits resolved by an
// operator: counted as spent, or made spendable again. Returns the credits moved.
const std::string& resolve();

}  // namespace tollgate::persist::fleet
