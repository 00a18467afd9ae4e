// The tollgated process: one readable start-up sequence (load config → build
// engine → listeners → workers), the control-plane loop with its periodic
// work (eviction sweep, memory reclamation) and signal handling.
// Thread-safety: run() is called once from the main thread.
#pragma once

#include <string>

namespace tollgate {

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int run_daemon(const std::string& config_path);

}  // namespace tollgate
