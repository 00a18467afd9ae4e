// Turns the loaded configuration into the engine's options.
// Thread-safety: pure function.
#pragma once

#include "config/config.h"
#include "engine/engine.h"

namespace tollgate {

EngineOptions engine_options_from(const Config& config);

}  // namespace tollgate
