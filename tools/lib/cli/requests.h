// Translation of `tollgate` subcommands into the exact RESP argument vectors
// sent to tollgated (README, "Protocol (data socket)" and "Admin socket"), and the
// table saying which socket each subcommand talks to. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::cli {

using Arguments = std::vector<std::string>;

enum class SocketKind : uint8_t { kData, kAdmin };

// One row per subcommand: its name, the socket it uses and its one-line help.
struct SubcommandSpec {
  std::string_view name;
  SocketKind socket;
  bool shows_money;  // needs the currency's decimals to print or parse amounts
  std::string_view help;
};

// Every subcommand, in the order `tollgate --help` lists them.
[[nodiscard]] std::span<const SubcommandSpec> subcommands();
// The row for `name`, or nullptr.
[[nodiscard]] const SubcommandSpec* find_subcommand(std::string_view name);

struct CheckRequest {
  std::string key;
  std::optional<int64_t> cost;
  std::string channel;  // empty: not sent
  std::string purpose;
  std::string subject;
  std::string id;
  bool peek = false;  // PEEK instead of CHECK: same reply, changes nothing
};

[[nodiscard]] Arguments check_arguments(const CheckRequest& request);
// The largest COST the daemon accepts (commands/check_request_parser.h's kMaxCost).
inline constexpr int64_t kMaxCheckCost = 1'000'000'000'000;
// Checks a typed --cost: empty when it is a whole number 0..kMaxCheckCost,
// else the message CLI11 prints after "--cost: " ("must be a whole number from 0 to …").
[[nodiscard]] std::string cost_argument_error(std::string_view text);
[[nodiscard]] Arguments contract_arguments(std::string_view key);
// `amount` is typed by an operator: a decimal with at most `decimals`
// fractional digits, or plain minor units when `minor`. Converted exactly.
[[nodiscard]] std::expected<Arguments, std::string> recharge_arguments(std::string_view key,
                                                                     std::string_view amount,
                                                                     std::string_view payment_id,
                                                                     int decimals, bool minor);
[[nodiscard]] Arguments suspend_arguments(std::string_view key, std::string_view reason);
[[nodiscard]] Arguments resume_arguments(std::string_view key);
// MONITOR CLEAR <key> [<monitor>] (tollgate monitor clear).
[[nodiscard]] Arguments monitor_clear_arguments(std::string_view key, std::string_view monitor);
// MONITOR ACK <seq> [<note>] (tollgate monitor ack).
[[nodiscard]] Arguments monitor_ack_arguments(std::string_view seq, std::string_view note);
[[nodiscard]] Arguments terminate_arguments(std::string_view key);
[[nodiscard]] Arguments reset_arguments(std::string_view key, std::string_view limit);
[[nodiscard]] Arguments ledger_arguments(std::string_view key, std::optional<int64_t> since);
[[nodiscard]] Arguments events_arguments(std::optional<int64_t> since);
// EVENTS FOLLOW [<since>] (`events --follow`).
[[nodiscard]] Arguments events_follow_arguments(std::optional<int64_t> since);
[[nodiscard]] Arguments info_arguments(std::string_view section);
// RELOAD, SNAPSHOT, PING: the upper-cased name alone.
[[nodiscard]] Arguments bare_arguments(std::string_view command);

}  // namespace tollgate::cli
