#include "config/contract_changes.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <algorithm>

#include "config/limit_reader.h"
#include "config/units.h"

namespace tollgate {
namespace {

constexpr std::string_view kChangeKeys[] = {"at",    "status",       "starts", "expires",  "channels",
                                            "purposes", "pricing",   "hold_timeout", "fail", "limits",
                                            // read only to say why they cannot change on a schedule:
                                            "timezone", "per_subject", "monitors", "fail_local_budget"};
constexpr std::string_view kFixedKeys[] = {"timezone", "per_subject", "monitors", "fail_local_budget"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

bool same_distinct(const LimitSpec& a, const LimitSpec& b) {
  return a.name == b.name && a.limit == b.limit && a.period == b.period && a.timezone == b.timezone &&
         a.shadow == b.shadow;
}

// The distinct_subjects limits of a list, in order: their sets are state the
// engine attaches once per contract, so a change must leave them as they are.
std::vector<const LimitSpec*> distinct_limits(const std::vector<LimitSpec>& limits) {
  std::vector<const LimitSpec*> out;
  for (const auto& l : limits)
    if (l.type == LimitType::kDistinctSubjects) out.push_back(&l);
  return out;
}

bool distinct_unchanged(const std::vector<LimitSpec>& before, const std::vector<LimitSpec>& after) {
  const auto a = distinct_limits(before), b = distinct_limits(after);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_distinct(*a[i], *b[i])) return false;
  return true;
}

// Reads one item of `changes:`; false when it had errors (it is then left out).
bool read_change(ErrorSink& errors, const MapReader& m, std::string_view zone,
                 const std::set<std::string, std::less<>>& ladders, const ContractConfig& before,
                 ContractChange& change) {
  const size_t errors_before = errors.count();
  change.line = m.line();
  for (std::string_view fixed : kFixedKeys)
    if (const auto* e = m.find(fixed))
      m.error(*e, "cannot change on a schedule (change it in the contract and reload)");
  if (const auto* at = m.find("at"); at == nullptr) {
    errors.add(m.line(), m.path_of("at") + ": is required");
  } else if (m.read_string("at", change.at_text)) {
    auto instant = parse_change_instant(change.at_text, zone, &change.local);
    if (!instant) m.error(*at, instant.error());
    else change.at = *instant;
  }
  ContractStatus status{};
  if (m.read_choice("status", status, kContractStatusNames)) change.status = status;
  Nanos instant = 0;
  if (m.read_instant("starts", instant)) change.starts = instant;
  if (m.read_instant("expires", instant)) change.expires = instant;
  std::vector<std::string> list;
  if (m.read_string_list("channels", list)) change.channels = list;
  if (m.read_string_list("purposes", list)) change.purposes = list;
  std::string ladder;
  if (m.read_string("pricing", ladder)) {
    if (!ladders.contains(ladder)) {
      m.error(*m.find("pricing"), "unknown price ladder '" + ladder + "' (not under pricing:)");
    } else if (before.pricing.empty()) {
      m.error(*m.find("pricing"), "a contract without pricing cannot gain it on a schedule (add pricing: to the "
                                  "contract and reload)");
    } else {
      change.pricing = ladder;
    }
  }
  HoldTimeoutPolicy hold{};
  if (m.read_choice("hold_timeout", hold, kHoldTimeoutNames)) change.hold_timeout = hold;
  FailPolicy fail{};
  if (m.read_choice("fail", fail, kFailPolicyNames)) change.fail = fail;
  if (const auto* limits_entry = m.find("limits")) {
    LimitNames names;
    for (const auto& l : before.per_subject) names.emplace(l.name, l.line);  // one namespace with per_subject
    std::vector<LimitSpec> limits;
    const size_t limit_errors = errors.count();
    read_limit_list(errors, m, "limits", /*counters_only=*/false, names, limits);
    if (errors.count() == limit_errors) {
      if (!distinct_unchanged(before.limits, limits))
        m.error(*limits_entry, "distinct_subjects limits cannot change on a schedule (their subject sets are "
                               "state; change them in the contract and reload)");
      else
        change.limits = std::move(limits);
    }
  }
  if (errors.count() != errors_before) return false;
  if (changed_keys(change).empty()) {
    errors.add(m.line(), m.path_of("at") + ": this change changes nothing (name at least one of status, starts, "
                                           "expires, channels, purposes, pricing, hold_timeout, fail, limits)");
    return false;
  }
  ContractConfig after = before;
  apply_change(after, change);
  if (after.starts && after.expires && *after.expires <= *after.starts) {
    errors.add(m.line(), m.path_of("expires") + ": after this change, " + format_instant(*after.expires) +
                             " is not after starts " + format_instant(*after.starts));
    return false;
  }
  return true;
}

}  // namespace

std::expected<Nanos, std::string> parse_change_instant(std::string_view text, std::string_view zone_name,
                                                       bool* local) {
  if (local != nullptr) *local = false;
  if (auto absolute = parse_instant(text)) return absolute;
  // No offset: a wall time in the contract's zone.
  const std::string input(text);
  cctz::time_point<cctz::seconds> as_utc;
  cctz::detail::femtoseconds fraction;
  if (!cctz::detail::parse("%Y-%m-%dT%H:%M:%E*S", input, cctz::utc_time_zone(), &as_utc, &fraction)) {
    return std::unexpected("expected an instant like 2027-01-01T00:00:00+08:00 (with an offset) or "
                           "2027-03-28T02:30:00 (local time in the contract's zone), got '" + input + "'");
  }
  cctz::time_zone zone;
  if (!cctz::load_time_zone(std::string(zone_name), &zone))
    return std::unexpected("unknown time zone '" + std::string(zone_name) + "'");
  const cctz::civil_second wall = cctz::convert(as_utc, cctz::utc_time_zone());
  const cctz::time_zone::civil_lookup found = zone.lookup(wall);
  // The first instant at which the zone's clock shows `wall` or later: the
  // transition in a gap, the earlier occurrence in an overlap.
  const auto point = found.kind == cctz::time_zone::civil_lookup::SKIPPED ? found.trans : found.pre;
  const int64_t whole = point.time_since_epoch().count();
  Nanos result = 0;
  if (__builtin_mul_overflow(whole, kNanosPerSecond, &result) ||
      __builtin_add_overflow(result, fraction.count() / 1'000'000, &result))
    return std::unexpected("instant '" + input + "' is outside 1677..2262");
  if (local != nullptr) *local = true;
  return result;
}

void read_contract_changes(ErrorSink& errors, const MapReader& contract, std::string_view zone,
                           const std::set<std::string, std::less<>>& ladders, ContractConfig& out) {
  const MapReader::Entry* entry = contract.find("changes");
  if (entry == nullptr) return;
  const std::string path = contract.path_of("changes");
  ContractConfig before = out;  // the terms each change is validated against
  before.changes.clear();
  size_t index = 0;
  for (const YAML::Node& item : sequence_items(errors, entry->value, path, entry->key_line)) {
    const MapReader m(errors, item, path + "[" + std::to_string(index++) + "]", kChangeKeys,
                      line_of(item, entry->key_line));
    if (!m.is_map()) continue;
    ContractChange change;
    if (!read_change(errors, m, zone, ladders, before, change)) continue;
    if (!out.changes.empty() && change.at <= out.changes.back().at) {
      m.error(*m.find("at"), format_instant(change.at) + " is not after the previous change's " +
                                 format_instant(out.changes.back().at) + " (line " +
                                 std::to_string(out.changes.back().line) + "); list changes in time order");
      continue;
    }
    apply_change(before, change);
    out.changes.push_back(std::move(change));
  }
}

void apply_change(ContractConfig& terms, const ContractChange& change) {
  if (change.status) terms.status = *change.status;
  if (change.starts) terms.starts = change.starts;
  if (change.expires) terms.expires = change.expires;
  if (change.channels) terms.channels = *change.channels;
  if (change.purposes) terms.purposes = *change.purposes;
  if (change.pricing) terms.pricing = *change.pricing;
  if (change.hold_timeout) terms.hold_timeout = *change.hold_timeout;
  if (change.fail) terms.fail = *change.fail;
  if (change.limits) terms.limits = *change.limits;
}

ContractConfig contract_terms_at(const ContractConfig& contract, Nanos t) {
  ContractConfig terms = contract;
  terms.changes.clear();
  for (const ContractChange& change : contract.changes) {
    if (change.at <= t) apply_change(terms, change);
    else terms.changes.push_back(change);
  }
  return terms;
}

Config config_at(const Config& config, Nanos t) {
  Config out = config;
  for (auto& [key, contract] : out.contracts)
    if (!contract.changes.empty()) contract = contract_terms_at(contract, t);
  return out;
}

Nanos next_change_at(const Config& config) {
  Nanos next = kNoChange;
  for (const auto& [key, contract] : config.contracts)
    if (!contract.changes.empty()) next = std::min(next, contract.changes.front().at);
  return next;
}

std::vector<std::string> changed_keys(const ContractChange& change) {
  std::vector<std::string> keys;
  if (change.status) keys.emplace_back("status");
  if (change.starts) keys.emplace_back("starts");
  if (change.expires) keys.emplace_back("expires");
  if (change.channels) keys.emplace_back("channels");
  if (change.purposes) keys.emplace_back("purposes");
  if (change.pricing) keys.emplace_back("pricing");
  if (change.hold_timeout) keys.emplace_back("hold_timeout");
  if (change.fail) keys.emplace_back("fail");
  if (change.limits) keys.emplace_back("limits");
  return keys;
}

std::string describe_change(const ContractChange& change) {
  std::vector<std::string> parts;
  if (change.status) parts.push_back("status " + std::string(yaml_name(*change.status)));
  if (change.starts) parts.push_back("starts " + format_instant(*change.starts));
  if (change.expires) parts.push_back("expires " + format_instant(*change.expires));
  if (change.channels) parts.push_back("channels [" + join(*change.channels) + "]");
  if (change.purposes) parts.push_back("purposes [" + join(*change.purposes) + "]");
  if (change.pricing) parts.push_back("pricing " + *change.pricing);
  if (change.hold_timeout) parts.push_back("hold_timeout " + std::string(yaml_name(*change.hold_timeout)));
  if (change.fail) parts.push_back("fail " + std::string(yaml_name(*change.fail)));
  if (change.limits) {
    std::vector<std::string> names;
    for (const auto& l : *change.limits) names.push_back(l.name);
    parts.push_back("limits [" + join(names) + "]");
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace tollgate
