// RELOAD (admin socket): reload the config file; on error the old config
// keeps running and the reply lists every problem.
#include <fmt/format.h>

#include "commands/command_table.h"
#include "commands/data_service.h"

namespace tollgate {
namespace {

void reload_command(CommandContext& ctx) {
  const auto& hook = ctx.service.reload_hook();
  if (!hook) return ctx.out.error("ERR RELOAD is not available on this socket");
  auto changes = hook();
  if (!changes) return ctx.out.error(changes.error());
  ctx.out.array(changes->size());
  for (const auto& c : *changes) ctx.out.bulk(c);
}

}  // namespace

void register_reload_commands(CommandTable& table) {
  table.add({"RELOAD", 1, kOnAdmin, reload_command, "RELOAD",
             "Reloads the config file: an array of what changed, or an error listing every problem"});
}

}  // namespace tollgate
