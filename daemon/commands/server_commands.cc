// Connection and server commands: PING, ECHO, QUIT, HELLO, CLIENT, COMMAND, INFO.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "commands/client_state.h"
#include "commands/command_table.h"
#include "commands/command_service.h"
#include "commands/info_text.h"
#include "net/client_registry.h"

#ifndef TOLLGATE_VERSION
#define TOLLGATE_VERSION "0.1.0"
#endif

namespace tollgate {
namespace {

void ping_command(CommandContext& ctx) {
  if (ctx.args.size() > 2) return ctx.out.error("ERR wrong number of arguments for 'PING' command");
  if (ctx.args.size() == 2) return ctx.out.bulk(ctx.args[1]);
  ctx.out.simple("PONG");
}

void echo_command(CommandContext& ctx) { ctx.out.bulk(ctx.args[1]); }

void quit_command(CommandContext& ctx) {
  ctx.out.simple("OK");
  ctx.session.close_after_reply = true;
}

// The one check of a connection name, for CLIENT SETNAME and HELLO … SETNAME:
// Redis's rule (printable ASCII, no spaces) plus a length bound. Empty clears
// the name, as in Redis.
constexpr size_t kMaxClientName = 256;
std::optional<std::string> client_name_error(std::string_view name) {
  for (char c : name)
    if (c <= ' ' || c > '~') return "ERR Client names cannot contain spaces, newlines or special characters.";
  if (name.size() > kMaxClientName) return fmt::format("ERR Client names are at most {} bytes.", kMaxClientName);
  return std::nullopt;
}

// HELLO [2|3 [AUTH <user> <password>] [SETNAME <name>]]: picks RESP2 or
// RESP3 for the replies that follow (this one included), authenticates,
// names the connection; all or nothing. The reply is a map (RESP2: a flat
// array of its pairs).
void hello_command(CommandContext& ctx) {
  int protocol = ctx.session.protocol;
  std::optional<std::string_view> name;  // applied only when the whole command is valid
  bool authenticate = false;
  if (ctx.args.size() >= 2) {
    auto& v = ctx.args[1];
    if (v == "2") protocol = 2;
    else if (v == "3") protocol = 3;
    else return ctx.out.error("NOPROTO unsupported protocol version; tollgate speaks RESP2 and RESP3");
    for (size_t i = 2; i < ctx.args.size(); i += 2) {
      if (i + 1 < ctx.args.size() && equals_ignore_case(ctx.args[i], "SETNAME")) {
        if (auto error = client_name_error(ctx.args[i + 1])) return ctx.out.error(*error);
        name = ctx.args[i + 1];
      } else if (i + 2 < ctx.args.size() && equals_ignore_case(ctx.args[i], "AUTH")) {
        // As Redis's default user: with no password configured any password is accepted.
        if (ctx.service.password_required() &&
            (ctx.args[i + 1] != "default" || !ctx.service.password_matches(ctx.args[i + 2]))) {
          WorkerMetrics::bump(ctx.service.metrics(ctx.session.worker).auth_failures);
          return ctx.out.error("WRONGPASS invalid username-password pair or user is disabled.");
        }
        authenticate = true;
        ++i;
      } else {
        return ctx.out.error(fmt::format("ERR syntax error in HELLO option '{}'", ctx.args[i].substr(0, 64)));
      }
    }
  }
  if (!authenticate && !ctx.session.authenticated && ctx.service.password_required())
    return ctx.out.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH "
        "<user> <pass> option can be used to authenticate the client and select the RESP protocol version at "
        "the same time");
  if (authenticate) ctx.session.authenticated = true;
  if (name) {
    ctx.session.name = std::string(*name);
    if (ctx.session.record) ctx.session.record->set_name(*name);
  }
  if (ctx.session.record) ctx.session.record->protocol.store(protocol, std::memory_order_relaxed);
  ctx.session.protocol = protocol;
  ctx.out.set_protocol(protocol);
  ctx.out.map(7);
  ctx.out.bulk("server");
  ctx.out.bulk("tollgate");
  ctx.out.bulk("version");
  ctx.out.bulk(TOLLGATE_VERSION);
  ctx.out.bulk("proto");
  ctx.out.integer(protocol);
  ctx.out.bulk("id");
  ctx.out.integer(static_cast<int64_t>(ctx.session.id));
  ctx.out.bulk("mode");
  ctx.out.bulk("standalone");
  ctx.out.bulk("role");
  ctx.out.bulk("master");
  ctx.out.bulk("modules");
  ctx.out.array(0);
}

// CLIENT SETINFO LIB-NAME|LIB-VER <value>: Redis's rule, no spaces or newlines.
std::optional<std::string> lib_info_error(std::string_view value) {
  for (char c : value)
    if (c < '!' || c > '~') return "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.";
  if (value.size() > kMaxClientName) return fmt::format("ERR lib-name and lib-ver are at most {} bytes.", kMaxClientName);
  return std::nullopt;
}

// CLIENT INFO: this connection, in the `field=value` line Redis writes.
std::string client_info_line(const Session& session) {
  const ClientState* st = session.client.get();
  const bool multi = st != nullptr && st->transaction.active();
  return fmt::format("id={} fd=-1 name={} age=0 db=0 flags={} multi={} resp={} user=default lib-name={} lib-ver={} "
                     "admin={}\n",
                     session.id, session.name, multi ? "x" : "N",
                     multi ? static_cast<int64_t>(st->transaction.size()) : -1, session.protocol,
                     st != nullptr ? st->lib_name : "", st != nullptr ? st->lib_ver : "", session.admin ? 1 : 0);
}

// CLIENT LIST [TYPE normal|pubsub|master|replica] [ID <id> ...]: one line per
// RESP connection of the server (data and admin sockets), Redis's fields.
// On both sockets, as in Redis (clients use it to find themselves); it
// shows names, library facts and peer paths, nothing secret.
void client_list(CommandContext& ctx) {
  if (ctx.session.clients == nullptr) return ctx.out.error("ERR CLIENT LIST is not available on this connection");
  std::vector<uint64_t> ids;
  bool none = false;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (equals_ignore_case(ctx.args[i], "TYPE") && i + 1 < ctx.args.size()) {
      const auto type = ctx.args[++i];
      if (equals_ignore_case(type, "normal")) continue;
      if (equals_ignore_case(type, "pubsub") || equals_ignore_case(type, "master") ||
          equals_ignore_case(type, "replica") || equals_ignore_case(type, "slave")) {
        none = true;
        continue;
      }
      return ctx.out.error(fmt::format("ERR Unknown client type '{}'", type.substr(0, 64)));
    }
    if (equals_ignore_case(ctx.args[i], "ID") && i + 1 < ctx.args.size()) {
      for (++i; i < ctx.args.size(); ++i) {
        uint64_t id = 0;
        auto a = ctx.args[i];
        auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), id);
        if (ec != std::errc() || p != a.data() + a.size() || id == 0) return ctx.out.error("ERR Invalid client ID");
        ids.push_back(id);
      }
      break;
    }
    return ctx.out.error("ERR syntax error");
  }
  std::string text;
  if (!none) {
    const uint64_t now = monotonic_ms();
    for (const auto& r : ctx.session.clients->snapshot()) {
      if (!ids.empty() && std::find(ids.begin(), ids.end(), r->id) == ids.end()) continue;
      text += ClientRegistry::format(*r, now);
      text += '\n';
    }
  }
  ctx.out.bulk(text);  // a verbatim string in Redis's RESP3; a bulk reads the same in every client
}

// CLIENT KILL <addr:port> (old form: +OK or -ERR No such client) or
// CLIENT KILL <filter> <value> ... with ID, ADDR, LADDR, USER, SKIPME (new
// form: the number of clients killed). Admin socket only. The connections
// are closed by their own workers right after the reply is produced
// (Worker::kill_client); unsent replies of theirs are dropped.
void client_kill(CommandContext& ctx) {
  if (!ctx.session.admin)
    return ctx.out.error("ERR CLIENT KILL is an admin command; send it to the admin socket");
  if (ctx.session.clients == nullptr) return ctx.out.error("ERR CLIENT KILL is not available on this connection");
  if (ctx.args.size() < 3) return ctx.out.error("ERR wrong number of arguments for 'CLIENT|KILL' command");
  ClientFilter f;
  if (ctx.args.size() == 3) {  // the old form: an address
    f.addr = std::string(ctx.args[2]);
    if (ctx.session.clients->kill(f) == 0) return ctx.out.error("ERR No such client");
    return ctx.out.simple("OK");
  }
  if (ctx.args.size() % 2 != 0) return ctx.out.error("ERR syntax error");
  bool skipme = true;  // Redis's default with the new form
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
    auto key = ctx.args[i];
    auto value = ctx.args[i + 1];
    if (equals_ignore_case(key, "ID")) {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), f.id);
      if (ec != std::errc() || p != value.data() + value.size() || f.id == 0)
        return ctx.out.error("ERR client-id should be greater than 0");
    } else if (equals_ignore_case(key, "ADDR")) {
      f.addr = std::string(value);
    } else if (equals_ignore_case(key, "LADDR")) {
      f.laddr = std::string(value);
    } else if (equals_ignore_case(key, "USER")) {
      if (value == "default") f.user_default = true;
      else f.user_none = true;  // the only user is "default"
    } else if (equals_ignore_case(key, "SKIPME")) {
      if (equals_ignore_case(value, "yes")) skipme = true;
      else if (equals_ignore_case(value, "no")) skipme = false;
      else return ctx.out.error("ERR syntax error");
    } else if (equals_ignore_case(key, "TYPE")) {
      if (equals_ignore_case(value, "normal")) continue;
      if (equals_ignore_case(value, "pubsub") || equals_ignore_case(value, "master") ||
          equals_ignore_case(value, "replica") || equals_ignore_case(value, "slave")) {
        f.user_none = true;  // no such clients here
        continue;
      }
      return ctx.out.error(fmt::format("ERR Unknown client type '{}'", value.substr(0, 64)));
    } else {
      return ctx.out.error("ERR syntax error");
    }
  }
  if (skipme) f.skip_id = ctx.session.id;
  ctx.out.integer(static_cast<int64_t>(ctx.session.clients->kill(f)));
}

void client_command(CommandContext& ctx) {
  auto sub = ctx.args[1];
  if (equals_ignore_case(sub, "SETNAME") && ctx.args.size() == 3) {
    if (auto error = client_name_error(ctx.args[2])) return ctx.out.error(*error);
    ctx.session.name = std::string(ctx.args[2]);
    if (ctx.session.record) ctx.session.record->set_name(ctx.args[2]);
    return ctx.out.simple("OK");
  }
  if (equals_ignore_case(sub, "GETNAME") && ctx.args.size() == 2) {
    if (ctx.session.name.empty()) return ctx.out.null_bulk();
    return ctx.out.bulk(ctx.session.name);
  }
  if (equals_ignore_case(sub, "ID") && ctx.args.size() == 2) return ctx.out.integer(static_cast<int64_t>(ctx.session.id));
  if (equals_ignore_case(sub, "SETINFO") && ctx.args.size() == 4) {
    const bool lib_name = equals_ignore_case(ctx.args[2], "LIB-NAME");
    if (!lib_name && !equals_ignore_case(ctx.args[2], "LIB-VER"))
      return ctx.out.error(fmt::format("ERR Unrecognized option '{}' (LIB-NAME, LIB-VER)", ctx.args[2].substr(0, 64)));
    if (auto error = lib_info_error(ctx.args[3])) return ctx.out.error(*error);
    ClientState& st = client_state(ctx.session);
    (lib_name ? st.lib_name : st.lib_ver) = std::string(ctx.args[3]);
    if (ctx.session.record) ctx.session.record->set_lib(st.lib_name, st.lib_ver);
    return ctx.out.simple("OK");
  }
  if (equals_ignore_case(sub, "INFO") && ctx.args.size() == 2) {
    if (ctx.session.record) return ctx.out.bulk(ClientRegistry::format(*ctx.session.record, monotonic_ms()) + "\n");
    return ctx.out.bulk(client_info_line(ctx.session));
  }
  if (equals_ignore_case(sub, "LIST")) return client_list(ctx);
  if (equals_ignore_case(sub, "KILL")) return client_kill(ctx);
  ctx.out.error(fmt::format("ERR unknown CLIENT subcommand '{}' (SETNAME, GETNAME, ID, SETINFO, INFO, LIST, KILL)",
                            sub.substr(0, 64)));
}

std::vector<std::string_view> flag_words(uint32_t flags) {
  std::vector<std::string_view> words;
  if (flags & kReadOnly) words.push_back("readonly");
  if (flags & kFast) words.push_back("fast");
  if (flags & kOnAdmin && !(flags & kOnData)) words.push_back("admin");
  return words;
}

void write_command_info(resp::ReplyWriter& out, const CommandSpec& spec) {
  out.array(6);
  std::string lower(spec.name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.bulk(lower);
  out.integer(spec.arity);
  auto words = flag_words(spec.flags);
  out.array(words.size());
  for (auto w : words) out.simple(w);
  bool keyed = (spec.flags & kKeyArg) != 0;
  out.integer(keyed ? 1 : 0);
  out.integer(keyed ? 1 : 0);
  out.integer(keyed ? 1 : 0);
}

// COMMAND, COMMAND COUNT, COMMAND INFO name..., COMMAND DOCS [name...]:
// enough for redis-cli 7 (which asks for DOCS at start-up for its hints).
void command_command(CommandContext& ctx) {
  const auto& all = ctx.service.commands().all();
  if (ctx.args.size() == 1) {
    ctx.out.array(all.size());
    for (const auto& spec : all) write_command_info(ctx.out, spec);
    return;
  }
  auto sub = ctx.args[1];
  if (equals_ignore_case(sub, "COUNT")) return ctx.out.integer(static_cast<int64_t>(all.size()));
  if (equals_ignore_case(sub, "INFO")) {
    ctx.out.array(ctx.args.size() - 2);
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      const CommandSpec* spec = ctx.service.commands().find(ctx.args[i]);
      if (spec) write_command_info(ctx.out, *spec);
      else ctx.out.null_array();
    }
    return;
  }
  if (equals_ignore_case(sub, "DOCS")) {
    std::vector<const CommandSpec*> chosen;
    if (ctx.args.size() == 2) {
      for (const auto& spec : all) chosen.push_back(&spec);
    } else {
      for (size_t i = 2; i < ctx.args.size(); ++i)
        if (const CommandSpec* spec = ctx.service.commands().find(ctx.args[i])) chosen.push_back(spec);
    }
    ctx.out.array(chosen.size() * 2);
    for (const CommandSpec* spec : chosen) {
      std::string lower(spec->name);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ctx.out.bulk(lower);
      ctx.out.array(4);
      ctx.out.bulk("summary");
      ctx.out.bulk(spec->summary);
      ctx.out.bulk("group");
      ctx.out.bulk("tollgate");
    }
    return;
  }
  ctx.out.error(fmt::format("ERR unknown COMMAND subcommand '{}' (COUNT, INFO, DOCS)", sub.substr(0, 64)));
}

void info_command(CommandContext& ctx) {
  std::string_view section = ctx.args.size() > 1 ? ctx.args[1] : "default";
  auto want = [&](std::string_view name) {
    return equals_ignore_case(section, "default") || equals_ignore_case(section, "all") ||
           equals_ignore_case(section, "everything") || equals_ignore_case(section, name);
  };
  CommandService& s = ctx.service;
  const Nanos now = ctx.session.now;
  std::string text;
  auto line = [&](std::string_view key, auto value) { fmt::format_to(std::back_inserter(text), "{}:{}\r\n", key, value); };
  ServerStats net = s.info().server_stats ? s.info().server_stats() : ServerStats{};
  if (want("server")) {
    text += "# Server\r\n";
    line("tollgate_version", TOLLGATE_VERSION);
    line("process_id", ::getpid());
    line("uptime_in_seconds", (now - s.info().started_at) / kNanosPerSecond);
    line("worker_threads", s.worker_count());
    line("config_file", s.info().config_path);
    line("timezone", s.engine().options().timezone);
    line("currency_decimals", s.info().currency_decimals);
    line("unknown_keys", s.engine().options().allow_unknown ? "allow" : "deny");
    text += "\r\n";
  }
  if (want("clients")) {
    text += "# Clients\r\n";
    line("connected_clients", net.connections);
    line("total_connections_received", net.connections_total);
    line("rejected_connections_max_clients", net.rejected_max_clients);
    line("rejected_connections_peer", net.rejected_peers);
    line("output_buffer_overflows", net.output_overflows);
    line("rejected_connections_fd_limit", net.rejected_fd_limit);
    line("accept_pauses", net.accept_pauses);
    line("input_buffer_bytes", net.input_buffer_bytes);
    line("input_buffer_drops", net.input_buffer_drops);
    line("idle_timeouts", net.idle_timeouts);
    line("frame_timeouts", net.frame_timeouts);
    text += "\r\n";
  }
  if (want("stats")) {
    text += "# Stats\r\n";
    line("total_commands_processed", net.commands);
    line("protocol_errors", net.protocol_errors);
    line("client_errors", s.total(&WorkerMetrics::client_errors));
    line("unknown_commands", s.total(&WorkerMetrics::unknown_commands));
    line("checks", s.total(&WorkerMetrics::checks));
    line("settles", s.total(&WorkerMetrics::settles));
    line("paced", s.total(&WorkerMetrics::paced));
    line("commit_waits", s.total(&WorkerMetrics::commit_waits));
    line("holds_open", s.engine().holds().open());
    line("holds_expired", s.total(&WorkerMetrics::holds_expired));
    line("holds_rejected_pool_full", s.engine().holds().rejected_full());
    line("dedup_early_evictions", s.engine().dedup().early_evictions());
    line("peeks", s.total(&WorkerMetrics::peeks));
    line("transactions", s.total(&WorkerMetrics::transactions));
    line("transactions_aborted", s.total(&WorkerMetrics::transactions_aborted));
    line("transactions_discarded", s.total(&WorkerMetrics::transactions_discarded));
    line("auth_failures", s.total(&WorkerMetrics::auth_failures));
    uint64_t denied = 0;
    for (int c = 1; c < kCodeCount; ++c) denied += s.total_code(static_cast<Code>(c));
    line("allowed", s.total_code(Code::kOk));
    line("denied", denied);
    for (int c = 1; c < kCodeCount; ++c) {
      std::string key = "denied_" + std::string(code_name(static_cast<Code>(c)));
      for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      line(key, s.total_code(static_cast<Code>(c)));
    }
    text += "\r\n";
  }
  if (want("keyspace")) {
    const CounterTable& t = s.engine().table();
    text += "# Keyspace\r\n";
    line("contracts", s.engine().contracts().size());
    line("key_classes", s.engine().key_classes().size());
    line("keys", t.size());
    line("dynamic_keys", t.dynamic_size());
    line("max_dynamic_keys", t.max_dynamic_keys());
    line("evicted_keys", t.evicted());
    line("rejected_keys_table_full", t.rejected_full());
    text += "\r\n";
  }
  if (want("persistence") && s.info().persistence) {
    text += "# Persistence\r\n";
    s.info().persistence([&](std::string_view name, uint64_t value, std::string_view) { line(name, value); });
    if (s.info().persistence_error) line("last_error", s.info().persistence_error());
    text += "\r\n";
  }
  if (want("monitors")) {
    const MonitorCounters& m = s.engine().state().monitor_counters();
    auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
    text += "# Monitors\r\n";
    line("monitor_firings", load(m.firings));
    line("monitor_clears", load(m.clears));
    line("monitor_firing", load(m.firing_now));
    line("monitor_actions", load(m.actions));
    line("monitor_actions_lifted", load(m.lifts));
    line("monitor_actions_active", load(m.active_actions));
    line("monitor_action_failures", load(m.action_failures));
    line("monitor_events_written", load(m.events_written));
    line("monitor_webhook_delivered", load(m.webhook_delivered));
    line("monitor_webhook_failures", load(m.webhook_failed));
    line("monitor_webhook_dropped", load(m.webhook_dropped));
    if (s.info().monitor_baselines)
      s.info().monitor_baselines([&](std::string_view name, std::string_view value) { line(name, value); });
    text += "\r\n";
  }
  if (want("envoy") && s.info().envoy) {
    text += "# Envoy\r\n";
    s.info().envoy([&](std::string_view name, std::string_view value) { line(name, value); });
    text += "\r\n";
  }
  if (want("fleet") && s.info().fleet) {
    text += "# Fleet\r\n";
    s.info().fleet([&](std::string_view name, std::string_view value) { line(name, value); });
    text += "\r\n";
  }
  if (want("calllog") && s.info().call_log) {
    text += "# Calllog\r\n";
    s.info().call_log([&](std::string_view name, std::string_view value) { line(name, value); });
    text += "\r\n";
  }
  if (want("limits")) {
    // Shadow limits (what a proposed limit would have denied) and distinct-
    // subject estimates. Contract keys, patterns and limit names may hold any
    // byte, so they go into the value, percent-encoded (commands/info_text.h);
    // the line names are numbered like Redis's db0, db1, … so that a parser
    // keeping one value per name (redis-py) keeps every line.
    text += "# Limits\r\n";
    size_t shadow_index = 0, subjects_index = 0;
    auto shadow_line = [&](std::string_view scope, const Policy& p, bool per_subject, std::string_view limit,
                           uint64_t denials) {
      fmt::format_to(std::back_inserter(text), "shadow_limit{}:{}={},{}limit={},shadow_denials={}\r\n",
                     shadow_index++, scope, info_escape(p.name), per_subject ? "per_subject=1," : "",
                     info_escape(limit), denials);
    };
    auto policy_lines = [&](std::string_view scope, const Policy& p) {
      for (const auto& l : p.limits)
        if (l->spec.shadow) shadow_line(scope, p, false, l->spec.name, l->shadow_denials.load(std::memory_order_relaxed));
      for (const auto& d : p.distinct)
        if (d->shadow) shadow_line(scope, p, false, d->name, d->shadow_denials.load(std::memory_order_relaxed));
      if (p.per_subject) {
        for (const auto& l : p.per_subject->limits)
          if (l->spec.shadow) shadow_line(scope, p, true, l->spec.name, l->shadow_denials.load(std::memory_order_relaxed));
      }
    };
    Engine& engine = s.engine();
    line("shadow_mode", engine.options().shadow_mode ? 1 : 0);
    for (const auto& p : engine.contracts()) policy_lines("contract", *p);
    for (const auto& p : engine.key_classes()) policy_lines("key_class", *p);
    for (const auto& p : engine.contracts()) {
      double estimate = engine.distinct_subjects_estimate(p->name, now);
      if (estimate >= 0)
        fmt::format_to(std::back_inserter(text), "distinct_subjects{}:contract={},estimate={}\r\n", subjects_index++,
                       info_escape(p->name), static_cast<int64_t>(estimate + 0.5));
    }
    text += "\r\n";
  }
  ctx.out.bulk(text);
}

}  // namespace

void register_server_commands(CommandTable& table) {
  constexpr uint32_t kBoth = kOnData | kOnAdmin;
  table.add({"PING", -1, kBoth | kFast, ping_command, "PING [message]", "Liveness check"});
  table.add({"ECHO", 2, kBoth | kFast, echo_command, "ECHO <message>", "Returns the message"});
  table.add({"QUIT", 1, kBoth | kFast | kNotQueued | kNoAuth, quit_command, "QUIT", "Closes the connection after the reply"});
  table.add({"HELLO", -1, kBoth | kFast | kNoAuth, hello_command,
             "HELLO [2|3 [AUTH <user> <password>] [SETNAME <name>]]",
             "Handshake: RESP2 or RESP3 for the replies that follow, optionally authenticating"});
  table.add({"CLIENT", -2, kBoth, client_command,
             "CLIENT SETNAME <name> | GETNAME | ID | SETINFO LIB-NAME|LIB-VER <value> | INFO | LIST [ID <id> ...] | "
             "KILL ID <id> | KILL ADDR <addr> | KILL USER default | KILL <addr> (admin)",
             "Names the connection, records its client library, describes it; lists the connections, kills one "
             "(admin socket)"});
  table.add({"COMMAND", -1, kBoth, command_command, "COMMAND [COUNT | INFO name... | DOCS [name...]]",
             "Describes the commands"});
  table.add({"INFO", -1, kBoth, info_command, "INFO [server|clients|stats|keyspace|persistence|limits|all]",
             "Server state as key:value sections"});
}

}  // namespace tollgate
