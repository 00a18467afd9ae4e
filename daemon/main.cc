// tollgated: the contract and rate-limit enforcement daemon.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <spdlog/spdlog.h>

#include "app/daemon.h"
#include "config/config_diff.h"
#include "config/config_loader.h"
#include "log/log_format.h"

namespace {

// --check-config FILE [--against RUNNING]: validate offline, optionally show
// what would change relative to another config file.
int check_config(const std::string& file, const std::string& against) {
  auto config = tollgate::load_config_file(file);
  if (!config) {
    for (const auto& e : config.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "%s: %zu problem%s\n", file.c_str(), config.error().size(),
                 config.error().size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: OK (%zu contracts, %zu key classes)\n", file.c_str(), config->contracts.size(),
              config->key_classes.size());
  if (!against.empty()) {
    auto running = tollgate::load_config_file(against);
    if (!running) {
      for (const auto& e : running.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      return 1;
    }
    auto changes = tollgate::diff_configs(*running, *config);
    if (changes.empty()) std::printf("no changes against %s\n", against.c_str());
    for (const auto& c : changes) std::printf("%s\n", c.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tollgated: enforces API-call contracts (rate limits, windows, quotas) over a Unix socket"};
  std::string config_path = "conf/tollgate.yaml";
  std::string check_path;
  std::string against_path;
  app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  app.add_option("--check-config", check_path, "validate FILE, print every problem as file:line: reason, and exit");
  app.add_option("--against", against_path, "with --check-config: list what differs from this (running) config");
  app.set_version_flag("--version", "tollgated 0.1.0");
  std::string recover;
  app.add_option("--recover", recover,
                 "start even though the embedded store cannot be read whole: 'truncate' keeps everything before the "
                 "first damage, 'empty' starts with no state; what is dropped goes to <storage.dir>/discarded/ and "
                 "every payment id lost is logged (see docs/durability.md)")
      ->check(CLI::IsMember({"truncate", "empty"}));
  CLI11_PARSE(app, argc, argv);

  tollgate::configure_logging(tollgate::LogStyle::kText, spdlog::level::info);  // log: in the config may change it
  if (!check_path.empty()) return check_config(check_path, against_path);
  if (!against_path.empty()) {
    std::fprintf(stderr, "--against needs --check-config FILE\n");
    return 2;
  }
  tollgate::DaemonOptions options;
  if (!recover.empty()) options.recover = *tollgate::persist::parse_recover_mode(recover);
  return tollgate::run_daemon(config_path, options);
}
