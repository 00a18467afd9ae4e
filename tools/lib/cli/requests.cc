#include "cli/requests.h"

#include <array>

#include "cli/text_format.h"

namespace tollgate::cli {
namespace {

constexpr std::array kSubcommands{
    SubcommandSpec{"check", SocketKind::kData, true, "Decide one call (CHECK, or PEEK with --peek)"},
    SubcommandSpec{"contract", SocketKind::kAdmin, true, "Show everything about a contract"},
    SubcommandSpec{"recharge", SocketKind::kAdmin, true, "Add a prepaid top-up to a contract"},
    SubcommandSpec{"suspend", SocketKind::kAdmin, false, "Suspend a contract (calls are denied)"},
    SubcommandSpec{"resume", SocketKind::kAdmin, false, "Resume a suspended contract"},
    SubcommandSpec{"terminate", SocketKind::kAdmin, false, "Terminate a contract for good"},
    SubcommandSpec{"reset", SocketKind::kAdmin, false, "Clear a contract's counters (all, or one limit)"},
    SubcommandSpec{"ledger", SocketKind::kAdmin, true, "List a contract's money entries"},
    SubcommandSpec{"events", SocketKind::kAdmin, false, "List anomaly and admin events"},
    SubcommandSpec{"monitor", SocketKind::kAdmin, false, "monitor clear <key> [<monitor>]: lift monitor actions early; monitor ack <seq> [<note>]: acknowledge an event"},
    SubcommandSpec{"reload", SocketKind::kAdmin, false, "Reload the configuration file"},
    SubcommandSpec{"snapshot", SocketKind::kAdmin, false, "Force a checkpoint of the state"},
    SubcommandSpec{"info", SocketKind::kAdmin, false, "Show the daemon's INFO (optionally one section)"},
    SubcommandSpec{"ping", SocketKind::kAdmin, false, "Check that the daemon answers"},
};

void append_option(Arguments& out, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  out.emplace_back(name);
  out.emplace_back(value);
}

}  // namespace

std::span<const SubcommandSpec> subcommands() { return kSubcommands; }

const SubcommandSpec* find_subcommand(std::string_view name) {
  for (const SubcommandSpec& spec : kSubcommands)
    if (spec.name == name) return &spec;
  return nullptr;
}

Arguments check_arguments(const CheckRequest& request) {
  Arguments out{request.peek ? "PEEK" : "CHECK", request.key};
  if (request.cost) append_option(out, "COST", std::to_string(*request.cost));
  append_option(out, "CHANNEL", request.channel);
  append_option(out, "PURPOSE", request.purpose);
  append_option(out, "SUBJECT", request.subject);
  append_option(out, "ID", request.id);
  return out;
}

std::string cost_argument_error(std::string_view text) {
  int64_t value = 0;
  bool ok = !text.empty() && text.size() <= 13;
  for (char c : text) {
    if (c < '0' || c > '9') ok = false;
    else if (ok) value = value * 10 + (c - '0');
  }
  if (ok && value <= kMaxCheckCost) return {};
  std::string shown(text.substr(0, 32));
  if (text.size() > 32) shown += "...";
  return "must be a whole number from 0 to " + std::to_string(kMaxCheckCost) + ", got '" + shown + "'";
}

Arguments contract_arguments(std::string_view key) { return {"CONTRACT", std::string(key)}; }

std::expected<Arguments, std::string> recharge_arguments(std::string_view key, std::string_view amount,
                                                         std::string_view payment_id, int decimals,
                                                         bool minor) {
  if (payment_id.empty()) return std::unexpected("a payment id is required (--payment-id)");
  auto minor_units = parse_money_argument(amount, decimals, minor);
  if (!minor_units) return std::unexpected(minor_units.error());
  return Arguments{"RECHARGE", std::string(key), std::to_string(*minor_units), std::string(payment_id)};
}

Arguments suspend_arguments(std::string_view key, std::string_view reason) {
  Arguments out{"SUSPEND", std::string(key)};
  if (!reason.empty()) out.emplace_back(reason);
  return out;
}

Arguments resume_arguments(std::string_view key) { return {"RESUME", std::string(key)}; }

Arguments terminate_arguments(std::string_view key) { return {"TERMINATE", std::string(key)}; }

Arguments reset_arguments(std::string_view key, std::string_view limit) {
  Arguments out{"RESET", std::string(key)};
  if (!limit.empty()) out.emplace_back(limit);
  return out;
}

Arguments ledger_arguments(std::string_view key, std::optional<int64_t> since) {
  Arguments out{"LEDGER", std::string(key)};
  if (since) out.push_back(std::to_string(*since));
  return out;
}

Arguments events_arguments(std::optional<int64_t> since) {
  Arguments out{"EVENTS"};
  if (since) out.push_back(std::to_string(*since));
  return out;
}

Arguments events_follow_arguments(std::optional<int64_t> since) {
  Arguments out{"EVENTS", "FOLLOW"};
  if (since) out.push_back(std::to_string(*since));
  return out;
}

Arguments monitor_clear_arguments(std::string_view key, std::string_view monitor) {
  Arguments out{"MONITOR", "CLEAR", std::string(key)};
  if (!monitor.empty()) out.emplace_back(monitor);
  return out;
}

Arguments monitor_ack_arguments(std::string_view seq, std::string_view note) {
  Arguments out{"MONITOR", "ACK", std::string(seq)};
  if (!note.empty()) out.emplace_back(note);
  return out;
}

Arguments info_arguments(std::string_view section) {
  Arguments out{"INFO"};
  if (!section.empty()) out.emplace_back(section);
  return out;
}

Arguments bare_arguments(std::string_view command) {
  std::string upper(command);
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return {std::move(upper)};
}

}  // namespace tollgate::cli
