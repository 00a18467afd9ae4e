// CL.THROTTLE, the redis-cell compatible command, over the data service's
// CellThrottle (engine/cell_throttle.h). The pieces are exposed so that the
// reply encoding and argument errors can be tested without a DataService.
// Thread-safety: the functions are thread-safe; run_cell_throttle must run
// inside a Reclaimer critical section (a data-plane batch).
#pragma once

#include <span>
#include <string_view>

#include "commands/command_table.h"
#include "engine/cell_throttle.h"
#include "resp/reply_writer.h"
#include "tollgate/time.h"

namespace tollgate {

// Registers CL.THROTTLE (data socket).
void register_cell_commands(CommandTable& table);

// The RESP error text for `e` (without the leading '-'). kZeroRate has
// redis-cell's exact wording; the others are tollgate's own.
std::string_view cell_error_text(CellError e);

// Writes redis-cell's 5-integer reply: [limited, limit, remaining,
// retry_after_s, reset_after_s], seconds rounded as redis-cell rounds them.
void encode_cell_reply(const CellResult& result, resp::ReplyWriter& out);

// Runs CL.THROTTLE with `args` (args[0] is the command name) against
// `throttle` at `now` and writes the reply or the error. Returns false when
// the reply is a client error. A null `throttle` means the command is disabled.
bool run_cell_throttle(std::span<const std::string_view> args, CellThrottle* throttle, Nanos now,
                       resp::ReplyWriter& out);

}  // namespace tollgate
