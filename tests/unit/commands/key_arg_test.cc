// Every command that takes a key says so in the command table (kKeyArg), so
// DataService refuses keys longer than server.max_key for all of them.
#include <gtest/gtest.h>

#include <string>

#include "commands/cell_commands.h"
#include "commands/command_table.h"

namespace tollgate {
namespace {

TEST(KeyArg, EveryCommandWhoseFirstArgumentIsAKeyIsMarked) {
  // Verifies the flag and the documented usage agree for every command:
  // `NAME <key> ...` iff kKeyArg.
  CommandTable table;
  register_server_commands(table);
  register_check_commands(table);
  register_cell_commands(table);
  register_admin_commands(table);
  register_reload_commands(table);
  int keyed = 0;
  for (const CommandSpec& spec : table.all()) {
    const bool documented = std::string(spec.usage).starts_with(std::string(spec.name) + " <key>");
    EXPECT_EQ((spec.flags & kKeyArg) != 0, documented) << spec.name << ": " << spec.usage;
    keyed += documented;
  }
  // CHECK, PEEK, SETTLE, CL.THROTTLE, CONTRACT, RECHARGE, SUSPEND, RESUME, TERMINATE, RESET, LEDGER.
  EXPECT_EQ(keyed, 11);
}

}  // namespace
}  // namespace tollgate
