// Admin-socket MONITOR commands: MONITOR CLEAR lifts a contract's monitor
// actions early (journaled, like SUSPEND); MONITOR ACK acknowledges a
// firing or an action (EVENTS). Run by the admin service only.
#include <cassert>
#include <charconv>

#include "commands/admin_service.h"
#include "commands/command_table.h"

namespace tollgate {
namespace {

constexpr const char* kUsage = "ERR usage: MONITOR CLEAR <contract> [<monitor>] | MONITOR ACK <event-seq> [<note>]";

// MONITOR ACK <seq> [<note>]: 1 when acknowledged now, 0 when it already was.
void ack_command(CommandContext& ctx) {
  uint64_t seq = 0;
  const std::string_view text = ctx.args[2];
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (ec != std::errc() || end != text.data() + text.size() || seq == 0) {
    ctx.out.error("ERR the event seq must be a positive integer (the `seq` of an EVENTS entry)");
    return;
  }
  auto acked = ctx.admin->contracts().acknowledge_event(seq, ctx.args.size() > 3 ? ctx.args[3] : "",
                                                        ctx.session.peer_uid, ctx.session.now);
  if (!acked) {
    ctx.out.error(admin_error_text(acked.error()));
    return;
  }
  ctx.out.integer(*acked ? 1 : 0);
}

void monitor_command(CommandContext& ctx) {
  assert(ctx.admin != nullptr);
  std::string sub(ctx.args[1]);
  for (char& c : sub) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (sub == "ACK" && ctx.args.size() >= 3 && ctx.args.size() <= 4) return ack_command(ctx);
  if (sub != "CLEAR" || ctx.args.size() < 3 || ctx.args.size() > 4) {
    ctx.out.error(kUsage);
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
  table.add({"MONITOR", -3, kOnAdmin, monitor_command, "MONITOR CLEAR <contract> [<monitor>] | MONITOR ACK <seq> [<note>]",
             "CLEAR lifts a contract's monitor actions (of one monitor) early, returns how many; ACK acknowledges a "
             "firing or action event, returns 1 (0: already acknowledged)"});
}

}  // namespace tollgate
