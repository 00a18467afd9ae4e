// Fuzzes the config loader with YAML text, through to the engine. Properties:
//   - the loader returns a Config or a non-empty list of errors, each naming
//     the file, with a line inside the text (0: the whole file) and a reason,
//     ordered by line;
//   - one validation for both paths: a Config the loader accepts builds an
//     engine (Engine::create refusing it means --check-config said OK for a
//     config the daemon then refuses);
//   - a config compared with itself has no differences;
//   - the engine it builds answers a burst of calls (subjects, IDs, holds,
//     huge costs) now and a year later with sane decisions.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/reloader.h"
#include "config/config_diff.h"
#include "fuzz_support.h"

namespace tollgate::fuzz {
namespace {

constexpr std::string_view kFile = "fuzz.yaml";

void check_errors(const std::vector<ConfigError>& errors, std::string_view text) {
  FUZZ_CHECK(!errors.empty(), "a config was refused with no error");
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  int previous = 0;
  for (const ConfigError& e : errors) {
    FUZZ_CHECK(e.file == kFile, "error names another file: " + e.to_string());
    FUZZ_CHECK(e.line >= 0 && e.line <= lines, "error line outside the text (" + std::to_string(lines) +
                                                   " lines): " + e.to_string());
    FUZZ_CHECK(!e.reason.empty(), "error without a reason: " + e.to_string());
    FUZZ_CHECK(e.line >= previous, "errors not ordered by line: " + e.to_string());
    previous = e.line;
  }
}

void run(std::string_view text) {
  auto config = parse_config(text, std::string(kFile));
  if (!config) return check_errors(config.error(), text);
  FUZZ_CHECK(config->file == kFile, "Config::file is " + config->file);
  FUZZ_CHECK(diff_configs(*config, *config).empty(), "a config differs from itself");
  FUZZ_CHECK(restart_only_changes(*config, *config).empty(), "a config needs a restart to become itself");

  EngineOptions options = engine_options_from(*config, 2);
  cap_table_sizes(options);
  Reclaimer reclaimer(4);
  RuntimeState state;
  auto engine = Engine::create(options, reclaimer, kFuzzStart, state);
  FUZZ_CHECK(engine.has_value(), "the loader accepted a config the engine refuses:" + joined(engine.error()));
  const int slot = reclaimer.register_reader();
  const std::vector<std::string> keys = keys_of(*config);
  exercise(**engine, keys, kFuzzStart, reclaimer, slot);
  exercise(**engine, keys, kFuzzStart + 366 * 86'400 * kNanosPerSecond, reclaimer, slot);
  engine->reset();
  reclaimer.collect();
}

}  // namespace
}  // namespace tollgate::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tollgate::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
