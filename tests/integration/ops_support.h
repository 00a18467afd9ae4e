// Helpers for the operations tests (paths, socket groups, systemd notify,
// timeouts, logs): start tollgated with a chosen working directory and
// environment, and wait on conditions with a deadline.
// Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "support/eventually.h"  // eventually(), used by every ops test

namespace tollgate::testing {

// A tollgated process started from `cwd` with extra environment entries
// ("NAME=value"); stdout and stderr go to `log_path`. SIGKILLed on destruction
// if it still runs.
class OpsDaemon {
 public:
  OpsDaemon(const std::string& config, const std::string& cwd, const std::string& log_path,
            const std::vector<std::string>& env = {});
  ~OpsDaemon();
  // Waits until `socket` answers PING (false if the process exited first or
  // `timeout_ms` passed).
  bool wait_ping(const std::string& socket, int timeout_ms = 10000);
  // Waits for the exit (at most timeout_ms, then SIGKILL); the exit status or 128+signal.
  int wait_exit(int timeout_ms = 10000);
  int stop(int signal = 15, int timeout_ms = 10000);
  bool running();
  int pid() const { return pid_; }
  std::string log() const;

 private:
  std::string log_path_;
  int pid_ = -1;
  int status_ = -1;
};

}  // namespace tollgate::testing
