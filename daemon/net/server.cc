#include "net/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <spdlog/spdlog.h>

#include "net/unix_socket.h"

namespace tollgate {

Server::Server(uv_loop_t* control_loop, int threads, const ConnectionLimits& limits, size_t max_connections)
    : control_loop_(control_loop), limits_(limits), max_connections_(max_connections) {
  for (int i = 0; i < std::max(1, threads); ++i) workers_.push_back(std::make_unique<Worker>(i, limits_));
}

Server::~Server() { stop(); }

std::expected<void, std::string> Server::listen(ListenerOptions options) {
  auto fd = listen_unix(options.path, options.mode);
  if (!fd) return std::unexpected(fd.error());
  auto l = std::make_unique<Listener>();
  l->server = this;
  l->options = std::move(options);
  l->fd = *fd;
  l->poll.data = l.get();
  if (l->options.dedicated_worker) l->own_worker = std::make_unique<Worker>(0, limits_);
  listeners_.push_back(std::move(l));
  return {};
}

std::expected<void, std::string> Server::start() {
  // The shared workers serve the listeners without a worker of their own;
  // their timers start armed for that service (e.g. restored holds' expiry).
  Service* shared = nullptr;
  for (auto& l : listeners_)
    if (!l->own_worker) shared = l->options.service;
  for (auto& w : workers_)
    if (!w->start(shared)) return std::unexpected("cannot start a worker loop");
  for (auto& l : listeners_)
    if (l->own_worker && !l->own_worker->start()) return std::unexpected("cannot start the admin worker loop");
  for (auto& l : listeners_) {
    if (uv_poll_init(control_loop_, &l->poll, l->fd) != 0 || uv_poll_start(&l->poll, UV_READABLE, on_acceptable) != 0)
      return std::unexpected("cannot watch listener " + l->options.path);
    l->polling = true;
  }
  started_ = true;
  return {};
}

void Server::on_acceptable(uv_poll_t* poll, int status, int) {
  auto* l = static_cast<Listener*>(poll->data);
  if (status < 0) {
    spdlog::error("listener {}: {}", l->options.path, uv_strerror(status));
    return;
  }
  l->server->accept_all(*l);
}

// Accepts every waiting connection, checks the peer, and hands each to the
// next worker. Connections over max_connections get an error and are closed.
void Server::accept_all(Listener& l) {
  for (;;) {
    int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        spdlog::warn("accept on {}: {}", l.options.path, std::strerror(errno));
      return;
    }
    Session session;
    // Supplementary groups only where a peer check needs them (admin socket).
    const PeerCredentials peer = read_peer_credentials(fd, static_cast<bool>(l.options.allow_peer));
    session.peer_uid = peer.uid;
    session.peer_gid = peer.gid;
    session.peer_pid = peer.pid;
    if (l.options.allow_peer && !l.options.allow_peer(peer)) {
      ++rejected_peers_;
      spdlog::warn("{}: refused peer uid {} gid {} pid {}", l.options.path, session.peer_uid,
                   session.peer_gid, session.peer_pid);
      constexpr std::string_view kMsg = "-ERR permission denied: this uid/gid is not allowed on the admin socket\r\n";
      [[maybe_unused]] auto n = ::write(fd, kMsg.data(), kMsg.size());
      ::close(fd);
      continue;
    }
    if (!l.own_worker && stats().connections >= max_connections_) {
      ++rejected_max_clients_;
      constexpr std::string_view kMsg = "-ERR max number of clients reached\r\n";
      [[maybe_unused]] auto n = ::write(fd, kMsg.data(), kMsg.size());
      ::close(fd);
      continue;
    }
    session.id = next_session_id_++;
    session.admin = l.options.admin;
    Worker& w = l.own_worker ? *l.own_worker : *workers_[next_worker_++ % workers_.size()];
    w.adopt(fd, *l.options.service, std::move(session));
  }
}

void Server::stop_listening() {
  if (listening_stopped_) return;
  listening_stopped_ = true;
  for (auto& l : listeners_) {
    if (l->polling) {
      uv_poll_stop(&l->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&l->poll), nullptr);
      l->polling = false;
    }
    if (l->fd >= 0) {
      ::close(l->fd);
      ::unlink(l->options.path.c_str());
      l->fd = -1;
    }
  }
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_listening();
  for (auto& w : workers_) w->stop();
  for (auto& l : listeners_)
    if (l->own_worker) l->own_worker->stop();
  for (auto& w : workers_) w->join();
  for (auto& l : listeners_)
    if (l->own_worker) l->own_worker->join();
}

void Server::wake_commits() {
  for (auto& w : workers_) w->wake_commits();
}

ServerStats Server::stats() const {
  ServerStats s;
  for (const auto& w : workers_) {
    const WorkerStats& ws = w->stats();
    s.connections += ws.connections.load(std::memory_order_relaxed);
    s.connections_total += ws.connections_total.load(std::memory_order_relaxed);
    s.commands += ws.commands.load(std::memory_order_relaxed);
    s.protocol_errors += ws.protocol_errors.load(std::memory_order_relaxed);
    s.output_overflows += ws.output_overflows.load(std::memory_order_relaxed);
  }
  s.rejected_max_clients = rejected_max_clients_;
  s.rejected_peers = rejected_peers_;
  return s;
}

}  // namespace tollgate
