#include "net/connection.h"

#include <unistd.h>

#include <cstring>

#include "net/worker.h"

namespace tollgate {
namespace {

constexpr size_t kInitialInput = 16 * 1024;
constexpr size_t kMinFreeInput = 4 * 1024;

}  // namespace

Connection::Connection(Worker& worker, Service& service, const ConnectionLimits& limits, Session session)
    : worker_(worker), service_(service), limits_(limits), session_(std::move(session)), parser_(limits.parser) {
  handle_.data = this;
  release_timer_.data = this;
  write_req_.data = this;
  in_.resize(kInitialInput);
  out_.reserve(kInitialInput);
  writing_.reserve(kInitialInput);
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
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), on_alloc, on_read) != 0) {
    close();
    return true;
  }
  reading_ = true;
  return true;
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

// Sends the held replies that are due. The service's clock is read by
// begin_batch, as for a read batch.
void Connection::on_release_timer(uv_timer_t* t) {
  auto* self = static_cast<Connection*>(t->data);
  self->timer_armed_for_ = OutputBarriers::kNone;
  self->service_.begin_batch(self->session_.worker);
  self->flush();
  self->service_.end_batch(self->session_.worker);
}

void Connection::arm_release_timer(Nanos now, uint64_t durable) {
  Nanos next = barriers_.next_release(durable);
  // Shutting down while a reply waits for its commit: give up at the deadline.
  if (close_when_flushed_ && barriers_.waits_for_commit(durable)) next = close_deadline_;
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
}

// Offers the free tail of the input buffer, growing it when a single
// pending command needs more room (bounded by the parser's limits).
void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(h->data);
  if (self->in_.size() - self->in_len_ < kMinFreeInput) self->in_.resize(self->in_.size() * 2);
  buf->base = self->in_.data() + self->in_len_;
  buf->len = self->in_.size() - self->in_len_;
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<Connection*>(s->data);
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {         // EOF or error: nothing more will come
    self->close();
    return;
  }
  self->in_len_ += static_cast<size_t>(nread);
  self->process();
}

// Runs every complete command in the input, then writes all their replies in
// one go. A malformed frame gets an error reply and closes the connection.
void Connection::process() {
  resp::ReplyWriter writer(out_);
  size_t parsed = 0;
  service_.begin_batch(session_.worker);
  session_.now = service_.batch_now(session_.worker);
  service_.prefetch(std::string_view(in_.data(), in_len_));
  uint64_t commands = 0;
  while (!close_when_flushed_) {
    std::string_view input(in_.data() + parsed, in_len_ - parsed);
    resp::ParseStatus status = parser_.parse(input);
    if (status == resp::ParseStatus::kNeedMore) break;
    if (status == resp::ParseStatus::kError) {
      writer.error(std::string("ERR ") + std::string(parser_.error()));
      worker_.stats().protocol_errors.fetch_add(1, std::memory_order_relaxed);
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
  }
  service_.end_batch(session_.worker);
  worker_.rearm(service_);
  worker_.stats().commands.fetch_add(commands, std::memory_order_relaxed);

  if (parsed == in_len_) {
    in_len_ = 0;
  } else if (parsed > 0) {
    std::memmove(in_.data(), in_.data() + parsed, in_len_ - parsed);
    in_len_ -= parsed;
  }
  if (in_len_ == 0 && in_.size() > 4 * kInitialInput) {
    in_.resize(kInitialInput);
    in_.shrink_to_fit();
  }
  if (close_when_flushed_ && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  }
  flush();
}

// Writes what may go: everything queued up to the first held reply whose
// time has not come; first a non-blocking try, then an async write for the
// rest. While a write is in flight, new replies queue behind it.
void Connection::flush() {
  if (closing_) return;
  Nanos now = service_.batch_now(session_.worker);
  const uint64_t durable = barriers_.empty() ? OutputBarriers::kAllDurable : service_.durable_through();
  size_t ready = barriers_.writable(out_.size(), now, durable);
  if (!write_in_flight_ && ready > 0) {
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(ready));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
      close();
      return;
    }
    size_t written = n > 0 ? static_cast<size_t>(n) : 0;
    if (written < ready) {
      writing_.assign(out_, written, ready - written);
      uv_buf_t rest = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
      if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), &rest, 1, on_write) != 0) {
        close();
        return;
      }
      write_in_flight_ = true;
    }
    if (ready == out_.size()) out_.clear();
    else out_.erase(0, ready);  // only while replies are held
    barriers_.consumed(ready);
  }
  size_t unwritten = out_.size() + (write_in_flight_ ? writing_.size() : 0);
  if (unwritten > limits_.max_output) {  // a client that never reads (held replies count too)
    worker_.stats().output_overflows.fetch_add(1, std::memory_order_relaxed);
    close();
    return;
  }
  if (close_when_flushed_ && !barriers_.empty() &&
      (barriers_.waits_for_commit(durable) ? now >= close_deadline_ : barriers_.next_release() > close_deadline_)) {
    close();  // shutting down: what is held past the grace is not sent
    return;
  }
  if (reading_ && unwritten > limits_.pause_output) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  } else if (!reading_ && !close_when_flushed_ && unwritten <= limits_.pause_output) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), on_alloc, on_read) == 0;
  }
  if (close_when_flushed_ && !write_in_flight_ && out_.empty()) {
    close();
    return;
  }
  if (barriers_.waits_for_commit(durable)) worker_.wait_for_commit(this);
  arm_release_timer(now, durable);
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->write_in_flight_ = false;
  self->writing_.clear();
  if (status < 0) {
    self->close();
    return;
  }
  self->flush();
}

}  // namespace tollgate
