// Turns the loaded configuration into the engine's options.
// Thread-safety: pure function.
#pragma once

#include "config/config.h"
#include "engine/engine.h"

namespace tollgate {

// `workers`: data-plane threads (each keeps the expiry heap of its holds).
EngineOptions engine_options_from(const Config& config, int workers);

}  // namespace tollgate
