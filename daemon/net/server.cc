#include "net/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "net/tcp_socket.h"
#include "net/unix_socket.h"

namespace tollgate {

namespace {

int open_spare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

void refuse_connection(int fd, std::string_view message) {
  [[maybe_unused]] auto n = ::write(fd, message.data(), message.size());
  ::close(fd);
}

}  // namespace

Server::Server(uv_loop_t* control_loop, int threads, const ConnectionLimits& limits, size_t max_connections)
    : control_loop_(control_loop),
      limits_(limits),
      input_budget_(limits.max_input_total),
      data_count_(max_connections) {
  limits_.input_budget = &input_budget_;
  limits_.clients = &clients_;
  for (int i = 0; i < std::max(1, threads); ++i) workers_.push_back(std::make_unique<Worker>(i, limits_));
  spare_fd_ = open_spare();
}

Server::~Server() {
  stop();
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

std::expected<std::string, std::string> Server::listen(ListenerOptions options) {
  std::expected<int, std::string> fd;
  if (options.tcp) {
    auto address = parse_tcp_address(options.path);
    if (!address) return std::unexpected(address.error());
    fd = listen_tcp(*address, options.path);
  } else {
    fd = listen_unix(options.path, options.mode, 1024, options.group);
  }
  if (!fd) return std::unexpected(fd.error());
  std::string bound = options.path;
  auto l = std::make_unique<Listener>();
  l->server = this;
  l->options = std::move(options);
  l->fd = *fd;
  l->poll.data = l.get();
  if (l->options.dedicated_worker) l->own_worker = std::make_unique<Worker>(0, limits_);
  listeners_.push_back(std::move(l));
  return bound;
}

std::expected<void, std::string> Server::start() {
  // The shared workers serve the listeners without a worker of their own;
  // their timers start armed for that service (e.g. restored holds' expiry).
  Service* shared = nullptr;
  for (auto& l : listeners_)
    if (!l->own_worker && l->options.protocol == nullptr) shared = l->options.service;
  for (auto& w : workers_)
    if (!w->start(shared)) return std::unexpected("cannot start a worker loop");
  for (auto& l : listeners_)
    if (l->own_worker && !l->own_worker->start()) return std::unexpected("cannot start the admin worker loop");
  for (auto& l : listeners_) {
    if (uv_timer_init(control_loop_, &l->backoff) != 0) return std::unexpected("cannot set up a timer");
    l->backoff.data = l.get();
    l->timer_open = true;
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
    l->server->log_.error("listener error", "listener {}: {}", l->options.path, uv_strerror(status));
    l->server->pause(*l);  // an error that persists must not spin the loop either
    return;
  }
  l->server->accept_all(*l);
}

void Server::on_backoff(uv_timer_t* timer) {
  auto* l = static_cast<Listener*>(timer->data);
  if (!l->paused || l->server->listening_stopped_) return;
  l->paused = false;
  if (uv_poll_start(&l->poll, UV_READABLE, on_acceptable) == 0) l->polling = true;
}

// Stops watching the listener for kAcceptBackoffMs (its backlog waits).
void Server::pause(Listener& l) {
  if (l.paused || !l.polling || listening_stopped_) return;
  uv_poll_stop(&l.poll);
  l.paused = true;
  accept_pauses_.fetch_add(1, std::memory_order_relaxed);
  uv_timer_start(&l.backoff, on_backoff, kAcceptBackoffMs, 0);
}

// Out of descriptors, the listener stays readable: retrying at once would
// spin. Give up the spare descriptor to refuse_connection (with a reason) what already
// waits, take it back, and stop watching for a while.
void Server::out_of_descriptors(Listener& l, int error) {
  int refused = 0;
  if (spare_fd_ >= 0) {
    ::close(spare_fd_);
    spare_fd_ = -1;
    constexpr std::string_view kMsg = "-ERR server out of file descriptors, try again later\r\n";
    for (; refused < kMaxRefusedPerPause; ++refused) {
      int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      refuse_connection(fd, kMsg);
    }
    spare_fd_ = open_spare();  // fails while still out: retried at the next pause
  }
  rejected_fd_limit_.fetch_add(static_cast<uint64_t>(refused), std::memory_order_relaxed);
  log_.warn(error == ENFILE ? "accept ENFILE" : "accept EMFILE",
            "accept on {}: {} ({} data and {} admin connections open); refused {} waiting, not accepting for {} ms",
            l.options.path, std::strerror(error), data_count_.open(), admin_count_.open(), refused, kAcceptBackoffMs);
  pause(l);
}

// Accepts the waiting connections (at most kMaxAcceptsPerWakeup, so the
// control loop stays responsive; the poll fires again for the rest), checks
// the peer, counts it, and hands each to the next worker. Connections over
// the limit get an error and are closed.
void Server::accept_all(Listener& l) {
  for (int accepted = 0; accepted < kMaxAcceptsPerWakeup; ++accepted) {
    int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) return;
      if (error == EMFILE || error == ENFILE) return out_of_descriptors(l, error);
      if (error == ECONNABORTED || error == EPROTO || error == EPERM) continue;  // that one peer's problem
      log_.warn("accept error", "accept on {}: {}; not accepting for {} ms", l.options.path, std::strerror(error),
                kAcceptBackoffMs);
      return pause(l);  // ENOBUFS, ENOMEM, ...: back off
    }
    Session session;
    // Supplementary groups only where a peer check needs them (admin socket).
    const PeerCredentials peer = read_peer_credentials(fd, static_cast<bool>(l.options.allow_peer));
    session.peer_uid = peer.uid;
    session.peer_gid = peer.gid;
    session.peer_pid = peer.pid;
    if (l.options.allow_peer && !l.options.allow_peer(peer)) {
      rejected_peers_.fetch_add(1, std::memory_order_relaxed);
      log_.warn("refused peer", "{}: refused peer uid {} gid {} pid {}", l.options.path, session.peer_uid,
                session.peer_gid, session.peer_pid);
      refuse_connection(fd, "-ERR permission denied: this uid/gid is not allowed on the admin socket\r\n");
      continue;
    }
    ConnectionSlot slot = l.own_worker ? admin_count_.try_acquire() : data_count_.try_acquire();
    if (!slot) {
      rejected_max_clients_.fetch_add(1, std::memory_order_relaxed);
      refuse_connection(fd, l.own_worker ? "-ERR max number of admin clients reached\r\n"
                              : "-ERR max number of clients reached\r\n");
      continue;
    }
    session.id = next_session_id_++;
    session.admin = l.options.admin;
    Worker& w = l.own_worker ? *l.own_worker : *workers_[next_worker_++ % workers_.size()];
    w.adopt(fd, *l.options.service, std::move(session), std::move(slot), l.options.protocol);
  }
}

void Server::stop_listening() {
  if (listening_stopped_) return;
  listening_stopped_ = true;
  for (auto& l : listeners_) {
    if (l->timer_open) {
      uv_timer_stop(&l->backoff);
      uv_close(reinterpret_cast<uv_handle_t*>(&l->backoff), nullptr);
      l->timer_open = false;
    }
    if (l->polling || l->paused) {  // a paused poll is stopped but still open
      uv_poll_stop(&l->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&l->poll), nullptr);
      l->polling = false;
      l->paused = false;
    }
    if (l->fd >= 0) {
      ::close(l->fd);
      if (!l->options.tcp) ::unlink(l->options.path.c_str());
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

void Server::wake_pushes() {
  for (auto& w : workers_) w->wake_pushes();
  for (auto& l : listeners_)
    if (l->own_worker) l->own_worker->wake_pushes();
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
    s.input_buffer_drops += ws.input_drops.load(std::memory_order_relaxed);
    s.idle_timeouts += ws.idle_timeouts.load(std::memory_order_relaxed);
    s.frame_timeouts += ws.frame_timeouts.load(std::memory_order_relaxed);
  }
  for (const auto& l : listeners_) {
    if (!l->own_worker) continue;
    s.input_buffer_drops += l->own_worker->stats().input_drops.load(std::memory_order_relaxed);
    s.output_overflows += l->own_worker->stats().output_overflows.load(std::memory_order_relaxed);
    s.protocol_errors += l->own_worker->stats().protocol_errors.load(std::memory_order_relaxed);
    s.idle_timeouts += l->own_worker->stats().idle_timeouts.load(std::memory_order_relaxed);
    s.frame_timeouts += l->own_worker->stats().frame_timeouts.load(std::memory_order_relaxed);
  }
  s.connections = data_count_.open();  // counted from accept: includes those not yet adopted
  s.rejected_max_clients = rejected_max_clients_.load(std::memory_order_relaxed);
  s.rejected_peers = rejected_peers_.load(std::memory_order_relaxed);
  s.rejected_fd_limit = rejected_fd_limit_.load(std::memory_order_relaxed);
  s.accept_pauses = accept_pauses_.load(std::memory_order_relaxed);
  s.input_buffer_bytes = input_budget_.used();
  return s;
}

}  // namespace tollgate
