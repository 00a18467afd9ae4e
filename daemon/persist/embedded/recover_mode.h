// What the operator allows start-up recovery of the embedded store to give
// up (`tollgated --recover=MODE`). Without it, a store that cannot be read
// whole — a corrupt journal, no usable snapshot for the journal to continue,
// records missing below the identity file's watermark, an unreadable identity
// file — refuses to start. Plain values; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace tollgate::persist {

enum class RecoverMode : unsigned char {
  kRefuse,    // default: start only with everything the store made durable
  kTruncate,  // keep the newest valid snapshot and the journal up to its first damage;
              // set the rest aside in <dir>/discarded/ and log every payment id lost
  kEmpty,     // when the state cannot be read whole, set all of it aside in
              // <dir>/discarded/, log every payment id lost, start with none;
              // an intact store starts as usual
};

inline std::optional<RecoverMode> parse_recover_mode(std::string_view name) {
  if (name == "truncate") return RecoverMode::kTruncate;
  if (name == "empty") return RecoverMode::kEmpty;
  return std::nullopt;
}

inline std::string_view recover_mode_name(RecoverMode mode) {
  switch (mode) {
    case RecoverMode::kRefuse: return "refuse";
    case RecoverMode::kTruncate: return "truncate";
    case RecoverMode::kEmpty: return "empty";
  }
  return "?";
}

}  // namespace tollgate::persist
