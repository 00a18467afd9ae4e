// Turns the loaded configuration into the engine's options, and the two
// steps of a config switch that the daemon's Reloader and tollgate-replay's
// generation switch share, so that replay changes config exactly as a live
// reload does.
// Thread-safety: engine_options_from is a pure function; the switch steps
// follow Engine::create's and Reclaimer's rules (control thread live).
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/engine.h"

namespace tollgate {

// `workers`: data-plane threads (each keeps the expiry heap of its holds).
// A contract's `changes:` become its pending ScheduledTerms (all of them:
// pass config_at(config, now) from config/contract_changes.h to start from
// the terms in force at `now`, as the daemon and the reloader do).
EngineOptions engine_options_from(const Config& config, int workers);

// The engine a reload switches to: built from `options` over `running`, whose
// counters, holds, IDs and contract states it takes over (Engine::create).
// `running` is not changed. Errors: the engine's, one line each.
std::expected<std::unique_ptr<Engine>, std::vector<std::string>> engine_for_reload(const EngineOptions& options,
                                                                                     Reclaimer& reclaimer, Nanos now,
                                                                                     RuntimeState& state,
                                                                                     Engine& running);
// After the switch: once no reader can still hold `old`, the engine then in
// force (`current()`) adopts the entries created on `old` meanwhile, and
// `old` is freed. Takes ownership of `old`.
void retire_engine(Reclaimer& reclaimer, std::function<Engine&()> current, Engine* old, Nanos now);

}  // namespace tollgate
