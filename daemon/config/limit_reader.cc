#include "config/limit_reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "config/config.h"
#include "config/units.h"
#include "engine/limits/limiter.h"
#include "engine/subjects/distinct_set.h"

namespace tollgate {
namespace {

constexpr std::string_view kLimitKeys[] = {"name",  "type",   "shadow",      "rate",   "per",     "burst",
                                           "limit", "window", "sub_buckets", "period", "timezone"};
constexpr std::string_view kCommonKeys[] = {"name", "type", "shadow"};

// The fields each type takes beyond name/type/shadow, and which are required.
struct TypeFields {
  LimitType type;
  std::vector<std::string_view> required;
  std::vector<std::string_view> optional;
};

const std::array<TypeFields, 5>& type_fields() {
  static const std::array<TypeFields, 5> table = {{
      {LimitType::kTokenBucket, {"rate", "per"}, {"burst"}},
      {LimitType::kSlidingWindow, {"limit", "window"}, {"sub_buckets"}},
      {LimitType::kQuota, {"limit", "period"}, {"timezone"}},
      {LimitType::kConcurrency, {"limit"}, {}},
      {LimitType::kDistinctSubjects, {"limit", "period"}, {"timezone"}},
  }};
  return table;
}

const TypeFields& fields_of(LimitType type) {
  for (const TypeFields& fields : type_fields()) {
    if (fields.type == type) return fields;
  }
  return type_fields()[0];
}

bool is_counter_type(LimitType type) {
  return type == LimitType::kTokenBucket || type == LimitType::kSlidingWindow || type == LimitType::kQuota;
}

// Reports fields that belong to another type and required fields that are
// missing. Returns false when anything was wrong.
bool check_fields_for_type(ErrorSink& errors, const MapReader& limit, LimitType type, const std::string& path) {
  const TypeFields& fields = fields_of(type);
  const std::string type_name(yaml_name(type));
  std::string takes;
  for (const auto* list : {&fields.required, &fields.optional}) {
    for (std::string_view field : *list) takes += (takes.empty() ? "" : ", ") + std::string(field);
  }
  bool ok = true;
  for (const MapReader::Entry& entry : limit.entries()) {
    const auto in = [&](const auto& list) {
      return std::find(std::begin(list), std::end(list), entry.key) != std::end(list);
    };
    if (in(kCommonKeys) || in(fields.required) || in(fields.optional)) continue;
    errors.add(entry.key_line, path + "." + entry.key + ": does not apply to a " + type_name + " limit (" +
                                   type_name + " takes: " + takes + ")");
    ok = false;
  }
  for (std::string_view field : fields.required) {
    if (limit.find(field) != nullptr) continue;
    errors.add(limit.line(), path + ": a " + type_name + " limit needs '" + std::string(field) + "'");
    ok = false;
  }
  return ok;
}

// Cross-field checks once every field has been read successfully, then the
// engine's own validation of the limit (the same make()/check() the engine
// calls when it compiles the config), so that what this loader accepts the
// engine builds. Returns false (after reporting) when the limit is unusable;
// `words` gets the state words a counter limit needs.
bool check_consistency(const MapReader& limit, const LimitSpec& spec, int& words) {
  if (spec.type == LimitType::kTokenBucket) {
    if (spec.rate > spec.per) {
      limit.error(*limit.find("rate"), "rate " + std::to_string(spec.rate) + " per " + format_duration(spec.per) +
                                           " is more than one per nanosecond");
      return false;
    }
    // GCRA keeps burst × (per / rate) nanoseconds of credit; now + that must
    // fit in Nanos (see TokenBucket::kMaxTolerance).
    const __int128 interval = spec.per / spec.rate + (spec.per % spec.rate != 0 ? 1 : 0);
    if (static_cast<__int128>(spec.burst) * interval > TokenBucket::kMaxTolerance) {
      const MapReader::Entry* at = limit.find("burst") != nullptr ? limit.find("burst") : limit.find("per");
      limit.error(*at, "burst " + std::to_string(spec.burst) + " at " + std::to_string(spec.rate) + " per " +
                           format_duration(spec.per) + " overflows: burst x (per/rate) may be at most " +
                           std::to_string(TokenBucket::kMaxTolerance / kNanosPerSecond) +
                           " s (about 162 years), so that now + a full burst fits the 64-bit nanosecond clock");
      return false;
    }
  }
  if (spec.type == LimitType::kSlidingWindow && spec.sub_buckets > 0 && spec.window % spec.sub_buckets != 0) {
    limit.error(*limit.find("sub_buckets"), "window " + format_duration(spec.window) + " is not divisible into " +
                                                std::to_string(spec.sub_buckets) + " sub_buckets");
    return false;
  }
  // The engine's verdict. The zone is checked by the reader already; UTC
  // stands in for the global default, which does not change validity.
  std::string refused;
  words = 0;
  if (spec.type == LimitType::kDistinctSubjects) {
    if (auto ok = DistinctSubjects::check(spec.limit, spec.period, spec.timezone.empty() ? "UTC" : spec.timezone); !ok)
      refused = ok.error();
  } else if (spec.type != LimitType::kConcurrency) {
    if (auto made = Limiter::make(spec, "UTC"); !made) refused = made.error();
    else words = made->words();
  }
  if (!refused.empty()) {
    const MapReader::Entry* at = limit.find("limit");
    if (at == nullptr) at = limit.find("burst") != nullptr ? limit.find("burst") : limit.find("type");
    limit.error(*at, refused);
    return false;
  }
  return true;
}

// Reads one limit map; returns false (after reporting) when it is unusable.
bool read_limit(ErrorSink& errors, const YAML::Node& node, const std::string& path, int fallback_line,
                bool counters_only, LimitNames& names, LimitSpec& spec, int& words) {
  const MapReader limit(errors, node, path, kLimitKeys, line_of(node, fallback_line));
  if (!limit.is_map()) return false;
  spec.line = limit.line();
  size_t errors_before = errors.count();

  const MapReader::Entry* name_entry = limit.find("name");
  if (name_entry == nullptr) {
    errors.add(limit.line(), path + ": a limit needs a 'name'");
  } else if (limit.read_string("name", spec.name)) {
    if (!is_valid_name(spec.name)) {
      limit.error(*name_entry, "'" + spec.name + "' is not a valid name (use letters, digits, _ . -)");
    } else if (auto it = names.find(spec.name); it != names.end()) {
      limit.error(*name_entry, "duplicate limit name '" + spec.name + "' (first at line " +
                                   std::to_string(it->second) + ")");
    } else {
      names.emplace(spec.name, limit.value_line(*name_entry));
    }
  }

  const MapReader::Entry* type_entry = limit.find("type");
  bool type_ok = false;
  if (type_entry == nullptr) {
    errors.add(limit.line(), path + ": a limit needs a 'type' (" + [] {
      std::string all;
      for (const auto& [name, type] : kLimitTypeNames) all += (all.empty() ? "" : " | ") + std::string(name);
      return all;
    }() + ")");
  } else if (limit.read_choice("type", spec.type, kLimitTypeNames)) {
    type_ok = true;
    if (counters_only && !is_counter_type(spec.type)) {
      limit.error(*type_entry, "per_subject limits must be token_bucket, sliding_window or quota, not " +
                                   std::string(yaml_name(spec.type)));
    }
  }
  limit.read_bool("shadow", spec.shadow);
  if (!type_ok) return false;
  if (!check_fields_for_type(errors, limit, spec.type, path)) return false;

  constexpr int64_t kMax = ConfigDefaults::kMaxCount;
  limit.read_integer("rate", spec.rate, 1, kMax);
  limit.read_duration("per", spec.per);
  limit.read_integer("limit", spec.limit, 1, kMax);
  limit.read_duration("window", spec.window);
  int64_t sub_buckets = 0;
  if (limit.read_integer("sub_buckets", sub_buckets, 1, ConfigDefaults::kMaxSubBuckets)) {
    spec.sub_buckets = static_cast<int32_t>(sub_buckets);
  }
  limit.read_choice("period", spec.period, kPeriodNames);
  limit.read_timezone("timezone", spec.timezone);
  if (spec.type == LimitType::kTokenBucket) {
    spec.burst = spec.rate;
    limit.read_integer("burst", spec.burst, 1, kMax);
  }
  if (errors.count() != errors_before) return false;
  return check_consistency(limit, spec, words);
}

}  // namespace

bool is_valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

void read_limit_list(ErrorSink& errors, const MapReader& parent, std::string_view key, bool counters_only,
                     LimitNames& names, std::vector<LimitSpec>& out) {
  const MapReader::Entry* entry = parent.find(key);
  if (entry == nullptr) return;
  const std::string path = parent.path_of(key);
  size_t index = 0;
  size_t counter_limits = 0;
  int64_t words = 0;
  for (const YAML::Node& node : sequence_items(errors, entry->value, path, entry->key_line)) {
    LimitSpec spec;
    int limit_words = 0;
    if (read_limit(errors, node, path + "[" + std::to_string(index++) + "]", entry->key_line, counters_only, names,
                   spec, limit_words)) {
      if (limit_words > 0) ++counter_limits;
      words += limit_words;
      out.push_back(std::move(spec));
    }
  }
  // The engine compiles each list into one policy (see engine/limits/limiter.h).
  if (counter_limits > kMaxLimitsPerPolicy) {
    errors.add(entry->key_line, path + ": at most " + std::to_string(kMaxLimitsPerPolicy) +
                                    " token_bucket, sliding_window and quota limits, got " +
                                    std::to_string(counter_limits));
  } else if (words > kMaxWordsPerPolicy) {
    errors.add(entry->key_line, path + ": the limits need " + std::to_string(words) + " state words, at most " +
                                    std::to_string(kMaxWordsPerPolicy) +
                                    " are possible (a sliding_window takes one per sub_bucket)");
  }
}

}  // namespace tollgate
