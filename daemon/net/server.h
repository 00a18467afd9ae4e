// The daemon's transport: listening sockets accepted on the control loop and
// connections spread round-robin over N worker loops.
//
// Resource bounds: a connection counts against max_connections (data
// listeners) or kMaxAdminConnections (listeners with a worker of their own)
// from the moment it is accepted until it is freed (ConnectionCount), so a
// burst cannot pass the limit while workers catch up. Out of descriptors
// (EMFILE/ENFILE) the acceptor refuses what waits with a spare descriptor
// kept for this (accept, say why, close), stops watching that listener for
// kAcceptBackoff and logs it rate-limited — it never spins on a listener
// that stays readable. Input buffers share one InputBudget
// (limits.max_input_total).
// Thread-safety: create, start and stop from the control-plane thread;
// stats() from any thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "log/log_limiter.h"
#include "net/client_registry.h"
#include "net/connection.h"
#include "net/connection_count.h"
#include "net/input_budget.h"
#include "net/peer_credentials.h"
#include "net/protocol.h"
#include "net/service.h"
#include "net/worker.h"

namespace tollgate {

struct ListenerOptions {
  std::string path;  // a Unix socket; with `tcp`, "host:port" (net/tcp_socket.h)
  bool tcp = false;
  // Serve connections with this protocol instead of RESP (net/protocol.h);
  // `service` still gives the workers' timer its deadlines.
  Protocol* protocol = nullptr;
  int mode = 0660;
  int group = -1;  // gid the socket file is given; -1: the daemon's
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
  uint64_t rejected_fd_limit = 0;    // refused for lack of file descriptors
  uint64_t accept_pauses = 0;        // times a listener stopped accepting for kAcceptBackoff
  uint64_t input_buffer_bytes = 0;   // input buffers beyond their initial size, all connections
  uint64_t input_buffer_drops = 0;   // connections dropped to keep that under max_input_total
  uint64_t idle_timeouts = 0;        // clients closed after server.timeout without a request
  uint64_t frame_timeouts = 0;       // clients closed with a request incomplete past server.frame_timeout
};

class Server {
 public:
  // Connections at most on a listener with a worker of its own (the admin socket).
  static constexpr size_t kMaxAdminConnections = 64;
  // How long a listener is not watched after running out of descriptors.
  static constexpr uint64_t kAcceptBackoffMs = 100;
  // Connections refused per wake-up while out of descriptors (the rest wait).
  static constexpr int kMaxRefusedPerPause = 64;
  // Accepts per wake-up of a listener, so a flood cannot hold the control loop.
  static constexpr int kMaxAcceptsPerWakeup = 256;

  Server(uv_loop_t* control_loop, int threads, const ConnectionLimits& limits, size_t max_connections);
  ~Server();

  // Binds a listener (stale-socket handling in listen_unix). Call before
  // start(). Returns the address bound ("host:port" with the real port for
  // TCP, the path otherwise).
  std::expected<std::string, std::string> listen(ListenerOptions options);
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
  // Something to push happened (EVENTS FOLLOW): every worker, the admin
  // socket's own included, lets its pushing connections write. Thread-safe
  // once start() has returned (the listeners no longer change).
  void wake_pushes();

  int threads() const { return static_cast<int>(workers_.size()); }
  ServerStats stats() const;

 private:
  struct Listener {
    Server* server;
    ListenerOptions options;
    int fd = -1;
    uv_poll_t poll;
    uv_timer_t backoff;  // restarts the poll after a pause (control loop)
    bool polling = false;
    bool paused = false;
    bool timer_open = false;
    std::unique_ptr<Worker> own_worker;
  };
  static void on_acceptable(uv_poll_t* poll, int status, int events);
  static void on_backoff(uv_timer_t* timer);
  void accept_all(Listener& l);
  // Out of descriptors: refuse what waits (spare descriptor), pause, log.
  void out_of_descriptors(Listener& l, int error);
  void pause(Listener& l);

  uv_loop_t* control_loop_;
  ConnectionLimits limits_;
  InputBudget input_budget_;
  ClientRegistry clients_;  // every open RESP connection (CLIENT LIST / KILL)
  ConnectionCount data_count_;
  ConnectionCount admin_count_{kMaxAdminConnections};
  LogLimiter log_;
  int spare_fd_ = -1;  // kept open to be given up for a refusal when out of descriptors
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  size_t next_worker_ = 0;
  uint64_t next_session_id_ = 1;
  std::atomic<uint64_t> rejected_max_clients_{0};
  std::atomic<uint64_t> rejected_peers_{0};
  std::atomic<uint64_t> rejected_fd_limit_{0};
  std::atomic<uint64_t> accept_pauses_{0};
  bool started_ = false;
  bool stopped_ = false;
  bool listening_stopped_ = false;
};

}  // namespace tollgate
