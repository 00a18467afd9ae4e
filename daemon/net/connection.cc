#include "net/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "log/log_limiter.h"
#include "net/client_registry.h"
#include "net/input_budget.h"
#include "net/worker.h"

namespace tollgate {
namespace {

// Drops and protocol errors are caused by clients: one line per cause per
// interval, for all connections of the process.
LogLimiter& connection_log() {
  static LogLimiter limiter;
  return limiter;
}

constexpr std::string_view kFrameTimeoutError =
    "-ERR request incomplete for longer than server.frame_timeout, closing\r\n";

constexpr std::string_view kInputBudgetError =
    "-ERR input buffers over server.max_input_total: this connection holds one of the largest, closing\r\n";

}  // namespace

Connection::Connection(Worker& worker, Service& service, const ConnectionLimits& limits, Session session,
                       ConnectionSlot slot)
    : worker_(worker),
      service_(service),
      limits_(limits),
      session_(std::move(session)),
      slot_(std::move(slot)),
      parser_(limits.parser) {
  handle_.data = this;
  release_timer_.data = this;
  write_req_.data = this;
  in_.resize(kInitialInput);
  out_.reserve(kInitialOutput);
}

// The input budget forgets this connection's bytes; the slot gives its
// count back (its destructor).
Connection::~Connection() {
  if (limits_.input_budget != nullptr) limits_.input_budget->remove(this);
}

bool Connection::open(int fd) {
  if (uv_pipe_init(worker_.loop(), &handle_, 0) != 0) return false;
  ++open_handles_;
  worker_.attach(this);
  if (uv_timer_init(worker_.loop(), &release_timer_) != 0) {
    ::close(fd);
    close();
    return true;
  }
  ++open_handles_;
  if (uv_pipe_open(&handle_, fd) != 0) {
    ::close(fd);
    close();
    return true;
  }
  register_client(fd);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), on_alloc, on_read) != 0) {
    close();
    return true;
  }
  reading_ = true;
  last_read_ms_ = uv_now(worker_.loop());
  return true;
}

namespace {

// Redis's address form: "ip:port", or "<path>:0" for a Unix socket.
std::string socket_address(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return "";
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
    const size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    return std::string(un->sun_path, strnlen(un->sun_path, n)) + ":0";
  }
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in6->sin6_port));
  }
  return "";
}

}  // namespace

// Once per connection (not the hot path): the record CLIENT LIST shows. A
// Unix peer has no name of its own: Redis shows the socket's path for it too.
void Connection::register_client(int fd) {
  if (limits_.clients == nullptr) return;
  auto record = std::make_shared<ClientRecord>();
  record->id = session_.id;
  record->admin = session_.admin;
  record->fd = fd;
  record->laddr = socket_address(fd, false);
  record->addr = socket_address(fd, true);
  if (record->addr.empty() || record->addr == ":0") record->addr = record->laddr;
  record->created_ms = uv_now(worker_.loop());
  record->last_command_ms.store(record->created_ms, std::memory_order_relaxed);
  record->imem.store(in_.size(), std::memory_order_relaxed);
  record->owner = &worker_;
  session_.record = limits_.clients->add(std::move(record));
  session_.clients = limits_.clients;
}

// Once per read batch, relaxed stores only (see net/client_registry.h).
void Connection::publish_batch(uint64_t now_ms) {
  ClientRecord* r = session_.record.get();
  if (r == nullptr) return;
  r->last_command_ms.store(now_ms, std::memory_order_relaxed);
  r->qbuf.store(in_len_, std::memory_order_relaxed);
  r->imem.store(in_.size(), std::memory_order_relaxed);
  r->obl.store(unwritten(), std::memory_order_relaxed);
  r->omem.store(out_.capacity() + writing_.capacity(), std::memory_order_relaxed);
}

void Connection::kill() {
  if (closing_) return;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
  reading_ = false;
  close();
}

void Connection::shutdown() {
  if (closing_) return;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
  reading_ = false;
  close_when_flushed_ = true;
  if (!barriers_.empty()) {
    // The worker may have been idle: read the clock afresh for the grace.
    service_.begin_batch(session_.worker);
    close_deadline_ = service_.batch_now(session_.worker) + kShutdownGrace;
    service_.end_batch(session_.worker);
  }
  if (!write_in_flight_ && out_.empty()) close();
  else flush();
}

// Closes both handles; the last close callback frees the connection (libuv
// may touch a handle until its own callback has run).
void Connection::close() {
  if (closing_) return;
  closing_ = true;
  // Leaves CLIENT LIST before the socket closes: a peer that saw EOF is not
  // listed (nor counted by another CLIENT KILL) any more.
  if (session_.clients != nullptr) session_.clients->remove(session_.id);
  barriers_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
  // The timer is initialized iff open() counted it (the pipe is always first).
  if (open_handles_ == 2) uv_close(reinterpret_cast<uv_handle_t*>(&release_timer_), on_close);
}

void Connection::on_close(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  if (--self->open_handles_ > 0) return;
  self->worker_.detach(self);
  delete self;
}

// Sends the held replies that are due (and checks a stalled peer). The
// service's clock is read by begin_batch, as for a read batch.
void Connection::on_release_timer(uv_timer_t* t) {
  auto* self = static_cast<Connection*>(t->data);
  self->timer_armed_for_ = OutputBarriers::kNone;
  self->service_.begin_batch(self->session_.worker);
  self->flush();
  self->service_.end_batch(self->session_.worker);
  self->resume_input();
}

void Connection::arm_release_timer(Nanos now, uint64_t durable) {
  Nanos next = barriers_.next_release(durable);
  // Shutting down while a reply waits for its commit: give up at the deadline.
  if (close_when_flushed_ && barriers_.waits_for_commit(durable)) next = close_deadline_;
  if (stalled_) {  // rare (a peer not reading): re-armed at every flush, in loop time
    const uint64_t loop_now = uv_now(worker_.loop());
    const uint64_t stall_deadline = stall_since_ms_ + static_cast<uint64_t>(ceil_millis(limits_.output_stall_timeout));
    uint64_t delay = stall_deadline > loop_now ? stall_deadline - loop_now : 1;
    if (next != OutputBarriers::kNone) delay = std::min(delay, static_cast<uint64_t>(ceil_millis(next - now)));
    timer_armed_for_ = kArmedForStall;
    uv_timer_start(&release_timer_, on_release_timer, std::max<uint64_t>(delay, 1), 0);
    return;
  }
  if (next == timer_armed_for_) return;
  timer_armed_for_ = next;
  if (next == OutputBarriers::kNone) {
    uv_timer_stop(&release_timer_);
    return;
  }
  // Whole milliseconds rounded up: the loop's timers are ms-grained, and a
  // held reply may go late but never early (an early wake-up re-arms).
  uint64_t delay_ms = static_cast<uint64_t>(ceil_millis(next - now));
  uv_timer_start(&release_timer_, on_release_timer, delay_ms == 0 ? 1 : delay_ms, 0);
}

void Connection::on_commit() {
  if (closing_) return;
  service_.begin_batch(session_.worker);
  flush();
  service_.end_batch(session_.worker);
  resume_input();
}

void Connection::on_push() {
  if (closing_ || close_when_flushed_) return;
  service_.begin_batch(session_.worker);
  resp::ReplyWriter writer(out_);
  service_.push(session_, writer);
  flush();  // drops the connection past max_output
  service_.end_batch(session_.worker);
}

// The input budget is charged before the buffer grows; when it picks other
// connections to drop, their workers are told (they close them on their own
// threads). False when this connection was picked itself.
bool Connection::charge_input(size_t new_size) {
  InputBudget* budget = limits_.input_budget;
  if (budget == nullptr) return true;
  std::vector<InputBudget::Victim> victims;
  const size_t grown = new_size > kInitialInput ? new_size - kInitialInput : 0;
  const bool granted = budget->set(this, &worker_, session_.id, grown, victims);
  for (const auto& v : victims) {
    if (v.group == &worker_ && v.id == session_.id) continue;  // this one: the caller closes it
    // Every connection registers the Worker that serves it as its group.
    static_cast<Worker*>(const_cast<void*>(v.group))->drop_for_input_budget(v.id);
  }
  return granted;
}

// Room for the next read: grow when less than kMinFreeInput is free, as data
// arrives (never ahead of it), geometrically (so a big request costs linear
// copying) but never past what the request in progress can need: the most
// any request may take within the parser's limits, and — while a bulk is
// awaited — not much past its end.
bool Connection::reserve_input() {
  const size_t size = in_.size();
  if (size - in_len_ >= kMinFreeInput) return true;
  const size_t until = parser_.awaiting_until();
  if (until > in_len_ && until <= size) return true;  // the awaited bulk fits what is free
  size_t target = size * 2;
  if (until > size) target = std::clamp(until + kMinFreeInput, size + size / 2, size * 2);
  target = std::min(target, resp::max_request_bytes(limits_.parser) + kMinFreeInput);
  if (target <= size) return size > in_len_;
  if (!charge_input(target)) return false;
  in_.resize(target);
  return true;
}

// Offers the free tail of the input buffer (see reserve_input). A zero-length
// buffer makes libuv report UV_ENOBUFS: the connection is closed then.
void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(h->data);
  if (!self->reserve_input()) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  buf->base = self->in_.data() + self->in_len_;
  buf->len = self->in_.size() - self->in_len_;
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<Connection*>(s->data);
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_ENOBUFS) {  // the input budget picked this connection
    self->drop_for_input_budget();
    return;
  }
  if (nread < 0) {         // EOF or error: nothing more will come
    self->close();
    return;
  }
  self->in_len_ += static_cast<size_t>(nread);
  self->last_read_ms_ = uv_now(self->worker_.loop());
  self->process();
}

void Connection::drop_for_input_budget() {
  if (closing_) return;
  worker_.stats().input_drops.fetch_add(1, std::memory_order_relaxed);
  connection_log().warn("input budget", "dropped connection {} (pid {}): its {} byte input buffer is among the "
                        "largest while input buffers exceed server.max_input_total ({} bytes)",
                        session_.id, session_.peer_pid, in_.size(),
                        limits_.input_budget != nullptr ? limits_.input_budget->limit() : 0);
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
  reading_ = false;
  // Best effort: the reason, if the socket takes it now; then close.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(kInputBudgetError.data()),
                             static_cast<unsigned>(kInputBudgetError.size()));
  if (!write_in_flight_ && out_.empty()) (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
  close();
}

void Connection::check_timeouts(uint64_t now_ms) {
  if (closing_ || close_when_flushed_) return;
  const uint64_t frame_ms = static_cast<uint64_t>(ceil_millis(limits_.frame_timeout));
  // Not while reading is paused for output: the peer cannot finish the frame then.
  if (frame_ms > 0 && partial_since_ms_ != 0 && reading_ && now_ms - partial_since_ms_ >= frame_ms) {
    worker_.stats().frame_timeouts.fetch_add(1, std::memory_order_relaxed);
    connection_log().warn("frame timeout", "closed connection {} (pid {}): {} bytes of a request incomplete for {} ms "
                          "(server.frame_timeout)", session_.id, session_.peer_pid, in_len_, now_ms - partial_since_ms_);
    if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(kFrameTimeoutError.data()),
                               static_cast<unsigned>(kFrameTimeoutError.size()));
    if (!write_in_flight_ && out_.empty()) (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
    close();
    return;
  }
  const uint64_t idle_ms = static_cast<uint64_t>(ceil_millis(limits_.idle_timeout));
  // Owed a reply (held, unwritten, awaiting a commit): waiting, not idle.
  const bool owed = !barriers_.empty() || write_in_flight_ || !out_.empty() || waiting_commit || input_waiting_;
  if (idle_ms > 0 && !owed && now_ms - last_read_ms_ >= idle_ms) {
    worker_.stats().idle_timeouts.fetch_add(1, std::memory_order_relaxed);
    close();  // silently, as Redis does
  }
}

void Connection::drop_for_output(const char* why) {
  worker_.stats().output_overflows.fetch_add(1, std::memory_order_relaxed);
  connection_log().warn(why, "dropped connection {} (pid {}): {} ({} bytes of replies unread)", session_.id,
                        session_.peer_pid, why, unwritten());
  close();
}

// Runs the complete commands in the input, writing their replies in one go
// at the end — unless they pile up past pause_output and the peer does not
// take them: then the rest waits (input_waiting_) until it has drained. If
// the final write found the peer drained after all, no write completion will
// come to resume it: go on at once.
void Connection::process() {
  do {
    run_batch();
  } while (input_waiting_ && !closing_ && !close_when_flushed_ && unwritten() <= pause_limit());
}

// One batch of process(). A malformed frame gets an error reply and closes
// the connection.
void Connection::run_batch() {
  resp::ReplyWriter writer(out_);
  size_t parsed = 0;
  input_waiting_ = false;
  in_batch_ = true;
  service_.begin_batch(session_.worker);
  session_.now = service_.batch_now(session_.worker);
  service_.prefetch(std::string_view(in_.data(), in_len_));
  uint64_t commands = 0;
  while (!close_when_flushed_ && !closing_) {
    if (unwritten() > pause_limit()) {  // give the peer what it can take before producing more
      const uint64_t durable = barriers_.empty() ? OutputBarriers::kAllDurable : service_.durable_through();
      if (!write_now(session_.now, durable, false)) break;
      if (unwritten() > pause_limit()) {
        input_waiting_ = parsed < in_len_;
        break;
      }
    }
    std::string_view input(in_.data() + parsed, in_len_ - parsed);
    resp::ParseStatus status = parser_.parse(input);
    if (status == resp::ParseStatus::kNeedMore) break;
    if (status == resp::ParseStatus::kError) {
      writer.error(std::string("ERR ") + std::string(parser_.error()));
      worker_.stats().protocol_errors.fetch_add(1, std::memory_order_relaxed);
      connection_log().warn("protocol error", "protocol error from connection {} (pid {} uid {}): {}", session_.id,
                            session_.peer_pid, session_.peer_uid, parser_.error());
      close_when_flushed_ = true;
      break;
    }
    parsed += parser_.consumed();
    ++commands;
    size_t reply_at = out_.size();
    service_.execute(parser_.args(), session_, writer);
    if (session_.release_at > session_.now || session_.commit_ticket != 0)
      barriers_.mark(reply_at, session_.release_at, session_.commit_ticket);
    session_.release_at = 0;
    session_.commit_ticket = 0;
    if (session_.close_after_reply) close_when_flushed_ = true;
    if (unwritten() > limits_.max_output) {  // one reply too large, or held replies piling up
      drop_for_output("output over server.max_output");
      break;
    }
  }
  service_.end_batch(session_.worker);
  worker_.rearm(service_);
  worker_.stats().commands.fetch_add(commands, std::memory_order_relaxed);
  in_batch_ = false;

  if (parsed == in_len_) {
    in_len_ = 0;
  } else if (parsed > 0) {
    std::memmove(in_.data(), in_.data() + parsed, in_len_ - parsed);
    in_len_ -= parsed;
  }
  // The frame clock: runs while the input holds only part of a request,
  // from the end of the last complete one.
  if (in_len_ == 0 || input_waiting_) partial_since_ms_ = 0;
  else if (parsed > 0 || partial_since_ms_ == 0) partial_since_ms_ = uv_now(worker_.loop());
  if (closing_) return;
  shrink_input();
  if (commands > 0) publish_batch(uv_now(worker_.loop()));
  if (close_when_flushed_ && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  }
  flush();
}

// A buffer grown for one big request goes back to the initial size once
// what it holds fits there again (and the budget forgets it).
void Connection::shrink_input() {
  if (in_.size() <= 4 * kInitialInput || in_len_ + kMinFreeInput > kInitialInput) return;
  std::string smaller(kInitialInput, '\0');
  std::memcpy(smaller.data(), in_.data(), in_len_);
  in_.swap(smaller);
  if (limits_.input_budget != nullptr) limits_.input_budget->remove(this);
}

// Runs the commands an output pause left in the input, once the peer has
// taken enough of the replies (on_write, or a release/commit that let held
// ones go).
void Connection::resume_input() {
  if (!input_waiting_ || in_batch_ || closing_ || close_when_flushed_ || unwritten() > pause_limit()) return;
  process();
}

bool Connection::write_now(Nanos now, uint64_t durable, bool queue_rest) {
  size_t ready = barriers_.writable(out_.size(), now, durable);
  if (write_in_flight_ || ready == 0) return true;
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(ready));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    close();
    return false;
  }
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  size_t taken = written;
  if (written < ready && queue_rest) {
    if (written == 0 && ready == out_.size()) {
      writing_.swap(out_);  // the whole buffer goes: no copy
    } else {
      writing_.assign(out_, written, ready - written);
    }
    uv_buf_t rest = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
    if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), &rest, 1, on_write) != 0) {
      close();
      return false;
    }
    write_in_flight_ = true;
    taken = ready;
  }
  if (taken == out_.size()) out_.clear();  // also after the swap (out_ is writing_'s old buffer)
  else if (taken > 0) out_.erase(0, taken);
  barriers_.consumed(taken);
  if (out_.empty() && out_.capacity() > kIdleOutputCapacity) {
    std::string().swap(out_);
    out_.reserve(kInitialOutput);
  }
  return true;
}

// Writes what may go: everything queued up to the first held reply whose
// time has not come; first a non-blocking try, then an async write for the
// rest. While a write is in flight, new replies queue behind it. Then the
// bounds: dropped past max_output or when stalled too long; reading paused
// over pause_output.
void Connection::flush() {
  if (closing_) return;
  Nanos now = service_.batch_now(session_.worker);
  const uint64_t durable = barriers_.empty() ? OutputBarriers::kAllDurable : service_.durable_through();
  if (!write_now(now, durable, true)) return;
  size_t unwritten = this->unwritten();
  if (unwritten > limits_.max_output) {  // a client that never reads (held replies count too)
    drop_for_output("output over server.max_output");
    return;
  }
  // A peer that takes nothing of a pending write while over the pause mark:
  // dropped after the stall timeout. Held replies are not its fault. Timed
  // on the loop's clock, read afresh (a long batch makes `now` stale).
  if (write_in_flight_ && unwritten > pause_limit()) {
    uv_update_time(worker_.loop());
    const uint64_t loop_now = uv_now(worker_.loop());
    const size_t queued = handle_.write_queue_size;
    const bool due = stalled_ && queued >= stall_queue_ &&
                     loop_now - stall_since_ms_ >= static_cast<uint64_t>(ceil_millis(limits_.output_stall_timeout));
    // Due: unless the socket has room (the peer read and this loop has not
    // written since — e.g. this thread was busy), it took nothing: drop it.
    if (due && !socket_writable()) {
      drop_for_output("peer stopped reading its replies");
      return;
    }
    if (!stalled_ || queued < stall_queue_ || due) {
      stalled_ = true;  // stalled from now, or it took some: the clock restarts
      stall_since_ms_ = loop_now;
      stall_queue_ = queued;
    }
  } else {
    stalled_ = false;
  }
  if (close_when_flushed_ && !barriers_.empty() &&
      (barriers_.waits_for_commit(durable) ? now >= close_deadline_ : barriers_.next_release() > close_deadline_)) {
    close();  // shutting down: what is held past the grace is not sent
    return;
  }
  if (reading_ && unwritten > pause_limit()) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  } else if (!reading_ && !close_when_flushed_ && !input_waiting_ && unwritten <= pause_limit()) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), on_alloc, on_read) == 0;
  }
  if (close_when_flushed_ && !write_in_flight_ && out_.empty()) {
    close();
    return;
  }
  if (barriers_.waits_for_commit(durable)) worker_.wait_for_commit(this);
  arm_release_timer(now, durable);
}

bool Connection::socket_writable() const {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd) != 0) return false;
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->write_in_flight_ = false;
  self->stalled_ = false;  // the peer took a whole write
  self->writing_.clear();
  if (self->writing_.capacity() > kIdleOutputCapacity) std::string().swap(self->writing_);
  if (status < 0) {
    self->close();
    return;
  }
  // Fresh time for what flush decides (held replies due, the stall clock):
  // the last batch may be long past.
  self->service_.begin_batch(self->session_.worker);
  self->flush();
  self->service_.end_batch(self->session_.worker);
  self->resume_input();
}

}  // namespace tollgate
