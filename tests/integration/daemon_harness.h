// Test harness: starts a real tollgated on temporary sockets and talks to it
// with hiredis or raw sockets. Hermetic: temp dirs, no fixed paths or ports.
// Not thread-safe except where a method says so.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace tollgate::testing {

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Client = std::unique_ptr<redisContext, RedisContextDeleter>;

// Sends one command given as separate arguments (binary-safe).
Reply command(redisContext* c, const std::vector<std::string>& args);

// The storage section of Daemon's embedded-store constructor.
struct EmbeddedStorage {
  std::string dir;          // survives the Daemon (restart another Daemon on it)
  int checkpoint_ms = 100;
  std::string extra;        // more `storage:` lines, e.g. "snapshot_interval: 2s"
  std::vector<std::string> args = {};  // more tollgated arguments, e.g. "--recover=truncate"
};

// The storage section of Daemon's Redis-store constructor.
struct RedisStorage {
  std::string socket;    // the RedisServer's; empty: give `host:`/`port:` in `extra`
  std::string password;  // empty: no AUTH
  std::string prefix;    // empty: the default
  int checkpoint_ms = 50;
  std::string extra;     // more `redis:` lines, e.g. "command_timeout: 300ms"
};

// A TCP port on 127.0.0.1 nobody listens on now (the kernel's pick for
// port 0; 0 when none could be had).
int free_local_port();

// A real redis-server on a temporary Unix socket, no persistence (--save ''
// --appendonly no), and no TCP port unless `tcp` asks for one (a free
// ephemeral port on 127.0.0.1, chosen at construction). It can be killed and
// started again on the same socket (it comes back empty). Not thread-safe.
class RedisServer {
 public:
  explicit RedisServer(std::string password = "", bool tcp = false);
  int port() const { return port_; }  // 0 without TCP
  ~RedisServer();  // SIGKILLs the server if it runs
  // Launches redis-server and waits until it answers PING. False on failure.
  bool start(int timeout_ms = 10000);
  void kill();  // SIGKILL and wait
  void pause();   // SIGSTOP: connections stay open, nothing is answered
  void resume();  // SIGCONT
  bool running() const { return pid_ > 0; }
  const std::string& socket() const { return socket_; }
  // A connection that passed AUTH when a password is set.
  Client connect() const;

 private:
  TempDir dir_;
  std::string socket_;
  std::string password_;
  int port_ = 0;
  int pid_ = -1;
};

// HGETALL-style / CONTRACT-style replies (field, value, ...) as a map; a
// failed command is a test failure and an empty map.
std::map<std::string, std::string> fields(redisContext* c, const std::vector<std::string>& args);
// One numeric line `name:<n>` of `INFO <section>`; -1 when absent or unanswered.
int64_t info_number(redisContext* c, const std::string& section, const std::string& name);

// A contract's LEDGER, summed.
struct LedgerView {
  int64_t sum = 0;                    // Σ amount
  int64_t recharged = 0;              // Σ recharge amounts
  std::set<std::string> payment_ids;  // ids of recharge entries
  uint64_t entries = 0;
  int64_t expired = 0;          // Σ expire amounts (≤ 0)
  uint64_t expire_entries = 0;  // entries of kind expire
};
LedgerView ledger(redisContext* admin, const std::string& key);

class Daemon {
 public:
  // Writes `yaml_body` (everything but server:/storage:) plus a server section
  // pointing at sockets in a temp dir, and starts tollgated on it.
  explicit Daemon(const std::string& yaml_body, const std::string& server_extra = "threads: 2");
  // The same with `storage: {mode: embedded, dir, checkpoint_ms}` instead of memory.
  Daemon(const std::string& yaml_body, const EmbeddedStorage& storage, const std::string& server_extra = "threads: 2");
  // The same with `storage: {mode: redis, redis: {socket, ...}}`.
  Daemon(const std::string& yaml_body, const RedisStorage& storage, const std::string& server_extra = "threads: 2");
  ~Daemon();  // SIGKILLs the daemon if it still runs

  // Waits until the data socket accepts connections. False if the process
  // exited or it took more than `timeout_ms`.
  bool wait_ready(int timeout_ms = 10000);
  // Sends `signal` and waits for the exit; returns the exit status (or 128+signal).
  int stop(int signal = 15);
  bool running();
  std::string log() const;  // stderr so far

  const std::string& socket() const { return socket_; }
  std::string admin_socket() const { return dir_.file("admin.sock"); }
  Client connect_admin() const;
  const std::string& config_path() const { return config_; }
  const TempDir& dir() const { return dir_; }
  Client connect() const;

  // Starts tollgated with arbitrary arguments and waits for it; returns the
  // exit status and captures stdout+stderr into `output`.
  static int run_tool(const std::vector<std::string>& args, std::string& output);

  // Rewrites the config file (memory storage, same sockets) for a reload test.
  void rewrite_config(const std::string& yaml_body, const std::string& server_extra = "threads: 2") const;
  int pid() const { return pid_; }

 private:
  void launch();  // forks tollgated on config_, output to log_path_

  TempDir dir_;
  std::string socket_;
  std::string config_;
  std::string log_path_;
  std::vector<std::string> args_;  // after --config FILE
  int pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace tollgate::testing
