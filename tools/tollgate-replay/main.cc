// tollgate-replay: runs a recorded call log (call_log:) through a candidate
// config and reports every decision that would have gone the other way, by
// contract and limit, with the money it would have changed (README, "Call
// log and tollgate-replay"). Without --config it follows the configs the
// log recorded (the determinism check: nothing should flip).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "config/config_loader.h"
#include "config/units.h"
#include "replay/replay.h"

namespace {

// An instant (ISO-8601 with offset) or Unix seconds.
bool parse_time(const std::string& text, tollgate::Nanos& out, std::string& why) {
  if (auto t = tollgate::parse_instant(text)) {
    out = *t;
    return true;
  }
  if (auto s = tollgate::parse_integer(text); s && *s >= 0 && *s < 9'000'000'000) {
    out = *s * tollgate::kNanosPerSecond;
    return true;
  }
  why = "'" + text + "' is neither an instant like 2026-12-01T00:00:00Z nor Unix seconds";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tollgate-replay: what would a candidate config have decided on recorded traffic?"};
  std::string config_path, log_dir, from_text, to_text;
  bool json = false;
  app.add_option("--config", config_path,
                 "the candidate configuration (YAML); omitted: follow the config generations the log recorded "
                 "(reloads, monitor actions), which reproduces every recorded decision");
  app.add_option("--log", log_dir, "the call log's directory (call_log.dir)")->required();
  app.add_option("--from", from_text, "first instant to replay (ISO-8601 or Unix seconds)");
  app.add_option("--to", to_text, "last instant to replay (ISO-8601 or Unix seconds)");
  app.add_flag("--json", json, "print the report as JSON");
  CLI11_PARSE(app, argc, argv);

  tollgate::replay::ReplayOptions options;
  options.log_dir = log_dir;
  std::string why;
  if (!from_text.empty() && !parse_time(from_text, options.from, why)) {
    fmt::print(stderr, "tollgate-replay: --from: {}\n", why);
    return 2;
  }
  if (!to_text.empty() && !parse_time(to_text, options.to, why)) {
    fmt::print(stderr, "tollgate-replay: --to: {}\n", why);
    return 2;
  }
  std::optional<tollgate::Config> candidate;
  if (!config_path.empty()) {
    auto config = tollgate::load_config_file(config_path);
    if (!config) {
      for (const auto& e : config.error())
        fmt::print(stderr, "{}\n", e.to_string());
      return 2;
    }
    candidate = std::move(*config);
  }
  if (::isatty(STDERR_FILENO)) {
    options.progress = [](size_t done, size_t all) {
      const size_t width = 30, filled = all == 0 ? width : done * width / all;
      fmt::print(stderr, "\r[{}{}] {}/{} segments", std::string(filled, '#'), std::string(width - filled, ' '), done,
                 all);
      if (done == all) fmt::print(stderr, "\n");
    };
  }
  auto report = candidate ? tollgate::replay::replay_log(*candidate, options)
                          : tollgate::replay::replay_log_live(options);
  if (!report) {
    fmt::print(stderr, "tollgate-replay: {}\n", report.error());
    return 1;
  }
  if (json) {
    fmt::print("{}\n", tollgate::replay::report_json(*report));
  } else {
    fmt::print("{}", tollgate::replay::report_text(*report, report->currency_decimals));
  }
  for (const auto& p : report->problems) fmt::print(stderr, "tollgate-replay: {}\n", p.text());
  return 0;
}
