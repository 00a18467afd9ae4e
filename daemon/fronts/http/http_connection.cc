#include "fronts/http/http_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "net/worker.h"

namespace tollgate::fronts {
namespace {

HttpConnection* self_of(http_parser* p) { return static_cast<HttpConnection*>(p->data); }

// A view extended by the next piece the parser hands over (pieces of one
// element are adjacent: the buffer keeps a message in one piece).
void extend(std::string_view& view, const char* at, size_t length) {
  if (view.data() == nullptr) view = std::string_view(at, length);
  else view = std::string_view(view.data(), static_cast<size_t>(at + length - view.data()));
}

void shift(std::string_view& view, size_t by) {
  if (view.data() != nullptr) view = std::string_view(view.data() - by, view.size());
}

}  // namespace

HttpConnection::HttpConnection(Worker& worker, HttpFront& front, Session session, ConnectionSlot slot)
    : worker_(worker), front_(front), session_(std::move(session)), slot_(std::move(slot)) {
  handle_.data = this;
  timer_.data = this;
  write_req_.data = this;
  parser_.data = this;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  const HttpFrontOptions& o = front.options();
  in_.resize(o.max_header_bytes + o.max_body_bytes + 1024);
  out_.reserve(4096);
  headers_.reserve(kMaxHeaders + 1);
  HttpWorkerStats& s = front_.stats(session_.worker);
  HttpWorkerStats::bump(s.connections_total);
  HttpWorkerStats::bump(s.connections);
}

HttpConnection::~HttpConnection() {
  HttpWorkerStats& s = front_.stats(session_.worker);
  s.connections.store(s.connections.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

bool HttpConnection::open(int fd) {
  int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on a Unix socket
  if (uv_pipe_init(worker_.loop(), &handle_, 0) != 0) {
    ::close(fd);
    return false;
  }
  ++open_handles_;
  worker_.attach(this);
  if (uv_timer_init(worker_.loop(), &timer_) != 0) {
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
  arm_timer();
  return true;
}

void HttpConnection::shutdown() {
  if (closing_) return;
  stop_reading();
  close_when_flushed_ = true;
  // Answers still waiting for their commit are not sent: they were never acknowledged.
  if (!barriers_.empty() || (!write_in_flight_ && out_.empty())) return close();
  flush();
}

void HttpConnection::close() {
  if (closing_) return;
  closing_ = true;
  barriers_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
  if (open_handles_ == 2) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void HttpConnection::on_close(uv_handle_t* h) {
  auto* self = static_cast<HttpConnection*>(h->data);
  if (--self->open_handles_ > 0) return;
  self->worker_.detach(self);
  delete self;
}

void HttpConnection::stop_reading() {
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
  reading_ = false;
}

void HttpConnection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(h->data);
  buf->base = self->in_.data() + self->in_len_;
  buf->len = self->in_.size() - self->in_len_;
}

void HttpConnection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<HttpConnection*>(s->data);
  if (nread == 0) return;
  if (nread == UV_ENOBUFS) {  // a request larger than any bound allows
    self->fail(self->headers_done_ ? 413 : 431, "request too large");
    self->flush();
    return;
  }
  if (nread < 0) {  // EOF or error: answers still queued go out only if the peer reads (half-close)
    self->stop_reading();
    self->close_when_flushed_ = true;
    if (!self->write_in_flight_ && self->out_.empty()) self->close();
    return;
  }
  self->in_len_ += static_cast<size_t>(nread);
  self->process();
}

// The parser's callbacks record views into in_; a callback's non-zero
// return stops the parser (the error is in pending_error_).
int HttpConnection::on_message_begin(http_parser* p) {
  HttpConnection* c = self_of(p);
  c->url_ = {};
  c->headers_.clear();
  c->in_value_ = false;
  c->body_ = {};
  c->headers_done_ = false;
  return 0;
}

int HttpConnection::on_url(http_parser* p, const char* at, size_t length) {
  extend(self_of(p)->url_, at, length);
  return 0;
}

int HttpConnection::on_header_field(http_parser* p, const char* at, size_t length) {
  HttpConnection* c = self_of(p);
  if (c->headers_.empty() || c->in_value_) {
    if (c->headers_.size() == kMaxHeaders) {
      c->pending_error_ = 431;
      return 1;
    }
    c->headers_.emplace_back();
    c->in_value_ = false;
  }
  extend(c->headers_.back().first, at, length);
  return 0;
}

int HttpConnection::on_header_value(http_parser* p, const char* at, size_t length) {
  HttpConnection* c = self_of(p);
  c->in_value_ = true;
  extend(c->headers_.back().second, at, length);
  return 0;
}

int HttpConnection::on_headers_complete(http_parser* p) {
  HttpConnection* c = self_of(p);
  c->headers_done_ = true;
  const HttpFrontOptions& o = c->front_.options();
  // The parse position is the end of the header block (start of the body).
  const char* last = c->url_.data() + c->url_.size();
  if (!c->headers_.empty()) {
    const auto& h = c->headers_.back();
    last = h.second.data() != nullptr ? h.second.data() + h.second.size() : h.first.data() + h.first.size();
  }
  if (static_cast<size_t>(last - (c->in_.data() + c->message_start_)) > o.max_header_bytes) {
    c->pending_error_ = 431;
    return -1;
  }
  if (p->flags & F_CHUNKED) {
    c->pending_error_ = 411;
    return -1;
  }
  if (p->content_length != ULLONG_MAX && p->content_length > o.max_body_bytes) {
    c->pending_error_ = 413;
    return -1;
  }
  return 0;
}

int HttpConnection::on_body(http_parser* p, const char* at, size_t length) {
  extend(self_of(p)->body_, at, length);
  return 0;
}

int HttpConnection::on_message_complete(http_parser* p) {
  HttpConnection* c = self_of(p);
  c->message_done_ = true;
  http_parser_pause(p, 1);  // answer it before parsing the next one
  return 0;
}

// Parses and answers every complete request in the input (one batch of the
// data service: one clock read, one reclaimer section), then writes the
// answers at once. The unanswered rest moves to the front of the buffer.
void HttpConnection::process() {
  static const http_parser_settings settings = [] {
    http_parser_settings s{};
    s.on_message_begin = on_message_begin;
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  if (closing_ || close_when_flushed_) return;
  DataService& data = front_.data();
  data.begin_batch(session_.worker);
  session_.now = data.batch_now(session_.worker);
  message_start_ = 0;
  for (;;) {
    if (parsed_ < in_len_)
      parsed_ += http_parser_execute(&parser_, &settings, in_.data() + parsed_, in_len_ - parsed_);
    if (message_done_) {
      if (!handle_request()) break;
      message_start_ = parsed_;
      partial_since_ms_ = 0;
      continue;
    }
    const http_errno error = HTTP_PARSER_ERRNO(&parser_);
    if (pending_error_ != 0) {
      const int status = pending_error_;
      fail(status, status == 431   ? "request line and headers too large (server.http.max_header_bytes) or too many header fields"
                   : status == 413 ? "body larger than server.http.max_body_bytes"
                                   : "chunked bodies are not accepted: send Content-Length");
      break;
    }
    if (error != HPE_OK) {
      fail(400, std::string("malformed HTTP request: ") + http_errno_description(error));
      break;
    }
    if (!headers_done_ && in_len_ - message_start_ > front_.options().max_header_bytes)
      fail(431, "request line and headers too large (server.http.max_header_bytes)");
    break;  // a partial request: wait for more
  }
  data.end_batch(session_.worker);
  if (message_start_ > 0 && !closing_) {  // keep only the request in progress, at the front
    const size_t by = message_start_;
    std::memmove(in_.data(), in_.data() + by, in_len_ - by);
    in_len_ -= by;
    parsed_ -= by;
    shift(url_, by);
    for (auto& [name, value] : headers_) {
      shift(name, by);
      shift(value, by);
    }
    shift(body_, by);
    message_start_ = 0;
  }
  flush();
  arm_timer();
}

bool HttpConnection::handle_request() {
  message_done_ = false;
  http_parser_url u;
  http_parser_url_init(&u);
  HttpRequest r;
  r.method = http_method_str(static_cast<http_method>(parser_.method));
  if (url_.empty() || http_parser_parse_url(url_.data(), url_.size(), 0, &u) != 0 || !(u.field_set & (1 << UF_PATH))) {
    fail(400, "malformed request target");
    return false;
  }
  r.path = url_.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  if (u.field_set & (1 << UF_QUERY)) {
    char* q = const_cast<char*>(url_.data()) + u.field_data[UF_QUERY].off;  // in_ is ours
    r.query = std::span<char>(q, u.field_data[UF_QUERY].len);
  }
  r.headers = headers_;
  r.body = body_;
  r.keep_alive = http_should_keep_alive(&parser_) != 0;
  const size_t reply_at = out_.size();
  front_.answer(r, session_, out_);
  if (session_.commit_ticket != 0) barriers_.mark(reply_at, 0, session_.commit_ticket);
  session_.commit_ticket = 0;
  session_.release_at = 0;
  http_parser_pause(&parser_, 0);
  if (!r.keep_alive) {
    close_when_flushed_ = true;
    stop_reading();
    return false;
  }
  if (unwritten() > kPauseOutput) {  // the peer is not reading: the rest waits in in_
    stop_reading();
    return false;
  }
  return true;
}

void HttpConnection::fail(int status, std::string_view why) {
  HttpWorkerStats& s = front_.stats(session_.worker);
  HttpWorkerStats::bump(status == 408 ? s.timeouts : s.malformed);
  HttpFront::answer_error(status, why, out_);
  close_when_flushed_ = true;
  stop_reading();
}

void HttpConnection::flush() {
  if (closing_) return;
  const uint64_t durable = barriers_.empty() ? OutputBarriers::kAllDurable : front_.data().durable_through();
  if (!write_in_flight_ && !out_.empty()) {
    const size_t ready = barriers_.empty() ? out_.size() : barriers_.writable(out_.size(), 0, durable);
    if (ready > 0) {
      uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(ready));
      int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
      if (n < 0 && n != UV_EAGAIN) return close();
      size_t taken = n > 0 ? static_cast<size_t>(n) : 0;
      if (taken < ready) {
        writing_.assign(out_, taken, ready - taken);
        uv_buf_t rest = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
        if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), &rest, 1, on_write) != 0) return close();
        write_in_flight_ = true;
        taken = ready;
      }
      out_.erase(0, taken);
      if (!barriers_.empty()) barriers_.consumed(taken);
    }
  }
  if (barriers_.waits_for_commit(durable)) worker_.wait_for_commit(this);
  if (close_when_flushed_ && !write_in_flight_ && out_.empty()) return close();
  // Resume a reader paused for its unread answers once they drained.
  if (!reading_ && !close_when_flushed_ && unwritten() <= kPauseOutput) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), on_alloc, on_read) == 0;
    if (reading_ && parsed_ < in_len_) process();
  }
}

void HttpConnection::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<HttpConnection*>(req->data);
  self->write_in_flight_ = false;
  self->writing_.clear();
  if (status < 0) return self->close();
  self->flush();
  self->arm_timer();
}

void HttpConnection::on_commit() {
  if (closing_) return;
  flush();
}

// One timer per connection: a request in progress must be whole by
// request_timeout after its first byte; otherwise the connection may idle
// (or wait for its peer to read) for keepalive_timeout.
void HttpConnection::arm_timer() {
  if (closing_) return;
  const HttpFrontOptions& o = front_.options();
  const uint64_t now = uv_now(worker_.loop());
  uint64_t delay;
  if (in_len_ > 0 && reading_) {
    if (partial_since_ms_ == 0) partial_since_ms_ = now;
    const uint64_t deadline = partial_since_ms_ + static_cast<uint64_t>(ceil_millis(o.request_timeout));
    delay = deadline > now ? deadline - now : 0;
  } else {
    partial_since_ms_ = 0;
    delay = static_cast<uint64_t>(ceil_millis(o.keepalive_timeout));
  }
  uv_timer_start(&timer_, on_timer, std::max<uint64_t>(delay, 1), 0);
}

void HttpConnection::on_timer(uv_timer_t* t) {
  auto* self = static_cast<HttpConnection*>(t->data);
  if (self->in_len_ > 0 && self->reading_ && !self->close_when_flushed_) {
    self->fail(408, "request not complete within server.http.request_timeout");
    self->flush();
    if (!self->closing_) self->arm_timer();  // the answer may not leave: keepalive_timeout bounds that
    return;
  }
  self->close();
}

}  // namespace tollgate::fronts
