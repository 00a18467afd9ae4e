// The daemon's transport: listening sockets accepted on the control loop and
// connections spread round-robin over N worker loops.
// Thread-safety: create, start and stop from the control-plane thread.
#pragma once

#include <uv.h>

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/connection.h"
#include "net/peer_credentials.h"
#include "net/service.h"
#include "net/worker.h"

namespace tollgate {

struct ListenerOptions {
  std::string path;
  int mode = 0660;
  Service* service = nullptr;
  bool admin = false;
  // Serve this listener's connections on a thread of its own (the admin
  // socket: slow control-plane work never delays the data plane).
  bool dedicated_worker = false;
  // Decides whether a peer may connect (given its SO_PEERCRED and
  // supplementary groups); empty: everyone may.
  std::function<bool(const PeerCredentials& peer)> allow_peer;
};

struct ServerStats {
  uint64_t connections = 0;
  uint64_t connections_total = 0;
  uint64_t commands = 0;
  uint64_t protocol_errors = 0;
  uint64_t output_overflows = 0;
  uint64_t rejected_max_clients = 0;
  uint64_t rejected_peers = 0;
};

class Server {
 public:
  Server(uv_loop_t* control_loop, int threads, const ConnectionLimits& limits, size_t max_connections);
  ~Server();

  // Binds a listener (stale-socket handling in listen_unix). Call before start().
  std::expected<void, std::string> listen(ListenerOptions options);
  // Starts the workers and begins accepting.
  std::expected<void, std::string> start();
  // Stops accepting and removes the socket files (the thread of the
  // server's loop). Then stop() may run on another thread.
  void stop_listening();
  // Stops accepting (if stop_listening has not), drains and joins the workers.
  void stop();
  // Commit tickets became durable: every worker sends the replies they
  // released. Thread-safe.
  void wake_commits();

  int threads() const { return static_cast<int>(workers_.size()); }
  ServerStats stats() const;

 private:
  struct Listener {
    Server* server;
    ListenerOptions options;
    int fd = -1;
    uv_poll_t poll;
    bool polling = false;
    std::unique_ptr<Worker> own_worker;
  };
  static void on_acceptable(uv_poll_t* poll, int status, int events);
  void accept_all(Listener& l);

  uv_loop_t* control_loop_;
  ConnectionLimits limits_;
  size_t max_connections_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  size_t next_worker_ = 0;
  uint64_t next_session_id_ = 1;
  uint64_t rejected_max_clients_ = 0;
  uint64_t rejected_peers_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  bool listening_stopped_ = false;
};

}  // namespace tollgate
