#include "app/daemon.h"

#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>

#include <memory>
#include <spdlog/spdlog.h>
#include <thread>

#include "app/admin_peers.h"
#include "app/engine_options.h"
#include "app/reloader.h"
#include "commands/cell_commands.h"
#include "engine/cell_throttle.h"
#include "commands/data_service.h"
#include "config/config_loader.h"
#include "engine/contract_admin.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "net/fd_limit.h"
#include "net/server.h"
#include "persist/embedded_store.h"
#include "persist/redis_store.h"
#include "persist/redis_sync.h"

namespace tollgate {
namespace {

constexpr size_t kSweepBudget = 1 << 16;  // slots visited per sweep tick

struct ControlPlane {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint, sighup;
  uv_timer_t sweep_timer;
  uv_timer_t checkpoint_timer;  // runs only with the embedded store
  uv_async_t commit_async;      // durability strict: replies wait for a checkpoint
  uv_async_t drained_async;     // shutdown: the workers have written what they owe
  std::thread drainer;          // shutdown: joins the workers off the loop
  Server* server = nullptr;
  CommitGate* gate = nullptr;
  persist::EmbeddedStore* store = nullptr;
  persist::RedisStore* redis = nullptr;  // storage.mode: redis (then store is null)
  Reloader* reloader = nullptr;
  CellThrottle* cell = nullptr;
  Reclaimer* reclaimer = nullptr;
  ContractAdmin* admin = nullptr;
  const Clock* clock = nullptr;
  bool stopping = false;
};

void close_all(ControlPlane& cp) {
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.sighup), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.sweep_timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.checkpoint_timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.commit_async), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cp.drained_async), nullptr);
}

// The workers are gone: the final checkpoint holds every charge they made.
void on_drained(uv_async_t* handle) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  cp->drainer.join();
  if (cp->store != nullptr) {
    if (auto done = cp->store->final_checkpoint(cp->clock->now()); done) spdlog::info("final checkpoint written");
    else spdlog::error("final checkpoint failed: {} (state since the previous checkpoint is lost)", done.error());
  }
  if (cp->redis != nullptr) {
    // Workers are gone: this flush holds every charge they made.
    if (auto done = cp->redis->shutdown(cp->clock->now()); done) spdlog::info("final flush to Redis written");
    else spdlog::error("final flush to Redis failed: {}", done.error());
  }
  cp->reloader->close();  // no admin worker is left to ask for a reload
  close_all(*cp);
}

// Stop accepting here; drain and join the workers on another thread, so this
// loop keeps writing the checkpoints that strict replies still wait for.
void on_stop_signal(uv_signal_t* handle, int signum) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  if (cp->stopping) return;
  cp->stopping = true;
  spdlog::info("{} received: stop accepting, flush replies, exit", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  uv_timer_stop(&cp->sweep_timer);
  cp->server->stop_listening();
  cp->drainer = std::thread([cp] {
    cp->server->stop();  // joins the workers after they have written what they owe
    uv_async_send(&cp->drained_async);
  });
}

// Group commit for durability strict: while replies wait, checkpoints run
// back to back, each covering every charge made before it began. A failing
// disk is retried by the checkpoint timer, not in a tight loop.
void on_commit_request(uv_async_t* handle) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  if (cp->store == nullptr || !cp->gate->wanted()) return;
  if (!cp->store->checkpoint(cp->clock->now())) return;  // logged and counted inside
  if (cp->gate->wanted()) uv_async_send(&cp->commit_async);  // let other events in between
}

void on_hup(uv_signal_t* handle, int) {
  auto* cp = static_cast<ControlPlane*>(handle->data);
  if (cp->stopping) return;
  spdlog::info("SIGHUP received: reloading the config");
  cp->reloader->reload(cp->clock->now());  // the outcome is logged by the reloader
}

void on_sweep(uv_timer_t* timer) {
  auto* cp = static_cast<ControlPlane*>(timer->data);
  Nanos now = cp->clock->now();
  cp->reloader->current().sweep(now, kSweepBudget);
  cp->cell->sweep(now, kSweepBudget);
  // Per-call debits become ledger entries. The Redis store does this in its
  // own tick: its lock may be held by an admin mutation waiting for this loop.
  if (cp->redis == nullptr) cp->admin->flush_debits(now);
  cp->reclaimer->collect();
}

void on_checkpoint(uv_timer_t* timer) {
  auto* cp = static_cast<ControlPlane*>(timer->data);
  if (cp->stopping) return;  // the final checkpoint follows the drain
  cp->store->tick(cp->clock->now());  // failures are logged and counted inside; the next tick retries
}

std::unique_ptr<Engine> build_engine(const Config& config, int workers, Reclaimer& reclaimer, Nanos now,
                                     RuntimeState& state) {
  auto engine = Engine::create(engine_options_from(config, workers), reclaimer, now, state);
  if (!engine) {
    for (const auto& e : engine.error()) spdlog::error("{}: {}", config.file, e);
    return nullptr;
  }
  return std::move(*engine);
}

// INFO `persistence` of both services comes from the store's status(): its
// counters (name, value, description) and its latest error.
template <typename Store>
void show_persistence(const Store& store, DataService& data, DataService& admin) {
  const Store* st = &store;
  auto visit_all = [st](const std::function<void(std::string_view, uint64_t, std::string_view)>& visit) {
    st->status().for_each_counter(
        [&](std::string_view name, uint64_t value, std::string_view description) { visit(name, value, description); });
  };
  auto last_error = [st] { return st->status().last_error; };
  data.set_persistence(visit_all, last_error);
  admin.set_persistence(visit_all, last_error);
}

// Admin peers: see app/admin_peers.h.
std::function<bool(const PeerCredentials&)> admin_peer_check(const AdminConfig& admin) {
  return [policy = admin_peer_policy(admin, static_cast<uint32_t>(::getuid()))](const PeerCredentials& peer) {
    return admin_peer_allowed(policy, peer);
  };
}

}  // namespace

int run_daemon(const std::string& config_path, const DaemonOptions& options) {
  auto config = load_config_file(config_path);
  if (!config) {
    for (const auto& e : config.error()) spdlog::error("{}", e.to_string());
    spdlog::error("config {} rejected ({} problem{})", config_path, config.error().size(),
                  config.error().size() == 1 ? "" : "s");
    return 2;
  }
  if (options.recover != persist::RecoverMode::kRefuse && config->storage.mode != StorageMode::kEmbedded) {
    spdlog::error("--recover={} applies to storage.mode embedded only", persist::recover_mode_name(options.recover));
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  clock.set_on_saturated([](int64_t seconds) {
    spdlog::error("the system clock reads {} s since the epoch, outside what tollgate represents; it is taken as {} "
                  "until it is back in range (time stands still for every limit meanwhile)",
                  seconds, seconds < 0 ? Nanos{0} : SystemClock::kMax / kNanosPerSecond);
  });
  int threads = config->server.threads > 0 ? config->server.threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Descriptors: take what the hard limit allows, and refuse a
  // max_connections it cannot serve (rather than EMFILE under load).
  const FdLimit fds = raise_fd_limit();
  if (auto fits = check_fd_limit(fds, static_cast<size_t>(config->server.max_connections), threads); !fits) {
    spdlog::error("{}: {}", config_path, fits.error());
    return 2;
  }
  if (fds.soft != fds.raised_from)
    spdlog::info("file descriptor limit raised from {} to {}", fds.raised_from, fds.soft);
  // One reader slot per data worker, one for the admin thread, spare.
  Reclaimer reclaimer(threads + 8);
  RuntimeState state;
  auto built = build_engine(*config, threads, reclaimer, clock.now(), state);
  if (!built) return 2;
  Reloader reloader(config_path, *config, std::move(built), reclaimer, state, threads);
  auto engine = [&reloader]() -> Engine& { return reloader.current(); };
  CellThrottle cell(reclaimer, static_cast<size_t>(config->table.max_keys), config->table.idle_timeout);
  ConnectionLimits limits;
  limits.parser.max_args = static_cast<size_t>(config->server.max_args);
  limits.parser.max_bulk = static_cast<size_t>(config->server.max_bulk);
  limits.parser.max_inline = static_cast<size_t>(config->server.max_inline);
  limits.max_output = static_cast<size_t>(config->server.max_output);
  limits.output_stall_timeout = config->server.output_stall_timeout;
  limits.max_input_total = static_cast<size_t>(config->server.max_input_total);

  // State from Redis, before any worker (or the server) exists. Unreachable
  // Redis at start-up is fatal: starting empty would hand out fresh quotas
  // and forget balances, so the daemon exits and its supervisor retries.
  ContractAdmin contract_admin(engine, state);
  std::unique_ptr<persist::RedisStore> redis_store;
  if (config->storage.mode == StorageMode::kRedis) {
    persist::RedisStoreOptions redis_options;
    redis_options.redis = config->storage.redis;
    redis_options.checkpoint_ms = config->storage.checkpoint_ms;
    redis_options.clock = &clock;
    redis_store = std::make_unique<persist::RedisStore>(redis_options, state, contract_admin, engine);
    if (auto loaded = redis_store->load(clock.now()); !loaded) {
      spdlog::error("storage: {}; not starting (storage.mode is redis and its state could not be loaded)",
                    loaded.error());
      return 1;
    }
  }

  ControlPlane cp;
  uv_loop_init(&cp.loop);
  CommitGate gate;
  Server server(&cp.loop, threads, limits, static_cast<size_t>(config->server.max_connections));
  ServiceInfo info;
  info.config_path = config_path;
  info.currency_decimals = config->currency_decimals;
  info.started_at = clock.now();
  info.server_stats = [&server] { return server.stats(); };
  info.max_key = static_cast<size_t>(config->server.max_key);
  DataService data(engine(), clock, reclaimer, threads, info);
  data.set_cell_throttle(&cell);
  ServiceInfo admin_info = info;
  admin_info.serves_holds = false;
  DataService admin(engine(), clock, reclaimer, 1, admin_info);
  admin.set_admin(&contract_admin);
  reloader.add_service(&data);
  reloader.add_service(&admin);
  // RELOAD runs on the admin worker; the reload itself runs on the control
  // loop, like SIGHUP's, between checkpoints and sweeps (see reloader.h).
  admin.set_reload([&reloader]() -> std::expected<std::vector<std::string>, std::string> {
    ReloadResult r = reloader.request_reload();
    if (!r.ok) {
      std::string msg = "ERR config rejected, the running config is unchanged:";
      for (const auto& e : r.errors) msg += " " + e + ";";
      return std::unexpected(msg);
    }
    std::vector<std::string> lines = r.changes;
    lines.insert(lines.end(), r.warnings.begin(), r.warnings.end());
    return lines;
  });

  // State from the embedded store, before any worker can touch it.
  std::unique_ptr<persist::EmbeddedStore> store;
  if (config->storage.mode == StorageMode::kEmbedded) {
    persist::EmbeddedStoreOptions store_options;
    store_options.dir = config->storage.dir;
    store_options.snapshot_interval = config->storage.snapshot_interval;
    store_options.clock = &clock;
    store_options.gate = &gate;
    store_options.recover = options.recover;
    store = std::make_unique<persist::EmbeddedStore>(store_options, state, contract_admin, engine);
    if (auto recovered = store->recover(clock.now()); !recovered) {
      spdlog::error("storage: {}", recovered.error());
      spdlog::error("storage: not starting (storage.dir {})", config->storage.dir);
      uv_loop_close(&cp.loop);
      return 1;
    }
    contract_admin.set_durability(store.get());
    show_persistence(*store, data, admin);
    if (config->storage.durability == Durability::kStrict) data.set_commit_gate(&gate);
    spdlog::info("storage: embedded in {}, durability {}, checkpoint every {} ms{}, snapshot every {} s",
                 config->storage.dir, yaml_name(config->storage.durability), config->storage.checkpoint_ms,
                 config->storage.durability == Durability::kStrict ? " and back to back while replies wait" : "",
                 config->storage.snapshot_interval / kNanosPerSecond);
  }

  if (redis_store) {
    contract_admin.set_durability(redis_store.get());
    show_persistence(*redis_store, data, admin);
    spdlog::info("storage: redis at {}, prefix '{}', write-behind every {} ms, buffer up to {} fields",
                 persist::redis_address(config->storage.redis), config->storage.redis.prefix,
                 config->storage.checkpoint_ms, config->storage.redis.buffer_max);
  }

  ListenerOptions data_listener;
  data_listener.path = config->server.socket;
  data_listener.mode = config->server.socket_mode;
  data_listener.service = &data;
  if (auto r = server.listen(data_listener); !r) {
    spdlog::error("cannot listen: {}", r.error());
    uv_loop_close(&cp.loop);
    return 1;
  }
  ListenerOptions admin_listener;
  admin_listener.path = config->server.admin_socket;
  admin_listener.mode = config->server.admin_socket_mode;
  admin_listener.service = &admin;
  admin_listener.admin = true;
  admin_listener.dedicated_worker = true;
  admin_listener.allow_peer = admin_peer_check(config->admin);
  if (auto r = server.listen(admin_listener); !r) {
    spdlog::error("cannot listen: {}", r.error());
    server.stop();
    uv_run(&cp.loop, UV_RUN_NOWAIT);
    uv_loop_close(&cp.loop);
    return 1;
  }
  // Before any worker runs: strict replies ask this loop for checkpoints.
  uv_async_init(&cp.loop, &cp.commit_async, on_commit_request);
  cp.commit_async.data = &cp;
  gate.set_on_request([&cp] { uv_async_send(&cp.commit_async); });
  gate.set_on_durable([&server] { server.wake_commits(); });
  reloader.start(&cp.loop, clock);  // before any worker: RELOAD from now on runs on this loop
  if (redis_store) redis_store->start(&cp.loop);  // connects on the loop; admin mutations wait for it
  if (auto r = server.start(); !r) {
    spdlog::error("{}", r.error());
    return 1;
  }

  cp.server = &server;
  cp.gate = &gate;
  cp.store = store.get();
  cp.redis = redis_store.get();
  cp.reloader = &reloader;
  cp.cell = &cell;
  cp.reclaimer = &reclaimer;
  cp.admin = &contract_admin;
  cp.clock = &clock;
  for (uv_signal_t* s : {&cp.sigterm, &cp.sigint, &cp.sighup}) {
    uv_signal_init(&cp.loop, s);
    s->data = &cp;
  }
  uv_signal_start(&cp.sigterm, on_stop_signal, SIGTERM);
  uv_signal_start(&cp.sigint, on_stop_signal, SIGINT);
  uv_signal_start(&cp.sighup, on_hup, SIGHUP);
  uv_timer_init(&cp.loop, &cp.sweep_timer);
  cp.sweep_timer.data = &cp;
  uint64_t sweep_ms = static_cast<uint64_t>(std::max<Nanos>(1, config->table.sweep_interval / kNanosPerMilli));
  uv_timer_start(&cp.sweep_timer, on_sweep, sweep_ms, sweep_ms);
  uv_timer_init(&cp.loop, &cp.checkpoint_timer);
  cp.checkpoint_timer.data = &cp;
  uv_async_init(&cp.loop, &cp.drained_async, on_drained);
  cp.drained_async.data = &cp;
  if (cp.store != nullptr) {
    const uint64_t checkpoint_ms = static_cast<uint64_t>(std::max<int64_t>(1, config->storage.checkpoint_ms));
    uv_timer_start(&cp.checkpoint_timer, on_checkpoint, checkpoint_ms, checkpoint_ms);
  }

  spdlog::info("tollgated ready: data socket {}, admin socket {} ({} worker threads, {} contracts, {} key classes)",
               config->server.socket, config->server.admin_socket, threads, engine().contracts().size(),
               engine().key_classes().size());
  uv_run(&cp.loop, UV_RUN_DEFAULT);
  server.stop();
  uv_loop_close(&cp.loop);
  reclaimer.collect();
  spdlog::info("tollgated stopped");
  return 0;
}

}  // namespace tollgate
