// What CHECK's reply and accounting look like, shared by CHECK and by EXEC
// (a transaction's CHECKs are decided together, see transaction_commands.cc).
// Thread-safety: called on the connection's worker thread.
#pragma once

#include "commands/command_table.h"
#include "tollgate/decision.h"

namespace tollgate {

// The 7-element CHECK array (README, "CHECK / PEEK"), in RESP2 and RESP3 alike.
void write_decision(resp::ReplyWriter& out, const Decision& d);
// After an engine decision of CHECK: counts it, holds the reply for its WAIT
// slot (Session::release_at, the later of what is set and this one's) and,
// with durability strict, until its charge is durable.
void account_check(CommandContext& ctx, const Decision& d);

}  // namespace tollgate
