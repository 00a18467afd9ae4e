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

// Verifies the bucketed lookup finds every registered command by its name in
// upper, lower and mixed case (the first one added wins, as before), and
// finds nothing for unknown names, empty ones or near misses.
TEST(CommandTableFind, EveryCommandInAnyCaseAndNoOther) {
  CommandTable table;
  register_server_commands(table);
  register_check_commands(table);
  register_cell_commands(table);
  register_admin_commands(table);
  register_reload_commands(table);
  register_transaction_commands(table);
  register_connection_commands(table);
  for (const CommandSpec& spec : table.all()) {
    std::string lower(spec.name), mixed(spec.name);
    for (size_t i = 0; i < lower.size(); ++i) {
      if (lower[i] >= 'A' && lower[i] <= 'Z') lower[i] = static_cast<char>(lower[i] + 32);
      if (i % 2 == 1) mixed[i] = lower[i];
    }
    const CommandSpec* first = nullptr;
    for (const CommandSpec& s : table.all())
      if (s.name == spec.name && first == nullptr) first = &s;
    EXPECT_EQ(table.find(spec.name), first) << spec.name;
    EXPECT_EQ(table.find(lower), first) << lower;
    EXPECT_EQ(table.find(mixed), first) << mixed;
    // Near misses: whatever a scan of the whole table finds (usually nothing).
    for (const std::string& near : {std::string(spec.name) + "X", std::string(spec.name).substr(1)}) {
      const CommandSpec* scanned = nullptr;
      for (const CommandSpec& s : table.all())
        if (scanned == nullptr && equals_ignore_case(s.name, near)) scanned = &s;
      EXPECT_EQ(table.find(near), scanned) << near;
    }
  }
  EXPECT_EQ(table.find(""), nullptr);
  EXPECT_EQ(table.find("CHECKS"), nullptr);
  EXPECT_EQ(table.find("CHEC\x7F"), nullptr);
  EXPECT_NE(table.find("check"), nullptr);
}

}  // namespace
}  // namespace tollgate
