// Test harness: starts a real tollgated on temporary sockets and talks to it
// with hiredis or raw sockets. Hermetic: temp dirs, no fixed paths or ports.
// Not thread-safe except where a method says so.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
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
};

class Daemon {
 public:
  // Writes `yaml_body` (everything but server:/storage:) plus a server section
  // pointing at sockets in a temp dir, and starts tollgated on it.
  explicit Daemon(const std::string& yaml_body, const std::string& server_extra = "threads: 2");
  // The same with `storage: {mode: embedded, dir, checkpoint_ms}` instead of memory.
  Daemon(const std::string& yaml_body, const EmbeddedStorage& storage, const std::string& server_extra = "threads: 2");
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
  int pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace tollgate::testing
