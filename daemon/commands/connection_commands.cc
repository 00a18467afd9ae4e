// What Redis clients send besides their commands: AUTH, SELECT 0 and
// CONFIG GET of the few settings they read (redis-benchmark asks for `save`
// and `appendonly`). HELLO and CLIENT are in server_commands.cc.
#include <fnmatch.h>

#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

#include "commands/command_service.h"
#include "commands/command_table.h"

namespace tollgate {
namespace {

constexpr std::string_view kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

// AUTH <password> | AUTH default <password>: the data socket's password
// (server.requirepass / server.requirepass_file). The admin socket admits
// its peers by uid/gid and takes no password.
void auth_command(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.out.error("ERR wrong number of arguments for 'AUTH' command");
  if (ctx.admin != nullptr)
    return ctx.out.error("ERR the admin socket admits peers by uid/gid (admin.allow_uids, admin.allow_gids); "
                         "AUTH is for the data socket");
  if (!ctx.service.password_required())
    return ctx.out.error("ERR AUTH <password> called without any password configured for the default user. "
                         "Are you sure your configuration is correct?");
  const bool user_ok = ctx.args.size() == 2 || ctx.args[1] == "default";
  if (!ctx.service.password_matches(ctx.args.back()) || !user_ok) {
    WorkerMetrics::bump(ctx.service.metrics(ctx.session.worker).auth_failures);
    return ctx.out.error(kWrongPass);
  }
  ctx.session.authenticated = true;
  ctx.out.simple("OK");
}

void select_command(CommandContext& ctx) {
  if (ctx.args[1] == "0") return ctx.out.simple("OK");
  ctx.out.error("ERR DB index is out of range (tollgate has one database, 0)");
}

// The settings CONFIG GET answers: what clients and redis-benchmark ask for.
std::vector<std::pair<std::string_view, std::string>> config_values(const CommandService& service) {
  return {{"save", ""},  // no RDB snapshots: tollgate persists on its own (storage.*)
          {"appendonly", "no"},
          {"maxclients", std::to_string(service.max_clients())},
          {"databases", "1"}};
}

// CONFIG GET <pattern> [<pattern> …] (globs, case-insensitive, as Redis):
// name/value pairs (a map in RESP3). Nothing can be set: the config file is
// the one source (RELOAD or SIGHUP).
void config_command(CommandContext& ctx) {
  std::string_view sub = ctx.args[1];
  if (equals_ignore_case(sub, "GET")) {
    if (ctx.args.size() < 3) return ctx.out.error("ERR wrong number of arguments for 'CONFIG|GET' command");
    std::vector<std::pair<std::string_view, std::string>> found;
    for (auto& [name, value] : config_values(ctx.service)) {
      for (size_t i = 2; i < ctx.args.size(); ++i) {
        const std::string pattern(ctx.args[i]);
        const std::string key(name);
        if (::fnmatch(pattern.c_str(), key.c_str(), FNM_CASEFOLD) == 0) {
          found.emplace_back(name, value);
          break;
        }
      }
    }
    ctx.out.map(found.size());
    for (const auto& [name, value] : found) {
      ctx.out.bulk(name);
      ctx.out.bulk(value);
    }
    return;
  }
  if (equals_ignore_case(sub, "SET") || equals_ignore_case(sub, "REWRITE") || equals_ignore_case(sub, "RESETSTAT"))
    return ctx.out.error(fmt::format("ERR CONFIG {} is not supported: edit the config file, then RELOAD (admin "
                                     "socket) or SIGHUP",
                                     sub.substr(0, 16)));
  ctx.out.error(fmt::format("ERR unknown CONFIG subcommand '{}' (GET)", sub.substr(0, 64)));
}

}  // namespace

void register_connection_commands(CommandTable& table) {
  constexpr uint32_t kBoth = kOnData | kOnAdmin;
  table.add({"AUTH", -2, kBoth | kFast | kNoAuth, auth_command, "AUTH [default] <password>",
             "Authenticates the connection (server.requirepass)"});
  table.add({"SELECT", 2, kBoth | kFast, select_command, "SELECT 0", "Database 0 is the only one"});
  table.add({"CONFIG", -2, kBoth, config_command, "CONFIG GET <pattern> [<pattern> ...]",
             "Reads the settings clients ask for: save, appendonly, maxclients, databases"});
}

}  // namespace tollgate
