// Reads and validates `limits:` / `per_subject:` lists into LimitSpecs.
// Used only by the config loader. Not thread-safe (one call per load).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/map_reader.h"
#include "tollgate/limit_spec.h"

namespace tollgate {

// Limit names already taken in one contract or key class, with their lines.
// `limits:` and `per_subject:` share one namespace.
using LimitNames = std::map<std::string, int, std::less<>>;

// Reads the list under `key` of `parent` (if present) into `out`. With
// `counters_only`, only token_bucket, sliding_window and quota are accepted.
// Every problem goes to `errors`; limits with errors are left out of `out`.
void read_limit_list(ErrorSink& errors, const MapReader& parent, std::string_view key, bool counters_only,
                     LimitNames& names, std::vector<LimitSpec>& out);

// True for names made of [A-Za-z0-9_.-] only, at least one character.
bool is_valid_name(std::string_view name);

}  // namespace tollgate
