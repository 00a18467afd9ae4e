// The tollgated process, wired: one readable start-up sequence (load config
// → build engine → open storage → services → listeners → workers → control
// loop). The control loop itself, with its periodic work and signal
// handling, is control/control_plane.h; this file only builds the parts
// from the config and connects them.
// Thread-safety: run_daemon() is called once from the main thread.
#pragma once

#include <string>

#include "persist/embedded/recover_mode.h"

namespace tollgate {

// Command-line choices that are not configuration.
struct DaemonOptions {
  // --recover=truncate|empty: what start-up recovery may give up (embedded store).
  persist::RecoverMode recover = persist::RecoverMode::kRefuse;
};

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int run_daemon(const std::string& config_path, const DaemonOptions& options = {});

}  // namespace tollgate
