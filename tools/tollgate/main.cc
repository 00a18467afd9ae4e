// tollgate: the operator's command-line tool for a running tollgated. Sends
// one command over the data or admin socket (hiredis, blocking) and prints
// the reply as a table or, with --json, as JSON. Exit 0 ok, 1 `check`
// denied, 2 any error.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <expected>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/render.h"
#include "cli/requests.h"
#include "cli/text_format.h"
#include "client.h"

namespace tollgate::cli {
namespace {

struct GlobalOptions {
  std::string socket = "run/tollgate.sock";
  std::string admin_socket = "run/admin.sock";
  bool json = false;
  std::optional<int> decimals;
};

// Everything the subcommands' flags fill in.
struct CommandOptions {
  CheckRequest check;
  std::string key;
  std::string amount;
  std::string payment_id;
  bool minor = false;
  std::string reason;
  bool yes = false;
  std::string limit;
  std::optional<int64_t> since;
  bool follow = false;  // events --follow
  std::string section;
  std::string verb;     // monitor: clear or ack
  std::string monitor;  // monitor clear: only this monitor's actions
};

// --decimals, else `currency_decimals` from the daemon's INFO server (on the
// connection we already have, then on the admin socket), else the default.
// An admin socket that refuses us already here is reported as such.
std::expected<int, Output> resolve_decimals(const GlobalOptions& global, Client& client, bool client_is_admin,
                                            const RenderOptions& render) {
  if (global.decimals) return *global.decimals;
  auto info = client.call(info_arguments("server"));
  if (!info) return std::unexpected(render_failure(info.error(), render));
  if (info->is_error() && client_is_admin) return std::unexpected(render_error_reply(*info, render));
  if (info->is_text())
    if (auto d = currency_decimals_from_info(info->text)) return *d;
  if (!client_is_admin) {
    if (auto admin = Client::connect(global.admin_socket, true, render.uid)) {
      auto admin_info = admin->call(info_arguments("server"));
      if (admin_info && admin_info->is_text())
        if (auto d = currency_decimals_from_info(admin_info->text)) return *d;
    }
  }
  return kDefaultDecimals;
}

// events --follow: prints the list, then each pushed event as it comes
// (flushed per line), until the daemon closes the connection or the user
// interrupts. Returns only on an error.
Output follow_events(Client& client, const Value& first, const RenderOptions& render) {
  Value batch = first;
  while (true) {
    Output shown = render_followed_events(batch, render);
    if (shown.exit_code != kExitOk) return shown;
    std::fputs(shown.out.c_str(), stdout);
    std::fflush(stdout);
    auto pushed = client.next_push();
    if (!pushed) return render_failure(pushed.error(), render);
    batch = Value::array({std::move(*pushed)});
  }
}

Output run(const std::string& name, const GlobalOptions& global, const CommandOptions& o) {
  const unsigned uid = ::getuid();
  RenderOptions render{.json = global.json, .decimals = global.decimals.value_or(kDefaultDecimals), .uid = uid};
  const SubcommandSpec* spec = find_subcommand(name);
  if (spec == nullptr) return render_failure("unknown subcommand " + name, render);
  if (name == "terminate" && !o.yes)
    return render_failure("terminate is final: add --yes to terminate " + o.key, render);

  if (name == "recharge" && (global.decimals || o.minor)) {
    // Refuse a bad amount before touching the daemon when we can.
    auto built = recharge_arguments(o.key, o.amount, o.payment_id, render.decimals, o.minor);
    if (!built) return render_failure(built.error(), render);
  }
  const bool admin = spec->socket == SocketKind::kAdmin;
  const std::string& path = admin ? global.admin_socket : global.socket;
  auto client = Client::connect(path, admin, uid);
  if (!client) return render_failure(client.error(), render);
  if (spec->shows_money) {
    auto decimals = resolve_decimals(global, *client, admin, render);
    if (!decimals) return decimals.error();
    render.decimals = *decimals;
  }

  int64_t amount_minor = 0;
  Arguments arguments;
  if (name == "check") {
    arguments = check_arguments(o.check);
  } else if (name == "contract") {
    arguments = contract_arguments(o.key);
  } else if (name == "recharge") {
    auto built = recharge_arguments(o.key, o.amount, o.payment_id, render.decimals, o.minor);
    if (!built) return render_failure(built.error(), render);
    arguments = std::move(*built);
    amount_minor = *parse_int64(arguments[2]);
  } else if (name == "suspend") {
    arguments = suspend_arguments(o.key, o.reason);
  } else if (name == "resume") {
    arguments = resume_arguments(o.key);
  } else if (name == "terminate") {
    arguments = terminate_arguments(o.key);
  } else if (name == "reset") {
    arguments = reset_arguments(o.key, o.limit);
  } else if (name == "ledger") {
    arguments = ledger_arguments(o.key, o.since);
  } else if (name == "events") {
    arguments = o.follow ? events_follow_arguments(o.since) : events_arguments(o.since);
  } else if (name == "monitor") {
    arguments = o.verb == "ack" ? monitor_ack_arguments(o.key, o.monitor) : monitor_clear_arguments(o.key, o.monitor);
  } else if (name == "info") {
    arguments = info_arguments(o.section);
  } else {
    arguments = bare_arguments(name);  // reload, snapshot, ping
  }

  auto reply = client->call(arguments);
  if (!reply) return render_failure(reply.error(), render);
  const Value& value = *reply;
  if (name == "check") return render_check(value, render);
  if (name == "contract") return render_contract(o.key, value, render);
  if (name == "recharge") return render_recharge(amount_minor, value, render);
  if (name == "suspend") return render_status("suspended " + o.key, value, render);
  if (name == "resume") return render_status("resumed " + o.key, value, render);
  if (name == "terminate") return render_status("terminated " + o.key, value, render);
  if (name == "reset") return render_reset(o.key, value, render);
  if (name == "ledger") return render_ledger(value, render);
  if (name == "events" && o.follow) return follow_events(*client, value, render);
  if (name == "events") return render_events(value, render);
  if (name == "info") return render_info(value, render);
  if (name == "monitor" && o.verb == "ack") return render_monitor_ack(o.key, value, render);
  if (name == "monitor") return render_monitor_clear(o.key, value, render);
  if (name == "reload") return render_reload(value, render);
  if (name == "snapshot") return render_status("snapshot written", value, render);
  return render_status("", value, render);  // ping: prints PONG
}

// Declares every subcommand's flags; the socket and help come from subcommands().
void declare(CLI::App& app, GlobalOptions& global, CommandOptions& o) {
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.add_option("--socket", global.socket, "Data socket")->envname("TOLLGATE_SOCKET")->capture_default_str();
  app.add_option("--admin-socket", global.admin_socket, "Admin socket")
      ->envname("TOLLGATE_ADMIN_SOCKET")
      ->capture_default_str();
  app.add_flag("--json", global.json, "Print JSON instead of a table");
  app.add_option("--decimals", global.decimals,
                 "Currency fractional digits (default: the daemon's currency_decimals, else 2)")
      ->check(CLI::Range(0, 18));

  auto sub = [&](std::string_view name) {
    const SubcommandSpec* spec = find_subcommand(name);
    return app.add_subcommand(std::string(name), std::string(spec->help));
  };
  auto key = [&](CLI::App* command) { command->add_option("key", o.key, "Contract key")->required(); };

  CLI::App* check = sub("check");
  check->add_option("key", o.check.key, "Contract or key")->required();
  // Validated on the typed text, so the message states the real bounds
  // (CLI::NonNegativeNumber printed a 300-digit double range).
  check->add_option("--cost", o.check.cost, "Units to charge (0 to 10^12, default 1)")
      ->check(CLI::Validator([](std::string& text) { return cost_argument_error(text); }, "COST", "cost"));
  check->add_option("--channel", o.check.channel, "Calling channel");
  check->add_option("--purpose", o.check.purpose, "Purpose (scenario) of the call");
  check->add_option("--subject", o.check.subject, "End user the call is about");
  check->add_option("--id", o.check.id, "Idempotency id of the call");
  check->add_flag("--peek", o.check.peek, "Ask what CHECK would answer, change nothing");

  key(sub("contract"));

  CLI::App* recharge = sub("recharge");
  key(recharge);
  recharge->add_option("amount", o.amount, "Amount as a decimal, e.g. 150000.00")->required();
  recharge->add_option("--payment-id", o.payment_id, "Payment id (makes the recharge idempotent)")->required();
  recharge->add_flag("--minor", o.minor, "The amount is in minor units (cents)");

  CLI::App* suspend = sub("suspend");
  key(suspend);
  suspend->add_option("--reason", o.reason, "Why (shown in CONTRACT and events)");
  key(sub("resume"));
  CLI::App* terminate = sub("terminate");
  key(terminate);
  terminate->add_flag("--yes", o.yes, "Confirm: termination is final");

  CLI::App* reset = sub("reset");
  key(reset);
  reset->add_option("limit", o.limit, "Only this limit");

  CLI::App* ledger = sub("ledger");
  key(ledger);
  ledger->add_option("--since", o.since, "Only entries after this sequence number");
  CLI::App* events = sub("events");
  events->add_option("--since", o.since, "Only events after this sequence number");
  events->add_flag("--follow", o.follow, "Keep printing each new event as it happens (one line each)");

  CLI::App* monitor = sub("monitor");
  monitor->add_option("verb", o.verb, "clear | ack")->required()->check(CLI::IsMember({"clear", "ack"}));
  monitor->add_option("key", o.key, "clear: the contract key; ack: the event's seq (from events)")->required();
  monitor->add_option("monitor", o.monitor, "clear: only this monitor's actions; ack: a note");

  sub("reload");
  sub("snapshot");
  sub("info")->add_option("section", o.section, "server, clients, stats, keyspace, ... (default: all)");
  sub("ping");
}

}  // namespace
}  // namespace tollgate::cli

int main(int argc, char** argv) {
  using namespace tollgate::cli;
  std::signal(SIGPIPE, SIG_IGN);  // a daemon closing on us is an error message, not a signal death
  CLI::App app{"tollgate: inspect and operate a running tollgated", "tollgate"};
  GlobalOptions global;
  CommandOptions options;
  declare(app, global, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }
  const Output output = run(app.get_subcommands().front()->get_name(), global, options);
  std::fputs(output.out.c_str(), stdout);
  std::fputs(output.err.c_str(), stderr);
  return output.exit_code;
}
