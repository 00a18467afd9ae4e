#include "config/contract_reader.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "config/contract_changes.h"
#include "config/limit_reader.h"
#include "config/monitor_reader.h"
#include "config/units.h"

namespace tollgate {
namespace {

// Reads one ladder's steps; returns false (after reporting) when unusable.
bool read_ladder(ErrorSink& errors, const MapReader::Entry& entry, const std::string& path, PriceLadderConfig& ladder) {
  const size_t errors_before = errors.count();
  std::map<int64_t, int> seen;  // prepay_from → line
  size_t index = 0;
  for (const YAML::Node& item : sequence_items(errors, entry.value, path, entry.key_line)) {
    const MapReader step(errors, item, path + "[" + std::to_string(index++) + "]", {"prepay_from", "unit_price"},
                         line_of(item, entry.key_line));
    if (!step.is_map()) continue;
    PriceStepConfig price{0, 0, step.line()};
    for (std::string_view field : {"prepay_from", "unit_price"}) {
      if (step.find(field) == nullptr) errors.add(step.line(), step.path_of(field) + ": is required");
    }
    const bool from_ok = step.read_integer("prepay_from", price.prepay_from, 0, ConfigDefaults::kMaxCount);
    step.read_integer("unit_price", price.unit_price, 1, ConfigDefaults::kMaxCount);
    if (!from_ok) continue;
    if (auto [it, inserted] = seen.emplace(price.prepay_from, step.line()); !inserted) {
      step.error(*step.find("prepay_from"), "duplicate prepay_from " + std::to_string(price.prepay_from) +
                                                " (first at line " + std::to_string(it->second) + ")");
      continue;
    }
    ladder.steps.push_back(price);
  }
  if (errors.count() != errors_before) return false;
  if (!seen.contains(0)) {
    errors.add(entry.key_line, path + ": a price ladder needs a step with prepay_from: 0");
    return false;
  }
  std::sort(ladder.steps.begin(), ladder.steps.end(),
            [](const PriceStepConfig& a, const PriceStepConfig& b) { return a.prepay_from > b.prepay_from; });
  return true;
}

// `pricing.lot_validity`: whole days ("365d": calendar days in each
// contract's zone) or an exact duration in h, m, s, ms, us or ns; > 0.
void read_lot_validity(ErrorSink& errors, const MapReader& pricing, const MapReader::Entry& entry, Config& config) {
  config.lot_validity_line = entry.key_line;
  const std::string path = pricing.path_of(entry.key);
  if (!entry.value.IsScalar()) {
    errors.add(entry.key_line, path + ": expected a validity like 365d or 36h");
    return;
  }
  const std::string text = entry.value.Scalar();
  auto duration = parse_duration(text);
  if (!duration) {
    errors.add(entry.key_line, path + ": " + duration.error());
    return;
  }
  if (*duration <= 0) {
    errors.add(entry.key_line, path + ": must be longer than 0, got '" + text + "'");
    return;
  }
  if (text.ends_with('d')) {
    const int64_t days = *duration / (24 * 3'600 * kNanosPerSecond);
    if (days > kMaxLotValidityDays) {
      errors.add(entry.key_line, path + ": at most " + std::to_string(kMaxLotValidityDays) + "d, got '" + text + "'");
      return;
    }
    config.lot_validity = LotValidity{.days = days, .fixed = 0};
  } else {
    if (*duration > kMaxLotValidityDays * 24 * 3'600 * kNanosPerSecond) {
      errors.add(entry.key_line, path + ": at most " + std::to_string(kMaxLotValidityDays) + "d, got '" + text + "'");
      return;
    }
    config.lot_validity = LotValidity{.days = 0, .fixed = *duration};
  }
}

// Reads `pricing:`; returns every ladder name declared, valid or not, so
// references to a broken ladder are not reported twice. `lot_validity` is a
// setting of the section, not a ladder.
std::set<std::string, std::less<>> read_pricing(ErrorSink& errors, const MapReader& root, Config& config) {
  std::set<std::string, std::less<>> declared;
  const MapReader::Entry* entry = root.find("pricing");
  if (entry == nullptr) return declared;
  const MapReader pricing(errors, entry->value, "pricing", {}, entry->key_line);
  for (const MapReader::Entry& ladder_entry : pricing.entries()) {
    if (ladder_entry.key == "lot_validity") {
      read_lot_validity(errors, pricing, ladder_entry, config);
      continue;
    }
    declared.insert(ladder_entry.key);
    const std::string path = pricing.path_of(ladder_entry.key);
    if (!is_valid_name(ladder_entry.key)) {
      errors.add(ladder_entry.key_line, path + ": '" + ladder_entry.key +
                                            "' is not a valid name (use letters, digits, _ . -)");
      continue;
    }
    PriceLadderConfig ladder{ladder_entry.key, {}, ladder_entry.key_line};
    if (read_ladder(errors, ladder_entry, path, ladder)) config.pricing.emplace(ladder.name, std::move(ladder));
  }
  return declared;
}

// Contract keys travel as RESP arguments and appear in logs: printable, no spaces.
bool is_valid_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0;
  });
}

void read_contract(ErrorSink& errors, const MapReader::Entry& entry, const std::string& path,
                   const std::set<std::string, std::less<>>& ladders, Config& config) {
  const MapReader c(errors, entry.value, path,
                    {"status", "starts", "expires", "timezone", "channels", "purposes", "pricing", "hold_timeout",
                     "fail", "fail_local_budget", "limits", "per_subject", "monitors", "changes"},
                    entry.key_line);
  if (!c.is_map()) return;
  const size_t errors_before = errors.count();
  ContractConfig contract;
  contract.key = entry.key;
  contract.line = entry.key_line;
  c.read_choice("status", contract.status, kContractStatusNames);
  Nanos instant = 0;
  if (c.read_instant("starts", instant)) contract.starts = instant;
  if (c.read_instant("expires", instant)) contract.expires = instant;
  if (contract.starts && contract.expires && *contract.expires <= *contract.starts) {
    c.error(*c.find("expires"), format_instant(*contract.expires) + " is not after starts " +
                                    format_instant(*contract.starts));
  }
  c.read_timezone("timezone", contract.timezone);
  c.read_string_list("channels", contract.channels);
  c.read_string_list("purposes", contract.purposes);
  if (c.read_string("pricing", contract.pricing) && !ladders.contains(contract.pricing)) {
    c.error(*c.find("pricing"), "unknown price ladder '" + contract.pricing + "' (not under pricing:)");
  }
  c.read_choice("hold_timeout", contract.hold_timeout, kHoldTimeoutNames);
  c.read_choice("fail", contract.fail, kFailPolicyNames);
  c.read_integer("fail_local_budget", contract.fail_local_budget, 0, int64_t{1} << 39);
  LimitNames names;
  read_limit_list(errors, c, "limits", /*counters_only=*/false, names, contract.limits);
  read_limit_list(errors, c, "per_subject", /*counters_only=*/true, names, contract.per_subject);
  read_monitor_list(errors, c, "monitors", !contract.channels.empty(), contract.monitors);
  if (errors.count() == errors_before)  // changes are validated against valid base terms
    read_contract_changes(errors, c, contract.timezone.empty() ? config.timezone : contract.timezone, ladders,
                          contract);
  if (errors.count() == errors_before) config.contracts.emplace(contract.key, std::move(contract));
}

void read_contracts(ErrorSink& errors, const MapReader& root, const std::set<std::string, std::less<>>& ladders,
                    Config& config) {
  const MapReader::Entry* entry = root.find("contracts");
  if (entry == nullptr) return;
  const MapReader contracts(errors, entry->value, "contracts", {}, entry->key_line);
  for (const MapReader::Entry& contract_entry : contracts.entries()) {
    const std::string path = contracts.path_of(contract_entry.key);
    if (!is_valid_key(contract_entry.key)) {
      errors.add(contract_entry.key_line, path + ": contract keys must be non-empty and contain no spaces");
      continue;
    }
    read_contract(errors, contract_entry, path, ladders, config);
  }
}

// Checks a key-class pattern: a literal key, or a literal prefix + one final '*'.
bool parse_match(const std::string& match, KeyClassConfig& key_class) {
  const size_t star = match.find('*');
  if (match.empty() || !is_valid_key(match)) return false;
  if (star != std::string::npos && star != match.size() - 1) return false;
  key_class.match = match;
  key_class.is_prefix = star != std::string::npos;
  key_class.prefix = key_class.is_prefix ? match.substr(0, star) : match;
  return true;
}

void read_key_classes(ErrorSink& errors, const MapReader& root, Config& config) {
  const MapReader::Entry* entry = root.find("key_classes");
  if (entry == nullptr) return;
  std::map<std::string, int, std::less<>> seen;  // match → line
  size_t index = 0;
  for (const YAML::Node& item : sequence_items(errors, entry->value, "key_classes", entry->key_line)) {
    const MapReader k(errors, item, "key_classes[" + std::to_string(index++) + "]",
                      {"match", "limits", "idle_timeout", "fleet"}, line_of(item, entry->key_line));
    if (!k.is_map()) continue;
    const size_t errors_before = errors.count();
    KeyClassConfig key_class;
    key_class.line = k.line();
    std::string match;
    if (k.find("match") == nullptr) {
      errors.add(k.line(), k.path_of("match") + ": is required");
    } else if (k.read_string("match", match)) {
      const MapReader::Entry& match_entry = *k.find("match");
      if (!parse_match(match, key_class)) {
        k.error(match_entry, "'" + match + "' must be a key or a prefix ending in a single '*', without spaces");
      } else if (auto [it, inserted] = seen.emplace(match, k.value_line(match_entry)); !inserted) {
        k.error(match_entry, "duplicate key class '" + match + "' (first at line " + std::to_string(it->second) +
                                 ")");
      }
    }
    Nanos idle_timeout = 0;
    if (k.read_duration("idle_timeout", idle_timeout)) key_class.idle_timeout = idle_timeout;
    if (k.read_bool("fleet", key_class.fleet) && key_class.fleet) {
      k.error(*k.find("fleet"), "fleet: true is not supported yet: key classes are decided per node (docs/fleet.md)");
    }
    LimitNames names;
    read_limit_list(errors, k, "limits", /*counters_only=*/false, names, key_class.limits);
    if (errors.count() == errors_before) config.key_classes.push_back(std::move(key_class));
  }
}

}  // namespace

void read_pricing_contracts_and_key_classes(ErrorSink& errors, const MapReader& root, Config& config) {
  const auto ladders = read_pricing(errors, root, config);
  read_contracts(errors, root, ladders, config);
  read_key_classes(errors, root, config);
}

}  // namespace tollgate
