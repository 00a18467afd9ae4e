#include "app/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

namespace tollgate {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ms_ = std::max<uint64_t>(1, usec / 2000);
}

void SystemdNotifier::send(std::string_view message) {
  if (!enabled_) return;
  const std::string text(message);
  if (int rc = sd_notify(0, text.c_str()); rc < 0)
    spdlog::warn("sd_notify({}) failed: {}", text.substr(0, text.find('\n')), rc);
}

void SystemdNotifier::ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::stopping(std::string_view status) {
  send("STOPPING=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::status(std::string_view status) { send("STATUS=" + std::string(status)); }

void SystemdNotifier::watchdog() { send("WATCHDOG=1"); }

}  // namespace tollgate
