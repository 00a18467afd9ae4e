// Admin-socket MONITOR commands: MONITOR CLEAR lifts a contract's monitor
// actions early (journaled, like SUSPEND). Run by the admin service only.
#include <cassert>

#include "commands/admin_service.h"
#include "commands/command_table.h"

namespace tollgate {
namespace {

void monitor_command(CommandContext& ctx) {
  assert(ctx.admin != nullptr);
  std::string sub(ctx.args[1]);
  for (char& c : sub) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (sub != "CLEAR" || ctx.args.size() < 3 || ctx.args.size() > 4) {
    ctx.out.error("ERR usage: MONITOR CLEAR <contract> [<monitor>]");
    return;
  }
  auto lifted = ctx.admin->contracts().clear_actions(ctx.args[2], ctx.args.size() > 3 ? ctx.args[3] : "",
                                                     ctx.session.peer_uid, ctx.session.now);
  if (!lifted) {
    ctx.out.error(admin_error_text(lifted.error()));
    return;
  }
  ctx.out.integer(*lifted);
}

}  // namespace

void register_monitor_commands(CommandTable& table) {
  table.add({"MONITOR", -3, kOnAdmin, monitor_command, "MONITOR CLEAR <contract> [<monitor>]",
             "Lifts a contract's monitor actions (of one monitor) early; returns how many"});
}

}  // namespace tollgate
