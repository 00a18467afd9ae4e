// Tells systemd how the daemon is doing (Type=notify), through libsystemd's
// sd_notify: READY=1 once storage is recovered and the sockets answer,
// STOPPING=1 when a stop signal arrives, WATCHDOG=1 from the control loop
// while WatchdogSec= is set, and STATUS= lines for `systemctl status`.
// Without NOTIFY_SOCKET in the environment (not started by systemd) every
// call does nothing.
// Thread-safety: call from the main (control-loop) thread only.
#pragma once

#include <cstdint>
#include <string_view>

namespace tollgate {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC (sd_watchdog_enabled); the
  // environment is left as it is (child processes are not ours to spawn).
  SystemdNotifier();

  bool enabled() const { return enabled_; }
  // How often to send WATCHDOG=1: half of WATCHDOG_USEC, in ms (at least
  // 1); 0 when systemd asked for no watchdog.
  uint64_t watchdog_interval_ms() const { return watchdog_ms_; }

  void ready(std::string_view status);
  void stopping(std::string_view status);
  void status(std::string_view status);
  void watchdog();

 private:
  void send(std::string_view message);

  bool enabled_ = false;
  uint64_t watchdog_ms_ = 0;
};

}  // namespace tollgate
