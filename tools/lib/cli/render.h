// Turns tollgated's replies into what `tollgate` prints: a human table or
// line, or JSON with --json, plus the process exit code. One entry point per
// reply kind; all of them render an error reply the same way. Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cli/reply_value.h"

namespace tollgate::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDenied = 1;  // `check` only: the call was denied
inline constexpr int kExitError = 2;

struct RenderOptions {
  bool json = false;
  int decimals = 2;  // the currency's fractional digits
  unsigned uid = 0;  // ours, for the "not allowed" message
};

// What to print and how to exit. `out` goes to stdout, `err` to stderr.
struct Output {
  std::string out;
  std::string err;
  int exit_code = kExitOk;
};

// A failure of ours (bad argument, no connection): `message` on stderr, or
// {"error": message} on stdout with --json; exit 2.
[[nodiscard]] Output render_failure(std::string_view message, const RenderOptions& options);
// An error reply from the daemon (see daemon_error_message); exit 2.
// With a `headline` (RELOAD), the message is split into one line per problem
// under it, and JSON adds an "errors" list.
[[nodiscard]] Output render_error_reply(const Value& error, const RenderOptions& options,
                                        std::string_view headline = {});

// CHECK/PEEK's 7-element array; exit 0 allowed, 1 denied.
[[nodiscard]] Output render_check(const Value& reply, const RenderOptions& options);
// CONTRACT's field/value array: fields, then a table of limit.* fields.
[[nodiscard]] Output render_contract(std::string_view key, const Value& reply, const RenderOptions& options);
// RECHARGE's [credits, unit_price_minor, balance_minor] for `amount_minor`.
[[nodiscard]] Output render_recharge(int64_t amount_minor, const Value& reply, const RenderOptions& options);
// A +OK (or +PONG) reply; `done` is the human confirmation ("suspended acme").
[[nodiscard]] Output render_status(std::string_view done, const Value& reply, const RenderOptions& options);
// RELOAD's array of change lines: "reloaded", then one line per change (and
// per setting that needs a restart); JSON {"ok": true, "changes": [...]}. A
// refusal lists every problem (render_error_reply with a headline); exit 2.
[[nodiscard]] Output render_reload(const Value& reply, const RenderOptions& options);
// RESET's integer: how many limits were reset.
[[nodiscard]] Output render_reset(std::string_view key, const Value& reply, const RenderOptions& options);
[[nodiscard]] Output render_monitor_clear(std::string_view key, const Value& reply, const RenderOptions& options);
// MONITOR ACK's reply: 1 acknowledged now, 0 already acknowledged.
[[nodiscard]] Output render_monitor_ack(std::string_view seq, const Value& reply, const RenderOptions& options);
// LEDGER's array of field/value entries, as a table.
[[nodiscard]] Output render_ledger(const Value& reply, const RenderOptions& options);
// EVENTS' array of field/value entries, one line each (fields vary).
[[nodiscard]] Output render_events(const Value& reply, const RenderOptions& options);
// `events --follow`: an array of EVENTS entries (the first list, or one
// pushed event wrapped in an array) as one line each — `field=value` text,
// or with --json one object per line (JSON lines). Nothing for an empty list.
[[nodiscard]] Output render_followed_events(const Value& reply, const RenderOptions& options);
// INFO's bulk text: as is, or {section: {key: value}} with --json.
[[nodiscard]] Output render_info(const Value& reply, const RenderOptions& options);

}  // namespace tollgate::cli
