// The command table: every command tollgate answers, declared once with its
// arity, where it is allowed, and its documentation. COMMAND, help text and
// dispatch all come from here.
// Thread-safety: built once at start-up, then read-only.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "net/service.h"
#include "resp/reply_writer.h"

namespace tollgate {

class CommandService;
class DataService;
class AdminService;

// What a handler gets: the arguments (args[0] is the command name), the
// connection's session, the reply writer, and the service it runs in — the
// shared half (engine, metrics, table) and the plane's own half: `data` on
// the data service, `admin` on the admin service, the other one null. A
// command flagged for one plane only is dispatched by that plane's service
// only, so its handler may rely on that plane's half being set.
struct CommandContext {
  std::span<const std::string_view> args;
  Session& session;
  resp::ReplyWriter& out;
  CommandService& service;
  DataService* data = nullptr;
  AdminService* admin = nullptr;
};

enum CommandFlags : uint32_t {
  kOnData = 1u << 0,   // allowed on the data socket
  kOnAdmin = 1u << 1,  // allowed on the admin socket
  kReadOnly = 1u << 2,
  kFast = 1u << 3,
  kKeyArg = 1u << 4,  // args[1] is a key: refused when longer than server.max_key
  kNotQueued = 1u << 5,  // runs at once between MULTI and EXEC (EXEC, DISCARD, MULTI, WATCH, QUIT)
  kNoAuth = 1u << 6,     // allowed before AUTH when server.requirepass is set (AUTH, HELLO, QUIT)
};

struct CommandSpec {
  std::string_view name;  // upper case
  int arity;              // Redis convention: n exact, -n at least n (name included)
  uint32_t flags;
  void (*handler)(CommandContext&);
  std::string_view usage;
  std::string_view summary;
};

class CommandTable {
 public:
  void add(const CommandSpec& spec);
  // Case-insensitive lookup; nullptr when unknown. Looks at the few specs
  // whose name has the same length and first and last letters (a bucket of
  // the index add() keeps), not the whole table: this runs once per command.
  const CommandSpec* find(std::string_view name) const;
  const std::vector<CommandSpec>& all() const { return specs_; }

 private:
  static constexpr size_t kBuckets = 128;
  static size_t bucket_of(std::string_view name);
  std::vector<CommandSpec> specs_;
  std::vector<uint16_t> buckets_[kBuckets];  // indices into specs_, in the order added
};

// Each command family registers itself here (one function per family file).
void register_server_commands(CommandTable& table);
void register_check_commands(CommandTable& table);
void register_admin_commands(CommandTable& table);
void register_monitor_commands(CommandTable& table);
void register_reload_commands(CommandTable& table);
void register_transaction_commands(CommandTable& table);
void register_connection_commands(CommandTable& table);

// Arity check in Redis's convention.
constexpr bool arity_ok(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

// ASCII case-insensitive equality, for command names and option words.
bool equals_ignore_case(std::string_view a, std::string_view b);

}  // namespace tollgate
