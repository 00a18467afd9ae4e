// Describes what differs between two configurations, one human line per
// change, for `--check-config --against` and reload logs. Pure functions.
// Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace tollgate {

// Lines like "server.threads: 2 -> 4", "+ contract beta", "- key_class ip:*",
// "contract acme-loans: limit daily changed (limit 100000 -> 200000)".
// Settings first, then pricing, contracts and key classes, each by name.
// Empty when nothing that matters changed (config lines are ignored).
std::vector<std::string> diff_configs(const Config& old_cfg, const Config& new_cfg);

// "limit 100000 -> 200000, period day -> month"; empty when the limits'
// parameters are equal (name and config line are not compared).
std::string describe_limit_change(const LimitSpec& old_limit, const LimitSpec& new_limit);

}  // namespace tollgate
