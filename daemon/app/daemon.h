// The tollgated process: one readable start-up sequence (load config → build
// engine → listeners → workers), the control-plane loop with its periodic
// work (eviction sweep, memory reclamation) and signal handling.
// Thread-safety: run() is called once from the main thread.
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
