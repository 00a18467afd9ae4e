// RELOAD (admin socket): reload the config file; on error the old config
// keeps running and the reply lists every problem.
#include <fmt/format.h>

#include "commands/admin_service.h"
#include "commands/command_table.h"

namespace tollgate {
namespace {

// RELOAD runs on the admin worker; the reload itself runs on the control
// loop, like SIGHUP's, between checkpoints and sweeps (control/reloader.h).
// The reply: what changed, then the changes that need a restart.
void reload_command(CommandContext& ctx) {
  if (ctx.admin == nullptr || !ctx.admin->can_reload())
    return ctx.out.error("ERR RELOAD is not available on this socket");
  ReloadResult r = ctx.admin->reload();
  if (!r.ok) {
    std::string msg = "ERR config rejected, the running config is unchanged:";
    for (const auto& e : r.errors) msg += " " + e + ";";
    return ctx.out.error(msg);
  }
  ctx.out.array(r.changes.size() + r.warnings.size());
  for (const auto& c : r.changes) ctx.out.bulk(c);
  for (const auto& w : r.warnings) ctx.out.bulk(w);
}

}  // namespace

void register_reload_commands(CommandTable& table) {
  table.add({"RELOAD", 1, kOnAdmin, reload_command, "RELOAD",
             "Reloads the config file: an array of what changed, or an error listing every problem"});
}

}  // namespace tollgate
