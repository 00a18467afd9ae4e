// Reads the `call_log:` section (config/call_log_config.h). Used only by the
// config loader; not thread-safe (one reader per load).
#pragma once

#include <string_view>

#include "config/call_log_config.h"
#include "config/map_reader.h"

namespace tollgate {

void read_call_log(ErrorSink& errors, const MapReader& root, CallLogConfig& out, std::string_view base_dir);

}  // namespace tollgate
