// Reads the commercial part of the configuration: price ladders, contracts
// and key classes (with their limits), cross-checking pricing references.
// Used only by the config loader. Not thread-safe (one call per load).
#pragma once

#include "config/config.h"
#include "config/map_reader.h"

namespace tollgate {

// Fills config.pricing, config.contracts and config.key_classes from the
// top-level map `root`; every problem goes to `errors`.
void read_pricing_contracts_and_key_classes(ErrorSink& errors, const MapReader& root, Config& config);

}  // namespace tollgate
