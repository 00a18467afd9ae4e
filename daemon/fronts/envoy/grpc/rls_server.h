// The gRPC listener of the Envoy front: serves
// envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit (decided by
// fronts/envoy/rls_mapping.h) and grpc.health.v1.Health/Check (served on
// the same threads and queues, for "" and the rate limit service's name:
// SERVING from start() — which the daemon calls only once recovery is done —
// until stop(); Health/Watch answers UNIMPLEMENTED). Part of the
// tollgate_grpc library, the only code that sees protobuf or gRPC types
// (cmake/grpc.cmake).
//
// Threads. The server runs on the gRPC asynchronous API with one completion
// queue per thread and exactly `threads` (server.grpc.threads) threads of
// ours, each draining its own queue: a call is read, decided and answered on
// the thread whose queue received it, with no hand-off. (gRPC itself keeps a
// few internal threads — timers, its event engine, the built-in health
// service's callbacks — that never call the engine.) Each thread keeps
// `kCallsPerThread` calls requested ahead so that a burst finds a call ready.
//
// The engine's thread rules, for a thread that is not a data worker:
//   * Reclaimer: each gRPC thread registers a reader slot of its own
//     (Reclaimer::register_reader, in start(): the daemon sizes the reclaimer
//     for server.threads + server.grpc.threads + spare) and brackets every
//     decision with a ReadGuard, so a swept key, a reloaded engine or a
//     replaced EnvoyMapping is not freed while the thread may still read it.
//   * worker index: Engine::check/check_all take the calling worker's index
//     for one purpose, the expiry heap a HOLD is put on (HoldTable). The Rate
//     Limit Service never holds (its CheckRequests carry no HOLD), so it
//     passes 0 and never touches a heap. Giving gRPC threads heaps of their
//     own would be wrong: recovery spreads restored holds over every heap
//     (hash % workers) and only the data workers run expire_holds().
//   * engine and mapping: two atomic pointers, loaded (acquire) inside the
//     ReadGuard once per call. A reload (control thread) stores the new
//     engine (set_engine) and the new mapping (set_mapping, which retires the
//     old one through the Reclaimer); a call sees either the old pair, the new
//     pair, or the new engine with the old mapping for one call — each is a
//     complete, valid answer.
// Counters: one RlsCounters per thread, written by it only; INFO sums them.
//
// Shutdown: stop() turns health NOT_SERVING, shuts the server down (calls in
// progress finish, at most 1 s), wakes every thread with an alarm so that the
// thread itself shuts its queue down (no request can race a queue shutdown),
// drains and joins. Idempotent; the destructor calls it.
//
// Thread-safety: start()/stop() from one thread (the daemon's main thread);
// set_engine/set_mapping from the control thread; for_each_counter, port()
// from any thread.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/envoy_config.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "fronts/envoy/rls_mapping.h"
#include "tollgate/time.h"

namespace tollgate::fronts {

class RlsServer {
 public:
  static constexpr int kCallsPerThread = 64;
  static constexpr int kMaxMessageBytes = 1 << 20;  // a request larger than this is refused by gRPC

  // Borrows engine, reclaimer and clock (they outlive the server).
  RlsServer(const GrpcConfig& config, std::unique_ptr<const EnvoyMapping> mapping, Engine& engine,
            Reclaimer& reclaimer, const Clock& clock);
  ~RlsServer();
  RlsServer(const RlsServer&) = delete;
  RlsServer& operator=(const RlsServer&) = delete;

  // Binds server.grpc.listen and starts the threads; health is SERVING from
  // here on. The error says why it could not bind.
  std::expected<void, std::string> start();
  void stop();

  // server.max_key: longer descriptor entry values are INVALID_ARGUMENT. Before start().
  void set_max_key(size_t max_key) { max_key_ = max_key; }
  // call_log: each gRPC thread records its CHECKs (one group per call) into
  // the log's buffer `first_buffer` + its index; the log must have been
  // built with those buffers (CallLog's `workers` counts them) and outlive
  // stop(). Before start().
  void set_call_log(calllog::CallLog* log, int first_buffer) {
    call_log_ = log;
    call_log_first_ = first_buffer;
  }
  void set_engine(Engine* engine) { engine_.store(engine, std::memory_order_release); }
  // Publishes a new mapping (reload); the old one is freed once no gRPC
  // thread can still read it. Control thread.
  void set_mapping(std::unique_ptr<const EnvoyMapping> mapping);

  // The bound TCP port (the one picked for port 0), or 0 for a Unix socket.
  int port() const { return port_; }
  // listen as configured, with port 0 replaced by the bound port.
  const std::string& address() const { return address_; }
  int threads() const { return static_cast<int>(threads_.size()); }
  // INFO `envoy`: (name, value) of the summed counters. Any thread.
  void for_each_counter(const std::function<void(std::string_view, uint64_t)>& visit) const;

 private:
  struct Impl;
  struct Thread;
  void run(Thread& thread);

  GrpcConfig config_;
  std::atomic<Engine*> engine_;
  std::atomic<const EnvoyMapping*> mapping_;
  Reclaimer& reclaimer_;
  const Clock& clock_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Thread>> threads_;
  int port_ = 0;
  size_t max_key_ = 512;
  calllog::CallLog* call_log_ = nullptr;
  int call_log_first_ = 0;
  std::string address_;
  bool started_ = false;
};

}  // namespace tollgate::fronts
