#include "control/reloader.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "control/engine_options.h"
#include "config/config_diff.h"
#include "config/config_loader.h"
#include "config/contract_changes.h"
#include "config/units.h"

namespace tollgate {

Reloader::Reloader(std::string config_path, Config running, std::unique_ptr<Engine> engine, Reclaimer& reclaimer,
                   RuntimeState& state, int workers)
    : config_path_(std::move(config_path)),
      running_(std::move(running)),
      reclaimer_(reclaimer),
      state_(state),
      workers_(workers),
      current_(engine.release()) {}

Reloader::~Reloader() {
  // Retired engines' deleters call back into this object: run them first
  // (the workers are stopped by now, so they are all due).
  for (int i = 0; i < 100 && reclaimer_.pending() > 0; ++i) reclaimer_.collect();
  delete current_.load();
}

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
  std::vector<std::string> out;
  auto note = [&](bool differs, std::string_view what) {
    if (differs) out.push_back(fmt::format("{} changed: takes effect after a restart", what));
  };
  note(a.server.socket != b.server.socket || a.server.socket_mode != b.server.socket_mode, "server.socket");
  note(a.server.admin_socket != b.server.admin_socket || a.server.admin_socket_mode != b.server.admin_socket_mode,
       "server.admin_socket");
  note(a.server.threads != b.server.threads, "server.threads");
  note(a.server.socket_group != b.server.socket_group || a.server.admin_socket_group != b.server.admin_socket_group,
       "server.socket_group / admin_socket_group");
  note(a.server.timeout != b.server.timeout || a.server.frame_timeout != b.server.frame_timeout,
       "server.timeout / frame_timeout");
  note(a.log.format != b.log.format || a.log.level != b.log.level, "log");
  note(a.server.max_args != b.server.max_args || a.server.max_bulk != b.server.max_bulk ||
           a.server.max_inline != b.server.max_inline || a.server.max_output != b.server.max_output ||
           a.server.max_connections != b.server.max_connections ||
           a.server.output_stall_timeout != b.server.output_stall_timeout ||
           a.server.max_input_total != b.server.max_input_total || a.server.max_key != b.server.max_key,
       "server limits");
  note(a.storage.mode != b.storage.mode || a.storage.dir != b.storage.dir ||
           a.storage.durability != b.storage.durability || a.storage.checkpoint_ms != b.storage.checkpoint_ms,
       "storage");
  note(a.table.max_keys != b.table.max_keys || a.table.shards != b.table.shards ||
           a.table.max_holds != b.table.max_holds,
       "table sizes");
  note(a.dedup.max_entries != b.dedup.max_entries || a.dedup.window != b.dedup.window, "dedup");
  note(a.admin.allow_uids != b.admin.allow_uids || a.admin.allow_gids != b.admin.allow_gids ||
           a.admin.admit_owner != b.admin.admit_owner,
       "admin");
  note(a.currency_decimals != b.currency_decimals, "currency_decimals");
  note(a.server.grpc != b.server.grpc, "server.grpc");
  return out;
}

void Reloader::start(uv_loop_t* loop, const Clock& clock) {
  std::lock_guard lock(mutex_);
  owner_ = std::this_thread::get_id();
  clock_ = &clock;
  wake_ = std::make_unique<uv_async_t>();
  uv_async_init(loop, wake_.get(), &Reloader::on_requests);
  wake_->data = this;
  accepting_ = true;
}

void Reloader::close() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    closed_ = true;
  }
  serve_requests();  // refuses what is still queued
  if (wake_) {
    uv_close(reinterpret_cast<uv_handle_t*>(wake_.release()),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  }
}

void Reloader::on_requests(uv_async_t* handle) { static_cast<Reloader*>(handle->data)->serve_requests(); }

// Control thread: runs each queued request's reload in turn (uv_async
// coalesces wake-ups, so one call may serve several) and wakes its waiter.
void Reloader::serve_requests() {
  for (;;) {
    std::shared_ptr<Request> request;
    bool accepting = false;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) return;
      request = std::move(queue_.front());
      queue_.pop_front();
      accepting = accepting_;
    }
    ReloadResult result = accepting ? reload(clock_->now())
                                    : reject({"the daemon is shutting down; the running config is unchanged"});
    std::lock_guard lock(mutex_);
    request->result = std::move(result);
    served_.notify_all();
  }
}

ReloadResult Reloader::request_reload() {
  std::unique_lock lock(mutex_);
  // Checked first: once the control thread is gone its id may be reused.
  if (closed_) return reject({"the daemon is shutting down; the running config is unchanged"});
  if (owner_ == std::thread::id() || owner_ == std::this_thread::get_id()) {
    lock.unlock();
    return reload(clock_ != nullptr ? clock_->now() : 0);
  }
  auto request = std::make_shared<Request>();
  queue_.push_back(request);
  uv_async_send(wake_.get());  // thread-safe; wake_ lives until close(), which empties the queue first
  served_.wait(lock, [&] { return request->result.has_value(); });
  return std::move(*request->result);
}

ReloadResult Reloader::reject(std::vector<std::string> errors) {
  ReloadResult result;
  result.errors = std::move(errors);
  rejected_.fetch_add(1, std::memory_order_relaxed);
  for (const auto& e : result.errors) spdlog::error("reload rejected: {}", e);
  return result;
}

// Validate everything first; only a config that is whole and compiles is
// swapped in. The new engine adopts the running counters (same key, limit
// name and type keep their state); current() switches with one atomic store
// and the subscribers (the services) are handed the new engine. The old
// engine is retired through the reclaimer; when it is freed, entries created
// meanwhile by workers still on it are adopted too. Runs on the control
// thread, between checkpoints and sweeps (see the header).
ReloadResult Reloader::reload(Nanos now) {
  if (owner_ != std::thread::id() && owner_ != std::this_thread::get_id()) {
    spdlog::critical("Reloader::reload called off the control thread");
    std::abort();
  }
  ReloadResult result;
  auto next = load_config_file(config_path_);
  if (!next) {
    std::vector<std::string> errors;
    for (const auto& e : next.error()) errors.push_back(e.to_string());
    return reject(std::move(errors));
  }
  Engine* old = current_.load(std::memory_order_acquire);
  EngineOptions options = engine_options_from(config_at(*next, now - kScheduleHistory), workers_);
  options.generation = static_cast<uint32_t>(reloads_.load(std::memory_order_relaxed) + 1);  // 0: the first engine
  auto engine = engine_for_reload(options, reclaimer_, now, state_, *old);
  if (!engine) {
    std::vector<std::string> errors;
    for (const auto& e : engine.error()) errors.push_back(fmt::format("{}: {}", config_path_, e));
    return reject(std::move(errors));
  }
  result.changes = diff_configs(running_, *next);
  result.warnings = restart_only_changes(running_, *next);
  Engine* fresh = engine->release();
  for (const Subscriber& subscriber : engine_prepare_) subscriber(fresh);
  for (const GenerationSubscriber& subscriber : before_publish_) subscriber(*next, fresh, now);
  publish(fresh, *next, now);
  for (const GenerationSubscriber& subscriber : generation_subscribers_) subscriber(*next, fresh, now);
  running_ = std::move(*next);
  reloads_.fetch_add(1, std::memory_order_relaxed);
  result.ok = true;
  spdlog::info("config reloaded from {} ({} change{})", config_path_, result.changes.size(),
               result.changes.size() == 1 ? "" : "s");
  for (const auto& c : result.changes) spdlog::info("  {}", c);
  for (const auto& w : result.warnings) spdlog::warn("  {}", w);
  return result;
}

void Reloader::publish(Engine* fresh, const Config& config, Nanos now) {
  Engine* old = current_.load(std::memory_order_acquire);
  current_.store(fresh, std::memory_order_release);
  for (const Subscriber& subscriber : subscribers_) subscriber(fresh);
  for (const ConfigSubscriber& subscriber : config_subscribers_) subscriber(config, fresh);
  retire_engine(reclaimer_, [this]() -> Engine& { return current(); }, old, now);
}

// The running engine already decides with the new terms (its chains); this
// rebuild is the reload that makes them the base. The changes in effect are
// read from the old engine's chains (what it had pending and is now past),
// so a change is announced once, by the rebuild that takes it out of the
// chain, and a change that was already past when the engine was built (a
// restart, a reload) is not announced again.
bool Reloader::apply_due_changes(Nanos now) {
  if (owner_ != std::thread::id() && owner_ != std::this_thread::get_id()) {
    spdlog::critical("Reloader::apply_due_changes called off the control thread");
    std::abort();
  }
  Engine* old = current_.load(std::memory_order_acquire);
  const Nanos due = old->next_change_at();
  if (now < due) return false;
  // The same file, so the same config generation: the call log needs no new
  // mark (replay rebuilds the same chains from the recorded text).
  EngineOptions options = engine_options_from(config_at(running_, now - kScheduleHistory), workers_);
  options.generation = old->options().generation;
  auto engine = engine_for_reload(options, reclaimer_, now, state_, *old);
  if (!engine) {
    if (!schedule_failed_)
      spdlog::error("scheduled contract change: cannot rebuild the engine ({}); decisions already follow the new "
                    "terms, retrying every tick", engine.error().front());
    schedule_failed_ = true;
    return false;
  }
  schedule_failed_ = false;
  std::vector<Event> events;
  for (const auto& policy : old->contracts())
    for (const Policy* terms = policy->next.get(); terms != nullptr && terms->effective_from <= now;
         terms = terms->next.get())
      if (terms->effective_from >= due)  // earlier ones were in force when `old` was built
        events.push_back({0, terms->effective_from / kNanosPerMilli, "change", policy->name, -1,
                        fmt::format("at {}: {}", format_instant(terms->effective_from), terms->change_note)});
  Engine* fresh = engine->release();
  for (const Subscriber& subscriber : engine_prepare_) subscriber(fresh);
  publish(fresh, running_, now);
  for (auto& e : events) {
    spdlog::info("contract {}: scheduled change in effect ({})", e.contract, e.detail);
    state_.add_event(std::move(e));
  }
  return true;
}

}  // namespace tollgate
