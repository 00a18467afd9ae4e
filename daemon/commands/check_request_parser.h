// Parses the arguments of CHECK/PEEK into a CheckRequest.
// Thread-safety: pure function.
#pragma once

#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace tollgate {

inline constexpr int64_t kMaxCost = 1'000'000'000'000;     // 1e12 units per call
inline constexpr int64_t kMaxHoldMs = 86'400'000;          // a day
inline constexpr int64_t kMaxWaitMs = 3'600'000;           // an hour
inline constexpr size_t kMaxIdLength = 256;

// Strict decimal integer: optional '-', digits only, no overflow.
std::expected<int64_t, std::monostate> parse_int64(std::string_view s);

// args[0] is the command name, args[1] the key, then options in any order.
// Errors are the RESP error text ("ERR ...").
std::expected<CheckRequest, std::string> parse_check_request(std::span<const std::string_view> args);

}  // namespace tollgate
