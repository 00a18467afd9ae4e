#include "load_worker.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <deque>

#include "load/resp_reply_reader.h"

namespace tollgate::load {

struct LoadWorker::Connection {
  uv_pipe_t pipe;
  uv_connect_t connect_request;
  uv_write_t write_request;
  LoadWorker* worker = nullptr;
  RespReplyReader reader;

  // Send (closed loop) or intended-send (open loop) times of the requests in
  // flight, oldest first: a ring of capacity `pipeline`.
  std::vector<uint64_t> inflight;
  size_t inflight_head = 0;
  size_t inflight_count = 0;
  std::deque<uint64_t> backlog;  // open loop: intended times still waiting for a slot

  std::string pending;  // encoded, not yet handed to libuv
  std::string writing;  // owned by the write in progress
  bool write_in_progress = false;
  bool connected = false;
  bool closing = false;
  static constexpr size_t kReadBufferSize = 64 * 1024;
  std::unique_ptr<char[]> read_buffer = std::make_unique<char[]>(kReadBufferSize);

  void push_inflight(uint64_t t) {
    inflight[(inflight_head + inflight_count) % inflight.size()] = t;
    ++inflight_count;
  }
  uint64_t pop_inflight() {
    const uint64_t t = inflight[inflight_head];
    inflight_head = (inflight_head + 1) % inflight.size();
    --inflight_count;
    return t;
  }
};

LoadWorker::LoadWorker(const LoadOptions& options, const WorkerPlan& plan, WorkerStats& stats)
    : options_(options), plan_(plan), stats_(stats), encoder_(options, plan.seed) {
  // Set up here, not in run(), so request_stop() is safe as soon as we exist.
  [[maybe_unused]] const int loop_status = uv_loop_init(&loop_);
  assert(loop_status == 0);
  stop_async_.data = this;
  [[maybe_unused]] const int async_status = uv_async_init(&loop_, &stop_async_, on_stop_requested);
  assert(async_status == 0);
}

LoadWorker::~LoadWorker() {
  if (schedule_fd_ >= 0) ::close(schedule_fd_);
}

void LoadWorker::request_stop() {
  std::lock_guard lock(stop_mutex_);
  if (!loop_finished_) uv_async_send(&stop_async_);
}

bool LoadWorker::run() {
  deadline_timer_.data = drain_timer_.data = this;
  uv_timer_init(&loop_, &deadline_timer_);
  uv_timer_init(&loop_, &drain_timer_);
  budget_left_ = plan_.requests;
  if (plan_.requests == 0) {
    deadline_ns_ = plan_.start_ns + static_cast<uint64_t>(options_.duration_ns);
  }
  // Open loop stops exactly at the deadline through its schedule; libuv's
  // millisecond timer would cut the last requests short.
  if (plan_.requests == 0 && plan_.rate <= 0) {
    const uint64_t now = uv_hrtime();
    const uint64_t wait_ms = deadline_ns_ > now ? (deadline_ns_ - now + 999'999) / 1'000'000 : 0;
    uv_timer_start(&deadline_timer_, on_deadline, wait_ms, 0);
  }
  stats_.start_ns = plan_.start_ns;

  if (plan_.rate > 0) {
    interval_ns_ = 1e9 / plan_.rate;
    schedule_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (schedule_fd_ < 0) {
      stats_.first_connection_error = std::string("timerfd_create: ") + std::strerror(errno);
      return false;
    }
    schedule_poll_.data = this;
    uv_poll_init(&loop_, &schedule_poll_, schedule_fd_);
    uv_poll_start(&schedule_poll_, UV_READABLE, on_schedule_due);
    schedule_poll_open_ = true;
    arm_schedule_timer(intended_time(0));
  }

  for (int i = 0; i < plan_.connections; ++i) {
    auto c = std::make_unique<Connection>();
    c->worker = this;
    c->inflight.resize(static_cast<size_t>(options_.pipeline));
    c->pipe.data = c.get();
    c->write_request.data = c.get();
    c->connect_request.data = c.get();
    uv_pipe_init(&loop_, &c->pipe, 0);
    uv_pipe_connect(&c->connect_request, &c->pipe, options_.socket_path.c_str(), on_connect);
    ++open_connections_;
    connections_.push_back(std::move(c));
  }

  uv_run(&loop_, UV_RUN_DEFAULT);
  return uv_loop_close(&loop_) == 0;
}

// ---- connections -----------------------------------------------------------

void LoadWorker::on_connect(uv_connect_t* req, int status) {
  auto& c = *static_cast<Connection*>(req->data);
  LoadWorker& w = *c.worker;
  if (c.closing) return;
  if (status < 0) {
    w.fail_connection(c, std::string("connect: ") + uv_strerror(status));
    return;
  }
  c.connected = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c.pipe), on_alloc, on_read);
  w.refill(c);
  w.close_if_drained(c);
}

void LoadWorker::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto& c = *static_cast<Connection*>(handle->data);
  *buf = uv_buf_init(c.read_buffer.get(), Connection::kReadBufferSize);
}

void LoadWorker::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto& c = *static_cast<Connection*>(stream->data);
  LoadWorker& w = *c.worker;
  if (nread == 0) return;
  if (nread < 0) {
    w.fail_connection(c, nread == UV_EOF ? "server closed the connection" : uv_strerror(static_cast<int>(nread)));
    return;
  }
  const uint64_t now = uv_hrtime();
  const char* p = buf->base;
  const char* end = p + nread;
  while (p < end) {
    switch (c.reader.feed(p, end)) {
      case RespReplyReader::Status::kReply:
        w.handle_reply(c, now);
        break;
      case RespReplyReader::Status::kNeedMore:
        break;
      case RespReplyReader::Status::kProtocolError:
        w.fail_connection(c, std::string("bad reply: ") + std::string(c.reader.error()));
        return;
    }
  }
  w.refill(c);
  w.close_if_drained(c);
}

void LoadWorker::on_write(uv_write_t* req, int status) {
  auto& c = *static_cast<Connection*>(req->data);
  c.write_in_progress = false;
  c.writing.clear();
  if (c.closing) return;
  if (status < 0) {
    c.worker->fail_connection(c, std::string("write: ") + uv_strerror(status));
    return;
  }
  c.worker->flush(c);
  c.worker->close_if_drained(c);
}

void LoadWorker::fail_connection(Connection& c, std::string_view what) {
  stats_.connection_errors.add();
  stats_.unanswered.add(c.inflight_count + c.backlog.size());
  c.inflight_count = 0;
  c.backlog.clear();
  if (stats_.first_connection_error.empty()) stats_.first_connection_error = std::string(what);
  close_connection(c);
}

void LoadWorker::close_connection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.pipe), on_connection_closed);
}

void LoadWorker::on_connection_closed(uv_handle_t* handle) {
  LoadWorker& w = *static_cast<Connection*>(handle->data)->worker;
  if (--w.open_connections_ == 0) w.close_worker_handles();
}

void LoadWorker::close_if_drained(Connection& c) {
  if (stopping_ && !c.closing && c.connected && c.inflight_count == 0 && c.backlog.empty() &&
      !c.write_in_progress && c.pending.empty()) {
    close_connection(c);
  }
}

// ---- sending ---------------------------------------------------------------

bool LoadWorker::take_budget() {
  if (plan_.requests == 0) return true;
  if (budget_left_ == 0) return false;
  if (--budget_left_ == 0) stopping_ = true;  // the last one goes out; then drain
  return true;
}

void LoadWorker::enqueue_request(Connection& c, uint64_t timestamp_ns) {
  encoder_.append_next(c.pending);
  c.push_inflight(timestamp_ns);
  stats_.sent.add();
}

void LoadWorker::refill(Connection& c) {
  if (c.closing || !c.connected) return;
  if (plan_.rate > 0) {
    send_backlog(c);
    return;
  }
  const uint64_t now = uv_hrtime();
  while (!stopping_ && c.inflight_count < c.inflight.size() && take_budget()) enqueue_request(c, now);
  flush(c);
  if (stopping_) stop_sending();  // the budget ran out: start the drain clock (once)
}

void LoadWorker::send_backlog(Connection& c) {
  if (c.closing || !c.connected) return;
  while (c.inflight_count < c.inflight.size() && !c.backlog.empty()) {
    enqueue_request(c, c.backlog.front());
    c.backlog.pop_front();
  }
  flush(c);
}

void LoadWorker::flush(Connection& c) {
  if (c.write_in_progress || c.pending.empty() || c.closing) return;
  c.pending.swap(c.writing);
  c.write_in_progress = true;
  uv_buf_t buf = uv_buf_init(c.writing.data(), static_cast<unsigned>(c.writing.size()));
  const int status = uv_write(&c.write_request, reinterpret_cast<uv_stream_t*>(&c.pipe), &buf, 1, on_write);
  if (status < 0) {
    c.write_in_progress = false;
    c.writing.clear();
    fail_connection(c, std::string("write: ") + uv_strerror(status));
  }
}

void LoadWorker::handle_reply(Connection& c, uint64_t now_ns) {
  stats_.replies.add();
  stats_.last_reply_ns = now_ns;
  if (c.inflight_count > 0) {
    const uint64_t sent_at = c.pop_inflight();
    stats_.latency_ns.record(now_ns > sent_at ? now_ns - sent_at : 0);
  }
  const Reply& r = c.reader.reply();
  if (r.type == ReplyType::kError) {
    stats_.error_replies.add();
    if (stats_.first_error_reply.empty()) stats_.first_error_reply = std::string(r.text);
    return;
  }
  if (r.type != ReplyType::kArray || r.captured_elements() < 2 || r.elements[0].type != ReplyType::kInteger ||
      r.elements[1].type != ReplyType::kSimpleString) {
    stats_.other_replies.add();
    return;
  }
  if (r.elements[0].integer == 1) {
    stats_.allowed.add();
    return;
  }
  const std::string_view code = r.elements[1].text();
  for (int i = 0; i < kCodeCount; ++i) {
    if (code_name(static_cast<Code>(i)) == code) {
      stats_.denied_by_code[static_cast<size_t>(i)].add();
      return;
    }
  }
  stats_.denied_other_code.add();
}

// ---- open-loop schedule ------------------------------------------------------

uint64_t LoadWorker::intended_time(uint64_t index) const {
  return plan_.start_ns + static_cast<uint64_t>(static_cast<double>(index) * interval_ns_);
}

void LoadWorker::arm_schedule_timer(uint64_t at_ns) {
  itimerspec spec{};
  at_ns = std::max<uint64_t>(at_ns, 1);  // zero would disarm
  spec.it_value.tv_sec = static_cast<time_t>(at_ns / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(at_ns % 1'000'000'000);
  timerfd_settime(schedule_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void LoadWorker::on_schedule_due(uv_poll_t* handle, int, int) {
  LoadWorker& w = *static_cast<LoadWorker*>(handle->data);
  uint64_t expirations;
  [[maybe_unused]] const ssize_t n = ::read(w.schedule_fd_, &expirations, sizeof(expirations));
  w.schedule_due(uv_hrtime());
}

// Hands every request whose intended time has come to the next connection in
// turn; a connection with no free slot keeps it in its backlog, and the wait
// counts as latency.
void LoadWorker::schedule_due(uint64_t now_ns) {
  if (stopping_) return;
  for (;;) {
    const uint64_t due = intended_time(scheduled_);
    if ((plan_.requests != 0 && scheduled_ >= plan_.requests) || (deadline_ns_ != 0 && due >= deadline_ns_)) {
      stop_sending();
      return;
    }
    if (due > now_ns) break;
    Connection* target = nullptr;
    for (size_t tries = 0; tries < connections_.size() && target == nullptr; ++tries) {
      Connection& c = *connections_[next_connection_];
      next_connection_ = (next_connection_ + 1) % connections_.size();
      if (!c.closing) target = &c;
    }
    if (target == nullptr) return;  // every connection is gone
    target->backlog.push_back(due);
    ++scheduled_;
  }
  for (auto& c : connections_) send_backlog(*c);
  // Wake no more often than kScheduleGranularityNs: at high rates, one wake-up
  // (and one write per connection) then carries several requests.
  arm_schedule_timer(std::max(intended_time(scheduled_), now_ns + kScheduleGranularityNs));
}

// ---- stopping --------------------------------------------------------------

void LoadWorker::on_deadline(uv_timer_t* timer) { static_cast<LoadWorker*>(timer->data)->stop_sending(); }

void LoadWorker::on_stop_requested(uv_async_t* async) { static_cast<LoadWorker*>(async->data)->stop_sending(); }

void LoadWorker::stop_sending() {
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&drain_timer_)) || handles_closed_) return;
  stopping_ = true;
  if (schedule_poll_open_) uv_poll_stop(&schedule_poll_);
  uv_timer_stop(&deadline_timer_);
  uv_timer_start(&drain_timer_, on_drain_timeout, kDrainTimeoutNs / 1'000'000, 0);
  for (auto& c : connections_) {
    // Not yet connected and nothing owed: no point finishing the connect.
    if (!c->connected && c->backlog.empty()) close_connection(*c);
    else close_if_drained(*c);
  }
}

void LoadWorker::on_drain_timeout(uv_timer_t* timer) {
  LoadWorker& w = *static_cast<LoadWorker*>(timer->data);
  for (auto& c : w.connections_) {
    if (c->closing) continue;
    w.stats_.unanswered.add(c->inflight_count + c->backlog.size());
    c->inflight_count = 0;
    c->backlog.clear();
    w.close_connection(*c);
  }
}

void LoadWorker::close_worker_handles() {
  if (handles_closed_) return;
  handles_closed_ = true;
  stats_.end_ns = uv_hrtime();
  {
    std::lock_guard lock(stop_mutex_);  // no uv_async_send on a closing handle
    loop_finished_ = true;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  if (schedule_poll_open_) uv_close(reinterpret_cast<uv_handle_t*>(&schedule_poll_), nullptr);
}

}  // namespace tollgate::load
