// Scheduled contract changes in the engine: a contract's pending changes are
// precompiled, when the engine is built, into a chain of successor policies
// (Policy::next, each in force from its Policy::effective_from), so that a
// decision at `now` uses exactly the terms in force at `now` — base.terms_at(now)
// — whether or not the control plane has rebuilt the engine yet.
//
// State layout: every policy of a chain interprets the same entry words. A
// successor's limit that keeps the state of a limit of the terms just before
// it (same name, type and number of words: same_limit_state, the rule a
// reload uses) shares that limit's words; any other limit gets words of its
// own appended after all earlier ones, initialized with the entry. So a
// change carries counters over exactly as a reload making the same change
// would (kept when same_limit_state, fresh otherwise), and the base policy's
// word_count covers the whole chain.
//
// Workers deciding while the switch happens: the chain is immutable once the
// engine is published (release store of the engine pointer; next_at and
// next are plain fields read after that acquire), so the check on the
// decision path is one load of an immutable field and a compare with `now`.
// Two workers whose `now` straddle `at` decide with different terms over the
// same words: each charge is a CAS on words both policies read the same way
// (shared limits) or that only one policy reads (its own limits), so neither
// sees a torn or foreign state; the one with now < at may still charge a
// limit the change removed, which a reload racing a CHECK allows too. The
// control plane later rebuilds the engine from the terms at its `now`
// (Reloader::apply_due_changes): that is a reload, with its hand-over
// (statuses, ladders, entries migrated by adopt_entries, which copies the
// words of the terms in force at `now`).
//
// Status: in a contract with a chain, the configured status of the terms in
// force counts unless an admin override is (the precedence of a reload:
// apply_config_status); the state's status word follows at the rebuild.
//
// History: an engine is built from the file's terms at now - kScheduleHistory
// (config/contract_changes.h), so its chain also holds the changes of the
// last minute, and create()'s hand-over applies the terms at `now`. A worker
// that read its clock just before an instant and decides just after the
// control plane's rebuild (its `now` older than the rebuild's) still gets the
// terms at its own `now`: exact for any `now` within that minute.
//
// Pure logic, no clock. attach_schedule runs while an engine is built (one
// thread); the rest is thread-safe reads of immutable policies.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "engine/policy.h"
#include "engine/policy_compiler.h"
#include "engine/scheduled_terms.h"
#include "tollgate/time.h"

namespace tollgate {

// Compiles `changes` (in order of instant) into the chain after `base`, the
// policy compiled from `spec` (its rules, per-subject policy and distinct
// limits already attached), and widens every policy of the chain to the
// shared word count. An error message, or empty.
std::string attach_schedule(Policy& base, const PolicySpec& spec, const std::vector<ScheduledTerms>& changes,
                            const PolicyDefaults& defaults);

// Initializes the words of every limit of base's chain (a new entry).
void init_schedule_words(const Policy& base, std::atomic<uint64_t>* words, Nanos now);

// The status a call decided with `terms` sees: in a contract with a chain its
// configured status unless an admin override is in force; else the state's.
ContractStatus status_under(const Policy& terms);

}  // namespace tollgate
