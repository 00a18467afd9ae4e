// Fuzzes live reload: two configs from the input (YAML texts separated by a
// NUL byte), the first started as the running engine through the Reloader
// (with money recharged and a burst of calls: subjects, IDs, holds), the
// second applied with reload() as RELOAD/SIGHUP do. Properties:
//   - a rejected reload gives errors and leaves the running engine untouched:
//     the same engine answers every PEEK exactly as before, its state can be
//     walked as a checkpoint does, and it keeps serving;
//   - an accepted reload keeps Σ ledger == balance, its engine serves the
//     keys of both configs, and reloading the first config again (which built
//     an engine from scratch) is accepted too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/reloader.h"
#include "fuzz_support.h"

namespace tollgate::fuzz {
namespace {

constexpr Nanos kSecond = kNanosPerSecond;

// Reads what a checkpoint reads from an engine (the embedded store's walk).
void walk_state(Engine& engine, Nanos now) {
  int64_t members = 0;
  engine.for_each_distinct_set([&](const std::string&, const std::string&, DistinctSubjects& set) {
    members += set.count(now);
  });
  engine.for_each_subject_estimate([](const std::string&, PeriodHll&) {});
  (void)engine.export_holds();
  (void)members;
}

void run(std::string_view input) {
  const size_t cut = input.find('\0');
  if (cut == std::string_view::npos) return;
  const std::string_view first_text = input.substr(0, cut);
  std::string_view second_text = input.substr(cut + 1);
  second_text = second_text.substr(0, second_text.find('\0'));

  const std::string path = scratch().clear() + "/tollgate.yaml";
  write_file(path, first_text);
  auto first = load_config_file(path);
  if (!first) return;  // the config target checks refusals
  EngineOptions options = engine_options_from(*first, 1);
  cap_table_sizes(options);
  Reclaimer reclaimer(8);
  RuntimeState state;
  Nanos now = kFuzzStart;
  auto built = Engine::create(options, reclaimer, now, state);
  if (!built) return;  // the config target reports a loader/engine disagreement
  Reloader reloader(path, *first, std::move(*built), reclaimer, state, 1);
  ContractAdmin admin([&reloader]() -> Engine& { return reloader.current(); }, state);
  const int slot = reclaimer.register_reader();

  const std::vector<std::string> first_keys = keys_of(*first);
  for (const auto& [key, contract] : first->contracts)
    if (!contract.pricing.empty()) (void)admin.recharge(key, "100000", "pay-" + key, 0, now);
  exercise(reloader.current(), first_keys, now, reclaimer, slot);
  check_money(state, admin, now, "before the reload");

  write_file(path, second_text);
  auto second = parse_config(second_text, path);
  std::vector<std::string> all_keys = first_keys;
  if (second)
    for (auto& key : keys_of(*second)) all_keys.push_back(std::move(key));

  now += kSecond;
  Engine* running = &reloader.current();
  const std::vector<PeekAnswer> before = peek_all(*running, all_keys, now, reclaimer, slot);
  const ReloadResult result = reloader.reload(now);
  if (!result.ok) {
    FUZZ_CHECK(!result.errors.empty(), "a reload was rejected without an error");
    FUZZ_CHECK(&reloader.current() == running, "a rejected reload replaced the running engine");
    const std::vector<PeekAnswer> after = peek_all(*running, all_keys, now, reclaimer, slot);
    for (size_t i = 0; i < before.size(); ++i)
      FUZZ_CHECK(before[i] == after[i], "a rejected reload changed what the running engine answers for " +
                                            all_keys[i / 2] + ": " + before[i].to_string() + " -> " +
                                            after[i].to_string() + joined(result.errors));
    walk_state(*running, now);
    exercise(*running, first_keys, now, reclaimer, slot);
    walk_state(*running, now);
    check_money(state, admin, now, "after a rejected reload");
  } else {
    FUZZ_CHECK(second.has_value(), "reload accepted a config parse_config refuses");
    reclaimer.collect();  // the old engine goes; the new one adopts its entries
    walk_state(reloader.current(), now);
    exercise(reloader.current(), all_keys, now, reclaimer, slot);
    walk_state(reloader.current(), now);
    check_money(state, admin, now, "after an accepted reload");

    now += kSecond;
    write_file(path, first_text);
    const ReloadResult back = reloader.reload(now);
    FUZZ_CHECK(back.ok, "reloading the first config (it started an engine) was rejected:" + joined(back.errors));
    reclaimer.collect();
    walk_state(reloader.current(), now);
    exercise(reloader.current(), all_keys, now, reclaimer, slot);
    check_money(state, admin, now, "after reloading the first config");
  }
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
