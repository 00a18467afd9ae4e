// Scheduled contract changes (`changes:` under a contract): reading and
// validating them, and folding them into a contract's terms.
//
// The one definition everything else uses: the effective terms of a
// contract at time t are its base terms (the fields written under the
// contract) with every change whose `at` <= t applied, in list order (the
// list is in strictly increasing `at`, which the reader enforces). A change
// replaces exactly the keys it names; `channels`, `purposes` and `limits`
// are replaced as whole lists. The daemon builds its engine from
// config_at(file, now - kScheduleHistory) at start and at every reload and
// applies the terms at `now` (so a change whose instant has passed is simply
// in effect), the engine keeps the later changes as precompiled terms that
// decisions switch to exactly at `at` (engine/contract_schedule.h), and the
// control plane rebuilds the engine the same way once an instant has passed
// (Reloader::apply_due_changes), as a reload does.
//
// A local `at` (no offset) is the wall time in the contract's zone (its
// `timezone:`, else the global one) and means the first instant at which the
// contract's clock shows that time or later: in a DST gap (2027-03-28T02:30
// in Europe/Berlin does not exist) the change takes effect at the transition
// (03:00 CEST = 01:00Z); in an overlap (2027-10-31T02:30 happens twice) at
// the first occurrence (02:30 CEST = 00:30Z).
//
// Pure functions; the reader is used by the config loader only. Thread-safe.
#pragma once

#include <expected>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/map_reader.h"
#include "tollgate/time.h"

namespace tollgate {

// No change pending.
inline constexpr Nanos kNoChange = INT64_MAX;
// How far back an engine's chain of terms reaches: the daemon builds from
// config_at(file, now - kScheduleHistory), so decisions with a `now` read up
// to this long before a rebuild still get the terms at their `now`.
inline constexpr Nanos kScheduleHistory = 60 * kNanosPerSecond;

// Reads `changes:` of the contract read by `contract` into out.changes and
// validates each change against the terms in effect before it (instants in
// strictly increasing order, known keys only, keys that may change on a
// schedule, a ladder that exists, starts before expires, distinct_subjects
// limits unchanged). `zone` is the contract's time zone. Every problem goes
// to `errors` with its line.
void read_contract_changes(ErrorSink& errors, const MapReader& contract, std::string_view zone,
                           const std::set<std::string, std::less<>>& ladders, ContractConfig& out);

// An `at:` value: RFC 3339 with an offset (an absolute instant), or a local
// date-time without one, in `zone` (see the header for gaps and overlaps).
std::expected<Nanos, std::string> parse_change_instant(std::string_view text, std::string_view zone,
                                                       bool* local = nullptr);

// Applies one change to `terms` (the keys it names).
void apply_change(ContractConfig& terms, const ContractChange& change);
// The contract's effective terms at `t`; changes still pending (at > t) stay in .changes.
ContractConfig contract_terms_at(const ContractConfig& contract, Nanos t);
// Every contract's effective terms at `t` (the rest of the config unchanged).
Config config_at(const Config& config, Nanos t);
// The earliest pending `at` over all contracts, kNoChange when none.
Nanos next_change_at(const Config& config);

// The keys a change names, in a fixed order ("status", "limits", ...).
std::vector<std::string> changed_keys(const ContractChange& change);
// "status suspended; limits daily,burst": what it changes, for CONTRACT and EVENTS.
std::string describe_change(const ContractChange& change);

}  // namespace tollgate
