// Reads `monitors:` (a contract's list), `monitor_defaults:` (the same list
// for every contract) and `monitor_events:` into monitor/monitor_spec.h's
// types, with one clear error per problem. Used only by the config loader.
// Not thread-safe (one call per load).
#pragma once

#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/map_reader.h"
#include "monitor/monitor_spec.h"

namespace tollgate {

// Reads the list under `key` of `parent` (absent: nothing). `has_channels`:
// whether per: channel can apply (a contract's channel list is not empty;
// true for monitor_defaults, which apply per: channel only where it can).
void read_monitor_list(ErrorSink& errors, const MapReader& parent, std::string_view key, bool has_channels,
                       std::vector<MonitorSpec>& out);

// Every enforce action names a shadow counter limit of each contract it
// applies to (its own monitors, and the monitor_defaults it does not
// override); errors at the action's line. After contracts and defaults are read.
void check_monitor_limits(ErrorSink& errors, const Config& config);

// Reads `monitor_events:`; the file path resolves against `base_dir`.
void read_monitor_events(ErrorSink& errors, const MapReader& root, std::string_view base_dir,
                         MonitorEventsConfig& out);

}  // namespace tollgate
