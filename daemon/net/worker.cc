#include "net/worker.h"

#include <unistd.h>

#include <algorithm>

namespace tollgate {

Worker::Worker(int index, const ConnectionLimits& limits) : index_(index), limits_(limits) {}

Worker::~Worker() { join(); }

bool Worker::start(Service* timer_service) {
  if (uv_loop_init(&loop_) != 0) return false;
  async_.data = this;
  if (uv_async_init(&loop_, &async_, on_async) != 0) return false;
  commit_async_.data = this;
  if (uv_async_init(&loop_, &commit_async_, on_commit_async) != 0) return false;
  commit_async_open_ = true;
  timer_.data = this;
  if (uv_timer_init(&loop_, &timer_) != 0) return false;
  client_timer_.data = this;
  if (uv_timer_init(&loop_, &client_timer_) != 0) return false;
  if (const uint64_t every = client_check_ms(); every > 0)
    uv_timer_start(&client_timer_, on_client_timer, every, every);
  {
    std::lock_guard lock(mutex_);
    started_ = true;
  }
  thread_ = std::thread([this, timer_service] {
    if (timer_service != nullptr) {
      timer_service->begin_batch(index_);
      rearm(*timer_service);
      timer_service->end_batch(index_);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  });
  return true;
}

void Worker::adopt(int fd, Service& service, Session session, ConnectionSlot slot, Protocol* protocol) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;  // `slot` is released on return
    }
    session.worker = index_;
    pending_.push_back({fd, &service, std::move(session), std::move(slot), protocol});
  }
  uv_async_send(&async_);
}

void Worker::drop_for_input_budget(uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // everything closes anyway
    drops_.push_back(id);
  }
  uv_async_send(&async_);
}

void Worker::kill_client(uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // everything closes anyway
    kills_.push_back(id);
  }
  uv_async_send(&async_);
}

void Worker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (!started_) return;  // never ran: no loop to wake (a failed start-up)
  }
  uv_async_send(&async_);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::attach(Connection* c) {
  c->next = head_;
  if (head_) head_->prev = c;
  head_ = c;
  stats_.connections.fetch_add(1, std::memory_order_relaxed);
  stats_.connections_total.fetch_add(1, std::memory_order_relaxed);
}

void Worker::detach(Connection* c) {
  if (c->prev) c->prev->next = c->next;
  else head_ = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->waiting_commit) std::erase(commit_waiters_, c);
  stats_.connections.fetch_sub(1, std::memory_order_relaxed);
  close_commit_async_if_done();
}

void Worker::attach(ProtocolConnection* c) {
  c->next = protocol_head_;
  if (protocol_head_) protocol_head_->prev = c;
  protocol_head_ = c;
  stats_.connections.fetch_add(1, std::memory_order_relaxed);
  stats_.connections_total.fetch_add(1, std::memory_order_relaxed);
}

void Worker::detach(ProtocolConnection* c) {
  if (c->prev) c->prev->next = c->next;
  else protocol_head_ = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->waiting_commit) std::erase(protocol_commit_waiters_, c);
  stats_.connections.fetch_sub(1, std::memory_order_relaxed);
  close_commit_async_if_done();
}

void Worker::wait_for_commit(ProtocolConnection* c) {
  if (c->waiting_commit) return;
  c->waiting_commit = true;
  protocol_commit_waiters_.push_back(c);
}

void Worker::wait_for_commit(Connection* c) {
  if (c->waiting_commit) return;
  c->waiting_commit = true;
  commit_waiters_.push_back(c);
}

void Worker::wake_commits() {
  std::lock_guard lock(commit_mutex_);
  if (commit_async_open_) uv_async_send(&commit_async_);
}

void Worker::wake_pushes() {
  push_pending_.store(true, std::memory_order_release);
  std::lock_guard lock(commit_mutex_);
  if (commit_async_open_) uv_async_send(&commit_async_);
}

// Each waiting connection sends what is now durable; one still waiting (for
// a later ticket) puts itself back on the list. Then, if pushes were asked
// for, every pushing connection writes what its service has for it (the
// flag is taken before looking, so a wake-up during the walk runs again).
void Worker::on_commit_async(uv_async_t* a) {
  auto* self = static_cast<Worker*>(a->data);
  if (self->push_pending_.exchange(false, std::memory_order_acq_rel)) {
    std::vector<Connection*> pushing;  // collected first: a push may close its connection
    for (Connection* c = self->head_; c != nullptr; c = c->next)
      if (c->session().pushes && !c->closing()) pushing.push_back(c);
    for (Connection* c : pushing) c->on_push();
  }
  std::vector<Connection*> waiting;
  waiting.swap(self->commit_waiters_);
  for (Connection* c : waiting) c->waiting_commit = false;
  for (Connection* c : waiting) c->on_commit();
  std::vector<ProtocolConnection*> others;
  others.swap(self->protocol_commit_waiters_);
  for (ProtocolConnection* c : others) c->waiting_commit = false;
  for (ProtocolConnection* c : others) c->on_commit();
}

void Worker::close_commit_async_if_done() {
  if (!stopped_ || head_ != nullptr || protocol_head_ != nullptr) return;
  std::lock_guard lock(commit_mutex_);
  if (!commit_async_open_) return;
  commit_async_open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&commit_async_), nullptr);
}

void Worker::rearm(Service& service) {
  if (stopped_) return;
  timer_service_ = &service;
  Nanos deadline = service.next_deadline(index_);
  if (deadline == armed_for_) return;
  if (deadline == INT64_MAX) {
    uv_timer_stop(&timer_);
    armed_for_ = INT64_MAX;
    return;
  }
  Nanos now = service.batch_now(index_);
  uint64_t delay_ms = deadline <= now ? 0 : static_cast<uint64_t>(ceil_millis(deadline - now));
  armed_for_ = deadline;
  uv_timer_start(&timer_, on_timer, delay_ms, 0);
}

void Worker::on_timer(uv_timer_t* t) {
  auto* self = static_cast<Worker*>(t->data);
  self->armed_for_ = INT64_MAX;
  Service& s = *self->timer_service_;
  s.begin_batch(self->index_);
  s.on_deadline(self->index_);
  s.end_batch(self->index_);
  self->rearm(s);
}

uint64_t Worker::client_check_ms() const {
  Nanos shortest = 0;
  for (Nanos t : {limits_.idle_timeout, limits_.frame_timeout})
    if (t > 0) shortest = shortest == 0 ? t : std::min(shortest, t);
  if (shortest == 0) return 0;
  return static_cast<uint64_t>(std::clamp<Nanos>(ceil_millis(shortest) / 4, 10, 1000));
}

// A scan of this worker's connections, a few times per timeout: a handful
// of comparisons each, on the worker's own thread.
void Worker::on_client_timer(uv_timer_t* t) {
  auto* self = static_cast<Worker*>(t->data);
  const uint64_t now_ms = uv_now(&self->loop_);
  for (Connection* c = self->head_; c != nullptr;) {
    Connection* next = c->next;  // check_timeouts may close c (freed later, in its close callback)
    c->check_timeouts(now_ms);
    c = next;
  }
}

void Worker::on_async(uv_async_t* a) { static_cast<Worker*>(a->data)->drain_pending(); }

// Opens connections handed over by the acceptor; on stop, drains every
// connection (pending replies are written first) and lets the loop end.
void Worker::drain_pending() {
  std::vector<Pending> batch;
  std::vector<uint64_t> drops;
  std::vector<uint64_t> kills;
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
    drops.swap(drops_);
    kills.swap(kills_);
    stopping = stopping_;
  }
  for (auto& p : batch) {
    if (stopping) {
      ::close(p.fd);
      continue;  // the slot is released with `batch`
    }
    if (p.protocol != nullptr) {
      p.protocol->open(*this, p.fd, std::move(p.session), std::move(p.slot));
      continue;
    }
    auto* c = new Connection(*this, *p.service, limits_, std::move(p.session), std::move(p.slot));
    if (!c->open(p.fd)) {
      ::close(p.fd);
      delete c;
    }
  }
  // Rare (a buffer grew past the input budget): a scan finds the victim.
  for (uint64_t id : drops) {
    for (Connection* c = head_; c != nullptr; c = c->next) {
      if (c->session().id == id && !c->closing()) {
        c->drop_for_input_budget();
        break;
      }
    }
  }
  // Rare (an operator's CLIENT KILL): a scan finds the connection.
  for (uint64_t id : kills) {
    for (Connection* c = head_; c != nullptr; c = c->next) {
      if (c->session().id == id && !c->closing()) {
        c->kill();
        break;
      }
    }
  }
  if (stopping && !stopped_) {
    stopped_ = true;
    for (Connection* c = head_; c != nullptr;) {
      Connection* next = c->next;
      c->shutdown();
      c = next;
    }
    for (ProtocolConnection* c = protocol_head_; c != nullptr;) {
      ProtocolConnection* next = c->next;
      c->shutdown();
      c = next;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&client_timer_), nullptr);
    close_commit_async_if_done();
  }
}

}  // namespace tollgate
