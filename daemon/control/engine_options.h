// Turns the loaded configuration into the engine's options.
// Thread-safety: pure function.
#pragma once

#include "config/config.h"
#include "engine/engine.h"

namespace tollgate {

// `workers`: data-plane threads (each keeps the expiry heap of its holds).
// A contract's `changes:` become its pending ScheduledTerms (all of them:
// pass config_at(config, now) from config/contract_changes.h to start from
// the terms in force at `now`, as the daemon and the reloader do).
EngineOptions engine_options_from(const Config& config, int workers);

}  // namespace tollgate
