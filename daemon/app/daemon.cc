#include "app/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include <memory>
#include <spdlog/spdlog.h>
#include <thread>

#include "app/directories.h"
#include "app/systemd_notify.h"
#include "calllog/admin_hook.h"
#include "calllog/call_log.h"
#include "commands/admin_service.h"
#include "commands/cell_commands.h"
#include "engine/cell_throttle.h"
#include "commands/data_service.h"
#include "config/contract_changes.h"
#include "config/config_loader.h"
#include "config/config_paths.h"
#include "control/admin_peers.h"
#include "control/commit_gate.h"
#include "control/contract_admin.h"
#include "control/control_plane.h"
#include "control/engine_options.h"
#include "control/monitor_runner.h"
#include "control/reloader.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "log/log_format.h"
#include "fronts/envoy/grpc/rls_server.h"
#include "fronts/http/http_front.h"
#include "fronts/http/metrics_page.h"
#include "net/fd_limit.h"
#include "net/server.h"
#include "persist/embedded/embedded_store.h"
#include "control/fleet_leases.h"
#include "persist/redis/redis_store.h"
#include "persist/redis/redis_sync.h"

namespace tollgate {
namespace {

// The store storage.mode names (none in memory mode), with its state loaded.
struct Storage {
  std::unique_ptr<persist::EmbeddedStore> embedded;
  std::unique_ptr<persist::RedisStore> redis;
};

// Builds the store the config names and loads its state, before any worker
// (or the server) exists. A store that cannot load is fatal: starting empty
// would hand out fresh quotas and forget balances, so the daemon exits (and
// its supervisor retries an unreachable Redis). Logs why; false then.
bool open_storage(const Config& config, const DaemonOptions& options, const Clock& clock, CommitGate& gate,
                  RuntimeState& state, const std::function<Engine&()>& engine, Storage& storage) {
  const StorageConfig& sc = config.storage;
  if (sc.mode == StorageMode::kRedis) {
    persist::RedisStoreOptions redis_options;
    redis_options.redis = sc.redis;
    redis_options.checkpoint_ms = sc.checkpoint_ms;
    redis_options.clock = &clock;
    storage.redis = std::make_unique<persist::RedisStore>(redis_options, state, engine);
    if (auto loaded = storage.redis->load(clock.now()); !loaded) {
      spdlog::error("storage: {}; not starting (storage.mode is redis and its state could not be loaded)",
                    loaded.error());
      return false;
    }
  } else if (sc.mode == StorageMode::kEmbedded) {
    persist::EmbeddedStoreOptions store_options;
    store_options.dir = sc.dir;
    store_options.snapshot_interval = sc.snapshot_interval;
    store_options.clock = &clock;
    store_options.number_checkpoint = [&gate] { return gate.begin(); };
    store_options.checkpoint_durable = [&gate](uint64_t n) { gate.published(n); };
    store_options.recover = options.recover;
    storage.embedded = std::make_unique<persist::EmbeddedStore>(store_options, state, engine);
    if (auto recovered = storage.embedded->recover(clock.now()); !recovered) {
      spdlog::error("storage: {}", recovered.error());
      spdlog::error("storage: not starting (storage.dir {})", sc.dir);
      return false;
    }
  }
  return true;
}

std::unique_ptr<Engine> build_engine(const Config& config, int workers, Reclaimer& reclaimer, Nanos now,
                                     RuntimeState& state) {
  // The terms in force now (scheduled changes already past are in effect; config/contract_changes.h).
  auto engine =
      Engine::create(engine_options_from(config_at(config, now - kScheduleHistory), workers), reclaimer, now, state);
  if (!engine) {
    for (const auto& e : engine.error()) spdlog::error("{}: {}", config.file, e);
    return nullptr;
  }
  return std::move(*engine);
}

// INFO `persistence` of both services comes from the store's status(): its
// counters (name, value, description) and its latest error.
template <typename Store>
void show_persistence(const Store& store, DataService& data, AdminService& admin) {
  const Store* st = &store;
  auto visit_all = [st](const std::function<void(std::string_view, uint64_t, std::string_view)>& visit) {
    st->status().for_each_counter(
        [&](std::string_view name, uint64_t value, std::string_view description) { visit(name, value, description); });
  };
  auto last_error = [st] { return st->status().last_error; };
  data.set_persistence(visit_all, last_error);
  admin.set_persistence(visit_all, last_error);
}

// Admin peers: see control/admin_peers.h.
std::function<bool(const PeerCredentials&)> admin_peer_check(const AdminConfig& admin) {
  return [policy = admin_peer_policy(admin, static_cast<uint32_t>(::getuid()))](const PeerCredentials& peer) {
    return admin_peer_allowed(policy, peer);
  };
}

// log: format and level, applied once at start (a reload does not change them).
void apply_log_config(const LogConfig& log) {
  static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                          spdlog::level::warn, spdlog::level::err};
  configure_logging(log.format == LogFormat::kJson ? LogStyle::kJson : LogStyle::kText,
                    kLevels[static_cast<size_t>(log.level)]);
}

// A listener's group (server.socket_group: its gid, -1 for none) and its
// socket's parent directory, created 0750 and given that group when missing.
std::expected<int, std::string> prepare_socket(const std::string& path, const std::string& group,
                                               std::string_view key) {
  int gid = -1;
  if (!group.empty()) {
    auto found = lookup_group(group);
    if (!found) return std::unexpected(fmt::format("{}_group: unknown group '{}'", key, group));
    gid = static_cast<int>(*found);
  }
  if (auto made = make_directories(parent_directory(path), kSocketDirMode, key, static_cast<gid_t>(gid)); !made)
    return std::unexpected(made.error());
  return gid;
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
  apply_log_config(config->log);
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
  // One reader slot per data worker, one per gRPC thread, one for the admin thread, spare.
  const int grpc_threads = config->server.grpc.listen.empty() ? 0 : config->server.grpc.threads;
  Reclaimer reclaimer(threads + grpc_threads + 8);
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
  limits.idle_timeout = config->server.timeout;
  limits.frame_timeout = config->server.frame_timeout;

  ContractAdmin contract_admin(engine, state);
  CommitGate gate;
  Storage storage;
  SystemdNotifier systemd;
  systemd.status("recovering state");
  if (config->storage.mode == StorageMode::kEmbedded) {
    if (auto made = make_directories(config->storage.dir, kStorageDirMode, "storage.dir"); !made) {
      spdlog::error("storage: {}", made.error());
      return 1;
    }
  }
  if (!open_storage(*config, options, clock, gate, state, engine, storage)) return 1;
  // Monitor actions restored with the state deny from the first call on.
  for (const auto& contract : engine().contracts()) engine().sync_restrictions(*contract);
  FleetMonitorCounts fleet_counts;  // monitors on the fleet's counts (borrowed by `monitors` and `fleet`)
  MonitorRunner monitors(engine, state, contract_admin);
  monitors.configure(*config);
  // What the monitors learned (baselines, warm-up, firings) comes back from the store's side.
  if (storage.embedded) {
    monitors.keep_baselines(make_baseline_file(config->storage.dir, files::default_file_system()), clock.now());
  } else if (storage.redis) {
    const persist::RedisKeys keys(config->storage.redis.prefix, config->storage.redis.kind() == RedisKind::kCluster);
    monitors.keep_baselines(make_redis_baselines(*storage.redis, keys.baselines()), clock.now());
  }
  contract_admin.set_on_clear(
      [&monitors](std::string_view key, std::string_view monitor, Nanos now) { monitors.on_clear(key, monitor, now); });
  contract_admin.set_on_ack([&monitors](const Event& acked, uint64_t ack_seq) { monitors.on_ack(acked, ack_seq); });

  ControlPlane cp;
  // The HTTP front outlives the server's workers (declared first, destroyed last).
  std::unique_ptr<fronts::HttpFront> http;
  std::unique_ptr<fronts::MetricsPage> metrics;
  std::atomic<bool> serving{false};
  Server server(cp.loop(), threads, limits, static_cast<size_t>(config->server.max_connections));
  ServiceInfo info;
  info.config_path = config_path;
  info.currency_decimals = config->currency_decimals;
  info.started_at = clock.now();
  info.server_stats = [&server] { return server.stats(); };
  info.max_key = static_cast<size_t>(config->server.max_key);
  info.monitor_baselines = [&monitors](const std::function<void(std::string_view, std::string_view)>& visit) {
    monitors.baseline_info(visit);
  };
  // fleet: every contract's quotas and credits leased from global pools in Redis (docs/fleet.md).
  std::unique_ptr<FleetActions> fleet_actions;  // monitor actions fleet-wide (before `fleet`, which borrows it)
  std::unique_ptr<FleetLeases> fleet;
  if (config->fleet.enabled && storage.redis) {
    FleetOptions fleet_options;
    fleet_options.fleet = config->fleet;
    if (fleet_options.fleet.node.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      fleet_options.fleet.node = fmt::format("{}:{}", host, ::getpid());
    }
    fleet_options.redis = config->storage.redis;
    fleet_options.clock = &clock;
    fleet = std::make_unique<FleetLeases>(fleet_options, state);
    fleet->attach(engine());
    fleet_actions = std::make_unique<FleetActions>(contract_admin, monitors, state);
    fleet->set_actions(fleet_actions.get());
    fleet->set_monitor_counts(&fleet_counts);
    monitors.set_fleet_counts(&fleet_counts);
    // Before the new engine decides (a reload's, or a scheduled change's
    // rebuild): its new contracts have their lease and a lowered limit's
    // units on lease here are already on their way back. A scheduled change
    // is made the base terms at the fleet's next refill tick after its
    // instant rather than at the next sweep (about a second later), so a
    // new limit is leased fleet-wide within about refill_ms.
    reloader.add_engine_prepare([&fleet](Engine* fresh) { fleet->attach(*fresh); });
    fleet->set_change_due([&reloader](Nanos now) { reloader.apply_due_changes(now); });
    FleetLeases* f = fleet.get();
    info.fleet = [f](const std::function<void(std::string_view, std::string_view)>& visit) { f->info(visit); };
    info.fleet_contract = [f](std::string_view contract,
                              const std::function<void(std::string_view, std::string_view)>& visit) {
      f->contract_info(contract, visit);
    };
    info.fleet_resolve = [f](std::string_view contract, bool spent) { return f->resolve(contract, spent); };
  }
  // server.grpc: the Envoy Rate Limit Service. Built here, started once
  // recovery is done and before the data workers (its threads decide on
  // their own; INFO reads its counters).
  std::unique_ptr<fronts::RlsServer> rls;
  if (!config->server.grpc.listen.empty()) {
    rls = std::make_unique<fronts::RlsServer>(config->server.grpc,
                                              std::make_unique<const fronts::EnvoyMapping>(config->envoy), engine(),
                                              reclaimer, clock);
    rls->set_max_key(static_cast<size_t>(config->server.max_key));
    info.envoy = [server = rls.get()](const std::function<void(std::string_view, std::string_view)>& visit) {
      visit("grpc_listen", server->address());
      visit("grpc_port", std::to_string(server->port()));
      visit("grpc_threads", std::to_string(server->threads()));
      server->for_each_counter([&](std::string_view name, uint64_t value) { visit(name, std::to_string(value)); });
    };
  }
  // call_log: workers record every CHECK into rings of their own; its
  // writer thread turns them into segments (calllog/call_log.h).
  std::unique_ptr<calllog::CallLog> call_log;
  if (config->call_log.enabled) {
    const CallLogConfig& c = config->call_log;
    if (auto made = make_directories(c.dir, kStorageDirMode, "call_log.dir"); !made) {
      spdlog::error("call_log: {}", made.error());
      return 1;
    }
    calllog::CallLogOptions o;
    o.dir = c.dir;
    o.sample = c.sample;
    o.max_bytes = c.max_bytes;
    o.segment_bytes = c.segment_bytes;
    o.segment_age = c.segment_age;
    o.flush_interval = c.flush_interval;
    o.buffer_bytes = static_cast<size_t>(c.buffer_bytes);
    // One buffer per data worker, then one per gRPC thread (the Envoy front
    // records its calls too), then the admin buffer.
    call_log = std::make_unique<calllog::CallLog>(o, threads + grpc_threads, files::default_file_system());
    if (auto opened = call_log->open(); !opened) {
      spdlog::error("call_log: {}", opened.error());
      return 1;
    }
    if (rls) rls->set_call_log(call_log.get(), threads);
    info.call_log = [log = call_log.get()](const std::function<void(std::string_view, std::string_view)>& visit) {
      const calllog::CallLogStats st = log->stats();
      visit("calllog_dir", log->options().dir);
      visit("calllog_recorded", std::to_string(st.recorded));
      visit("calllog_dropped_buffer_full", std::to_string(st.dropped_buffer));
      visit("calllog_dropped_write_failed", std::to_string(st.dropped_write));
      visit("calllog_blocks", std::to_string(st.blocks));
      visit("calllog_raw_bytes", std::to_string(st.raw_bytes));
      visit("calllog_bytes_written", std::to_string(st.bytes_written));
      visit("calllog_bytes_per_call",
            fmt::format("{:.2f}", st.recorded == 0 ? 0.0 : static_cast<double>(st.bytes_written) / st.recorded));
      visit("calllog_segments", std::to_string(st.segments));
      visit("calllog_disk_bytes", std::to_string(st.disk_bytes));
      visit("calllog_segments_deleted", std::to_string(st.segments_deleted));
      visit("calllog_last_error", st.last_error.empty() ? "none" : st.last_error);
    };
    // Config generations (calllog/call_log.h, "Generations"): the one
    // running now, then each reload's, drained once no worker batch can
    // still hold the engine it replaced. Admin changes that alter decisions
    // are recorded in apply order with the generation in force.
    call_log->mark_generation(engine().options().generation, clock.now(), config->file, config->text);
    call_log->generation_drained(engine().options().generation);
    // The mark is queued before the new engine is published (a worker may
    // record with it at once); the drain is retired after.
    reloader.add_before_publish([log = call_log.get()](const Config& fresh, Engine* engine, Nanos now) {
      log->mark_generation(engine->options().generation, now, fresh.file, fresh.text);
    });
    reloader.add_generation_subscriber([log = call_log.get(), &reclaimer](const Config&, Engine* engine, Nanos) {
      const uint32_t generation = engine->options().generation;
      reclaimer.retire([log, generation] { log->generation_drained(generation); });
    });
    contract_admin.set_on_applied([log = call_log.get(), &reloader](const AdminRecord& record) {
      calllog::record_admin_change(log, record, reloader.current().options().generation);
    });
    spdlog::info("call_log: {} (sample {}, max_bytes {}, segments of {} bytes or {} s)", c.dir, c.sample,
                 c.max_bytes, c.segment_bytes, c.segment_age / kNanosPerSecond);
  }
  DataService data(engine(), clock, reclaimer, threads, info);
  data.set_cell_throttle(&cell);
  data.set_call_log(call_log.get());
  // RELOAD runs on the admin worker; the reload itself runs on the control
  // loop, like SIGHUP's, between checkpoints and sweeps (see reloader.h).
  AdminService admin(engine(), clock, reclaimer, contract_admin, [&reloader] { return reloader.request_reload(); },
                     info);
  admin.set_call_log(call_log.get());
  reloader.add_subscriber([&data, &admin](Engine* fresh) {
    data.set_engine(fresh);
    admin.set_engine(fresh);
  });
  if (rls) {
    reloader.add_config_subscriber([&rls](const Config& fresh_config, Engine* fresh) {
      rls->set_engine(fresh);
      rls->set_mapping(std::make_unique<const fronts::EnvoyMapping>(fresh_config.envoy));
    });
  }
  // AUTH on the data socket only (the admin socket checks its peers' uid/gid).
  data.set_password(config->server.password);
  data.set_max_clients(config->server.max_connections);
  admin.set_max_clients(config->server.max_connections);
  reloader.add_config_subscriber([&data](const Config& fresh, Engine*) { data.set_password(fresh.server.password); });
  reloader.add_config_subscriber([&monitors](const Config& fresh, Engine*) { monitors.configure(fresh); });

  if (storage.embedded) {
    contract_admin.set_durability(storage.embedded.get());
    show_persistence(*storage.embedded, data, admin);
    if (config->storage.durability == Durability::kStrict) data.set_commit_gate(&gate);
    spdlog::info("storage: embedded in {}, durability {}, checkpoint every {} ms{}, snapshot every {} s",
                 config->storage.dir, yaml_name(config->storage.durability), config->storage.checkpoint_ms,
                 config->storage.durability == Durability::kStrict ? " and back to back while replies wait" : "",
                 config->storage.snapshot_interval / kNanosPerSecond);
  }
  if (storage.redis) {
    contract_admin.set_durability(storage.redis.get());
    show_persistence(*storage.redis, data, admin);
    spdlog::info("storage: redis at {}, prefix '{}', write-behind every {} ms, buffer up to {} fields",
                 persist::redis_address(config->storage.redis), config->storage.redis.prefix,
                 config->storage.checkpoint_ms, config->storage.redis.buffer_max);
  }

  auto data_group = prepare_socket(config->server.socket, config->server.socket_group, "server.socket");
  auto admin_group =
      prepare_socket(config->server.admin_socket, config->server.admin_socket_group, "server.admin_socket");
  for (const auto* prepared : {&data_group, &admin_group}) {
    if (!*prepared) {
      spdlog::error("cannot listen: {}", prepared->error());
      cp.close();
      return 1;
    }
  }
  ListenerOptions data_listener;
  data_listener.path = config->server.socket;
  data_listener.mode = config->server.socket_mode;
  data_listener.group = *data_group;
  data_listener.service = &data;
  if (auto r = server.listen(data_listener); !r) {
    spdlog::error("cannot listen: {}", r.error());
    cp.close();
    return 1;
  }
  ListenerOptions admin_listener;
  admin_listener.path = config->server.admin_socket;
  admin_listener.mode = config->server.admin_socket_mode;
  admin_listener.group = *admin_group;
  admin_listener.service = &admin;
  admin_listener.admin = true;
  admin_listener.dedicated_worker = true;
  admin_listener.allow_peer = admin_peer_check(config->admin);
  if (auto r = server.listen(admin_listener); !r) {
    spdlog::error("cannot listen: {}", r.error());
    server.stop();
    uv_run(cp.loop(), UV_RUN_NOWAIT);
    cp.close();
    return 1;
  }
  if (!config->server.http.listen.empty()) {
    const HttpConfig& hc = config->server.http;
    fronts::HttpFrontOptions options;
    options.max_header_bytes = static_cast<size_t>(hc.max_header_bytes);
    options.max_body_bytes = static_cast<size_t>(hc.max_body_bytes);
    options.request_timeout = hc.request_timeout;
    options.keepalive_timeout = hc.keepalive_timeout;
    options.max_key = static_cast<size_t>(config->server.max_key);
    http = std::make_unique<fronts::HttpFront>(data, options);
    metrics = std::make_unique<fronts::MetricsPage>(data, http.get());
    http->set_metrics_page([page = metrics.get()](std::string& out) { page->render(out); });
    // Ready: recovered (the listeners open only after recovery), every
    // listener up, and the state store reachable where it is one (Redis).
    const bool redis = storage.redis != nullptr;
    http->set_readiness([&serving, &state, redis]() -> std::optional<std::string> {
      if (!serving.load(std::memory_order_acquire)) return "starting or stopping";
      if (redis && !state.storage_available()) return "the state store (Redis) is unreachable";
      return std::nullopt;
    });
    for (const std::string& entry : hc.listen) {
      ListenerOptions l;
      l.tcp = !entry.starts_with("unix:");
      l.path = l.tcp ? entry : entry.substr(5);
      l.mode = hc.socket_mode;
      l.service = &data;
      l.protocol = http.get();
      std::expected<std::string, std::string> bound;
      if (auto prepared = l.tcp ? std::expected<int, std::string>(-1)
                                : prepare_socket(l.path, "", "server.http.listen");
          !prepared) {
        bound = std::unexpected(prepared.error());
      } else {
        bound = server.listen(l);
      }
      if (!bound) {
        spdlog::error("cannot listen (server.http): {}", bound.error());
        server.stop();
        uv_run(cp.loop(), UV_RUN_NOWAIT);
        cp.close();
        return 1;
      }
      spdlog::info("http: listening on {}{}", l.tcp ? "" : "unix:", *bound);
    }
  }
  // Before any worker runs: strict replies ask this loop for checkpoints.
  cp.serve_commits(gate, [&server] { server.wake_commits(); });
  reloader.start(cp.loop(), clock);  // before any worker: RELOAD from now on runs on this loop
  if (storage.redis) storage.redis->start(cp.loop());  // connects on the loop; admin mutations wait for it
  if (fleet) fleet->start(cp.loop());
  if (rls) {
    if (auto r = rls->start(); !r) {
      spdlog::error("{}: {}", config_path, r.error());
      return 1;
    }
    spdlog::info("envoy rate limit service (gRPC) on {}, {} threads, {} domains mapped", rls->address(),
                 rls->threads(), config->envoy.domains.size());
  }
  if (call_log) call_log->start(clock);
  monitors.start(cp.loop(), clock);  // the monitors' tick, about once a second
  if (auto r = server.start(); !r) {
    spdlog::error("{}", r.error());
    return 1;
  }
  // EVENTS FOLLOW: each new event wakes the workers' following connections.
  state.set_event_listener([&server] { server.wake_pushes(); });

  ControlPlaneParts parts;
  parts.server = &server;
  parts.gate = &gate;
  parts.store = storage.embedded.get();
  parts.redis = storage.redis.get();
  parts.reloader = &reloader;
  parts.cell = &cell;
  parts.reclaimer = &reclaimer;
  parts.admin = &contract_admin;
  parts.clock = &clock;
  parts.sweep_interval = config->table.sweep_interval;
  parts.checkpoint_ms = config->storage.checkpoint_ms;
  parts.on_stopping = [&systemd, &fleet, &monitors] {
    monitors.close();
    systemd.stopping("stopping: flushing replies and the final checkpoint");
    if (fleet) fleet->halt();  // its timer would keep the loop running; the leases go back after the workers stop
  };
  parts.on_watchdog = [&systemd] { systemd.watchdog(); };
  parts.watchdog_ms = systemd.watchdog_interval_ms();
  cp.start(parts);

  spdlog::info("tollgated ready: data socket {}, admin socket {} ({} worker threads, {} contracts, {} key classes)",
               config->server.socket, config->server.admin_socket, threads, engine().contracts().size(),
               engine().key_classes().size());
  serving.store(true, std::memory_order_release);
  // Recovered, listening, workers running: a client queued now is answered.
  systemd.ready(fmt::format("serving {} ({} contracts, {} key classes)", config->server.socket,
                            engine().contracts().size(), engine().key_classes().size()));
  cp.run();
  serving.store(false, std::memory_order_release);
  // The loop's signal handlers are gone: a late SIGHUP (a reload script)
  // must not kill the process while it winds down.
  ::signal(SIGHUP, SIG_IGN);
  if (rls) rls->stop();  // health NOT_SERVING first; no gRPC call decides after this
  state.set_event_listener({});  // before the workers it wakes are gone
  server.stop();
  if (fleet) {  // no worker decides any more: every unit goes back, what was spent is reported
    if (auto r = fleet->stop(); !r) spdlog::error("{}", r.error());
  }
  if (call_log) call_log->stop(clock.now());  // the workers are gone: the last records go to disk
  cp.close();
  reclaimer.collect();
  spdlog::info("tollgated stopped");
  return 0;
}

}  // namespace tollgate
