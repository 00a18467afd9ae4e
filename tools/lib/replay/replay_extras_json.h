// The `--json` of a contract's monitors and lot prices
// (replay/replay_monitors.h), for report_json. Library-internal: only
// tools/lib/replay/ includes it (nlohmann's include path is private there).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "replay/replay_monitors.h"

namespace tollgate::replay {

// {"<monitor>": {"fired", "cleared", "first_fired", "last_fired", "first_channel",
//  "first_measure", "first_value", "first_threshold", "actions": [{"do", "channel", "at", "until", "applied", "refused"}]}}
nlohmann::json monitors_json(const std::map<std::string, MonitorReport>& monitors);
// [{"price_minor", "live_calls", "candidate_calls", "live_credits", "candidate_credits",
//   "live_minor", "candidate_minor", "money_delta_minor"}], lowest price first.
nlohmann::json lots_json(const std::map<int64_t, LotCounts>& lots);

}  // namespace tollgate::replay
