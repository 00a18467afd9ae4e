#include "control/control_plane.h"

#include <signal.h>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace tollgate {
namespace {

constexpr size_t kSweepBudget = 1 << 16;  // slots visited per sweep tick

template <typename Handle>
uv_handle_t* as_handle(Handle* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

}  // namespace

ControlPlane::ControlPlane() { uv_loop_init(&loop_); }

void ControlPlane::close_all() {
  uv_close(as_handle(&sigterm_), nullptr);
  uv_close(as_handle(&sigint_), nullptr);
  uv_close(as_handle(&sighup_), nullptr);
  uv_close(as_handle(&sweep_timer_), nullptr);
  uv_close(as_handle(&checkpoint_timer_), nullptr);
  uv_close(as_handle(&watchdog_timer_), nullptr);
  uv_close(as_handle(&commit_async_), nullptr);
  uv_close(as_handle(&drained_async_), nullptr);
}

// The workers are gone: the final checkpoint holds every charge they made.
void ControlPlane::on_drained(uv_async_t* handle) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  const ControlPlaneParts& p = cp->parts_;
  cp->drainer_.join();
  if (p.store != nullptr) {
    if (auto done = p.store->final_checkpoint(p.clock->now()); done) spdlog::info("final checkpoint written");
    else spdlog::error("final checkpoint failed: {} (state since the previous checkpoint is lost)", done.error());
  }
  if (p.redis != nullptr) {
    // Workers are gone: this flush holds every charge they made.
    if (auto done = p.redis->shutdown(p.clock->now()); done) spdlog::info("final flush to Redis written");
    else spdlog::error("final flush to Redis failed: {}", done.error());
  }
  p.reloader->close();  // no admin worker is left to ask for a reload
  cp->close_all();
}

// Stop accepting here; drain and join the workers on another thread, so this
// loop keeps writing the checkpoints that strict replies still wait for.
void ControlPlane::on_stop_signal(uv_signal_t* handle, int signum) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  if (cp->stopping_) return;
  cp->stopping_ = true;
  spdlog::info("{} received: stop accepting, flush replies, exit", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  uv_timer_stop(&cp->sweep_timer_);
  if (cp->parts_.on_stopping) cp->parts_.on_stopping();
  Server* server = cp->parts_.server;
  server->stop_listening();
  cp->drainer_ = std::thread([cp, server] {
    server->stop();  // joins the workers after they have written what they owe
    uv_async_send(&cp->drained_async_);
  });
}

// Group commit for durability strict: while replies wait, checkpoints run
// back to back, each covering every charge made before it began. A failing
// disk is retried by the checkpoint timer, not in a tight loop.
void ControlPlane::on_commit_request(uv_async_t* handle) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  const ControlPlaneParts& p = cp->parts_;
  if (p.store == nullptr || !p.gate->wanted()) return;
  if (!p.store->checkpoint(p.clock->now())) return;  // logged and counted inside
  if (p.gate->wanted()) uv_async_send(&cp->commit_async_);  // let other events in between
}

void ControlPlane::on_hup(uv_signal_t* handle, int) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  if (cp->stopping_) return;
  spdlog::info("SIGHUP received: reloading the config");
  cp->parts_.reloader->reload(cp->parts_.clock->now());  // the outcome is logged by the reloader
}

void ControlPlane::on_sweep(uv_timer_t* timer) {
  auto* cp = static_cast<ControlPlane*>(timer->data);
  const ControlPlaneParts& p = cp->parts_;
  Nanos now = p.clock->now();
  p.reloader->apply_due_changes(now);  // scheduled contract changes now past become the base terms
  p.reloader->current().sweep(now, kSweepBudget);
  p.cell->sweep(now, kSweepBudget);
  // Per-call debits become ledger entries. The Redis store does this in its
  // own tick: its lock may be held by an admin mutation waiting for this loop.
  if (p.redis == nullptr) p.admin->flush_debits(now);
  p.reclaimer->collect();
}

void ControlPlane::on_checkpoint(uv_timer_t* timer) {
  auto* cp = static_cast<ControlPlane*>(timer->data);
  if (cp->stopping_) return;  // the final checkpoint follows the drain
  cp->parts_.store->tick(cp->parts_.clock->now());  // failures are logged and counted inside; the next tick retries
}

void ControlPlane::on_watchdog(uv_timer_t* timer) {
  auto* cp = static_cast<ControlPlane*>(timer->data);
  cp->parts_.on_watchdog();
}

void ControlPlane::serve_commits(CommitGate& gate, std::function<void()> on_durable) {
  uv_async_init(&loop_, &commit_async_, on_commit_request);
  commit_async_.data = this;
  gate.set_on_request([this] { uv_async_send(&commit_async_); });
  gate.set_on_durable(std::move(on_durable));
}

void ControlPlane::start(const ControlPlaneParts& parts) {
  parts_ = parts;
  for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(&loop_, s);
    s->data = this;
  }
  uv_signal_start(&sigterm_, on_stop_signal, SIGTERM);
  uv_signal_start(&sigint_, on_stop_signal, SIGINT);
  uv_signal_start(&sighup_, on_hup, SIGHUP);
  uv_timer_init(&loop_, &sweep_timer_);
  sweep_timer_.data = this;
  uint64_t sweep_ms = static_cast<uint64_t>(std::max<Nanos>(1, parts_.sweep_interval / kNanosPerMilli));
  uv_timer_start(&sweep_timer_, on_sweep, sweep_ms, sweep_ms);
  uv_timer_init(&loop_, &checkpoint_timer_);
  checkpoint_timer_.data = this;
  uv_timer_init(&loop_, &watchdog_timer_);
  watchdog_timer_.data = this;
  if (parts_.watchdog_ms > 0 && parts_.on_watchdog)
    uv_timer_start(&watchdog_timer_, on_watchdog, parts_.watchdog_ms, parts_.watchdog_ms);
  uv_async_init(&loop_, &drained_async_, on_drained);
  drained_async_.data = this;
  if (parts_.store != nullptr) {
    const uint64_t checkpoint_ms = static_cast<uint64_t>(std::max<int64_t>(1, parts_.checkpoint_ms));
    uv_timer_start(&checkpoint_timer_, on_checkpoint, checkpoint_ms, checkpoint_ms);
  }
}

void ControlPlane::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void ControlPlane::close() { uv_loop_close(&loop_); }

}  // namespace tollgate
