#include "fronts/envoy/grpc/rls_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <envoy/service/ratelimit/v3/rls.grpc.pb.h>
#include <grpc/health/v1/health.grpc.pb.h>

#include <pthread.h>

#include <chrono>
#include <optional>

namespace tollgate::fronts {
namespace {

namespace rls = ::envoy::service::ratelimit::v3;
namespace health = ::grpc::health::v1;

// A completion-queue tag: every slot starts with its kind and stage.
struct Slot {
  enum class Kind : uint8_t { kRls, kHealthCheck, kHealthWatch };
  enum class Stage : uint8_t { kRequested, kFinishing };
  explicit Slot(Kind k) : kind(k) {}
  Kind kind;
  Stage stage = Stage::kRequested;
  std::optional<grpc::ServerContext> context;
};

// One call slot: requested, then decided and answered, then requested again.
struct Call : Slot {
  Call() : Slot(Kind::kRls) {}
  rls::RateLimitRequest request;
  rls::RateLimitResponse response;
  std::optional<grpc::ServerAsyncResponseWriter<rls::RateLimitResponse>> responder;
};

// grpc.health.v1.Health/Check, answered on our own threads: gRPC's built-in
// health service is a callback service, and a server with one runs gRPC's
// callback queue with threads of its own that poll the same sockets as ours
// (bench/grpc_rls_throughput: a tenth to a fifth of the server's CPU per
// call) and that server.grpc.threads does not bound.
struct HealthCheck : Slot {
  HealthCheck() : Slot(Kind::kHealthCheck) {}
  health::HealthCheckRequest request;
  health::HealthCheckResponse response;
  std::optional<grpc::ServerAsyncResponseWriter<health::HealthCheckResponse>> responder;
};

// Health/Watch is answered UNIMPLEMENTED (the health protocol lets a server
// do so; Envoy, Kubernetes and grpc_health_probe use Check).
struct HealthWatch : Slot {
  HealthWatch() : Slot(Kind::kHealthWatch) {}
  health::HealthCheckRequest request;
  std::optional<grpc::ServerAsyncWriter<health::HealthCheckResponse>> writer;
};

void fill_response(const RlsAnswer& answer, rls::RateLimitResponse& out) {
  out.Clear();
  out.set_overall_code(static_cast<rls::RateLimitResponse::Code>(answer.overall));
  for (const RlsStatus& s : answer.statuses) {
    auto* status = out.add_statuses();
    status->set_code(static_cast<rls::RateLimitResponse::Code>(s.code));
    status->set_limit_remaining(s.limit_remaining);
    if (s.current_limit) {
      auto* limit = status->mutable_current_limit();
      limit->set_name(s.current_limit->name.data(), s.current_limit->name.size());
      limit->set_requests_per_unit(s.current_limit->requests_per_unit);
      limit->set_unit(static_cast<rls::RateLimitResponse::RateLimit::Unit>(s.current_limit->unit));
    }
    if (s.reset_after_ms >= 0) {
      auto* reset = status->mutable_duration_until_reset();
      reset->set_seconds(s.reset_after_ms / 1000);
      reset->set_nanos(static_cast<int32_t>(s.reset_after_ms % 1000) * 1'000'000);
    }
  }
  for (const HeaderField& h : answer.headers) {
    auto* header = out.add_response_headers_to_add();
    header->set_key(h.name.data(), h.name.size());
    header->set_value(h.value.data(), h.value.size());
  }
}

}  // namespace

struct RlsServer::Impl {
  rls::RateLimitService::AsyncService service;
  health::Health::AsyncService health;
  std::atomic<bool> serving{false};
  std::unique_ptr<grpc::Server> server;
};

struct RlsServer::Thread {
  std::unique_ptr<grpc::ServerCompletionQueue> queue;
  std::vector<std::unique_ptr<Call>> calls;
  HealthCheck health_check;
  HealthWatch health_watch;
  grpc::Alarm stop_alarm;
  int reader_slot = 0;
  int log_buffer = 0;  // in the call log (set_call_log)
  RlsDecider decider;
  RlsCounters counters;
  std::thread thread;
};

RlsServer::RlsServer(const GrpcConfig& config, std::unique_ptr<const EnvoyMapping> mapping, Engine& engine,
                     Reclaimer& reclaimer, const Clock& clock)
    : config_(config),
      engine_(&engine),
      mapping_(mapping.release()),
      reclaimer_(reclaimer),
      clock_(clock),
      impl_(std::make_unique<Impl>()) {}

RlsServer::~RlsServer() {
  stop();
  delete mapping_.load(std::memory_order_acquire);
}

void RlsServer::set_mapping(std::unique_ptr<const EnvoyMapping> mapping) {
  const EnvoyMapping* old = mapping_.exchange(mapping.release(), std::memory_order_acq_rel);
  reclaimer_.retire([old] { delete old; });
}

std::expected<void, std::string> RlsServer::start() {
  // Debian's abseil checks every gRPC mutex acquisition for lock-order
  // cycles (a debugging aid: a graph update per lock, a visible share of
  // each call in bench/grpc_rls_throughput). Process-wide; tollgate's own
  // code takes no absl mutex.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc::EnableDefaultHealthCheckService(false);  // ours, on our threads (HealthCheck above)
  grpc::ServerBuilder builder;
  // Without this gRPC sets SO_REUSEPORT, and a second daemon on the same
  // port would silently share it instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  int bound_port = 0;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&impl_->service);
  builder.RegisterService(&impl_->health);
  for (int i = 0; i < config_.threads; ++i) {
    auto t = std::make_unique<Thread>();
    t->queue = builder.AddCompletionQueue();
    threads_.push_back(std::move(t));
  }
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || bound_port == 0) {
    if (impl_->server) impl_->server->Shutdown();
    for (auto& t : threads_) {
      t->queue->Shutdown();
      void* tag;
      bool ok;
      while (t->queue->Next(&tag, &ok)) {
      }
    }
    threads_.clear();
    impl_->server.reset();
    return std::unexpected("cannot listen on server.grpc.listen " + config_.listen +
                           " (address in use, not local, or not permitted)");
  }
  const bool unix_socket = config_.listen.starts_with("unix:");
  port_ = unix_socket ? 0 : bound_port;
  address_ = unix_socket ? config_.listen
                         : config_.listen.substr(0, config_.listen.rfind(':') + 1) + std::to_string(bound_port);
  impl_->serving.store(true, std::memory_order_release);
  for (size_t i = 0; i < threads_.size(); ++i) threads_[i]->log_buffer = call_log_first_ + static_cast<int>(i);
  for (auto& t : threads_) {
    t->reader_slot = reclaimer_.register_reader();
    for (int i = 0; i < kCallsPerThread; ++i) t->calls.push_back(std::make_unique<Call>());
    Thread* self = t.get();
    t->thread = std::thread([this, self] { run(*self); });
  }
  started_ = true;
  return {};
}

void RlsServer::stop() {
  if (!started_) return;
  started_ = false;
  impl_->serving.store(false, std::memory_order_release);
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  // Each thread shuts its own queue down when its alarm fires: a thread that
  // is answering a call re-requests a slot on its queue, which must not race
  // a Shutdown() of that queue from here.
  for (auto& t : threads_) t->stop_alarm.Set(t->queue.get(), gpr_now(GPR_CLOCK_MONOTONIC), &t->stop_alarm);
  for (auto& t : threads_) t->thread.join();
  impl_->server.reset();
}

void RlsServer::run(Thread& t) {
  ::pthread_setname_np(::pthread_self(), "tollgate-grpc");
  bool stopping = false;
  auto request = [&](Call& c) {
    c.stage = Slot::Stage::kRequested;
    c.context.reset();
    c.context.emplace();
    c.responder.reset();
    c.responder.emplace(&*c.context);
    impl_->service.RequestShouldRateLimit(&*c.context, &c.request, &*c.responder, t.queue.get(), t.queue.get(), &c);
  };
  auto request_check = [&](HealthCheck& h) {
    h.stage = Slot::Stage::kRequested;
    h.context.reset();
    h.context.emplace();
    h.responder.reset();
    h.responder.emplace(&*h.context);
    impl_->health.RequestCheck(&*h.context, &h.request, &*h.responder, t.queue.get(), t.queue.get(), &h);
  };
  auto request_watch = [&](HealthWatch& h) {
    h.stage = Slot::Stage::kRequested;
    h.context.reset();
    h.context.emplace();
    h.writer.reset();
    h.writer.emplace(&*h.context);
    impl_->health.RequestWatch(&*h.context, &h.request, &*h.writer, t.queue.get(), t.queue.get(), &h);
  };
  for (auto& c : t.calls) request(*c);
  request_check(t.health_check);
  request_watch(t.health_watch);

  void* tag = nullptr;
  bool ok = false;
  while (t.queue->Next(&tag, &ok)) {
    if (tag == &t.stop_alarm) {
      stopping = true;
      t.queue->Shutdown();
      continue;
    }
    Slot& slot = *static_cast<Slot*>(tag);
    if (slot.stage == Slot::Stage::kFinishing) {
      // An answer sent (ok) or not (the client cancelled or went away): the
      // slot is free either way and goes back to waiting for the next call,
      // or the thread would run out of slots one cancelled call at a time.
      if (stopping) continue;
      switch (slot.kind) {
        case Slot::Kind::kRls: request(static_cast<Call&>(slot)); break;
        case Slot::Kind::kHealthCheck: request_check(static_cast<HealthCheck&>(slot)); break;
        case Slot::Kind::kHealthWatch: request_watch(static_cast<HealthWatch&>(slot)); break;
      }
      continue;
    }
    if (!ok) continue;  // a waiting slot the server's shutdown cancelled
    slot.stage = Slot::Stage::kFinishing;
    if (slot.kind == Slot::Kind::kHealthCheck) {
      auto& h = static_cast<HealthCheck&>(slot);
      // The whole server ("") and the rate limit service by name; any other
      // name is unknown (NOT_FOUND, as the health protocol says).
      const std::string& service = h.request.service();
      if (!service.empty() && service != rls::RateLimitService::service_full_name()) {
        h.responder->FinishWithError(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"), &h);
        continue;
      }
      h.response.set_status(impl_->serving.load(std::memory_order_acquire) ? health::HealthCheckResponse::SERVING
                                                                          : health::HealthCheckResponse::NOT_SERVING);
      h.responder->Finish(h.response, grpc::Status::OK, &h);
      continue;
    }
    if (slot.kind == Slot::Kind::kHealthWatch) {
      auto& h = static_cast<HealthWatch&>(slot);
      h.writer->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "Health/Watch is not served; use Check"), &h);
      continue;
    }
    Call& c = static_cast<Call&>(slot);
    const Nanos now = clock_.now();
    // No deadline reads as time_point::max(), never in the past.
    const int64_t deadline =
        std::chrono::duration_cast<std::chrono::nanoseconds>(c.context->deadline().time_since_epoch()).count();
    if (deadline <= now) {
      RlsCounters::bump(t.counters.deadline_exceeded);
      c.responder->FinishWithError(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                                "the call's deadline passed before it was decided; nothing charged"),
                                   &c);
      continue;
    }
    t.decider.clear();
    for (const auto& d : c.request.descriptors()) {
      for (const auto& e : d.entries()) t.decider.add_entry(e.key(), e.value());
      t.decider.end_descriptor();
    }
    if (auto problem = rls_request_problem(c.request.domain(), t.decider.descriptor_count(),
                                           static_cast<size_t>(config_.max_descriptors), t.decider.entries(),
                                           max_key_)) {
      RlsCounters::bump(t.counters.invalid_requests);
      c.responder->FinishWithError(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(*problem)), &c);
      continue;
    }
    {
      // The answer's names point into the engine's config: fill the
      // response before leaving the critical section.
      ReadGuard guard(reclaimer_, t.reader_slot);
      Engine& engine = *engine_.load(std::memory_order_acquire);
      const EnvoyMapping& mapping = *mapping_.load(std::memory_order_acquire);
      const RlsAnswer& answer =
          t.decider.decide(mapping, engine, c.request.domain(), c.request.hits_addend(), now, 0, t.counters,
                           call_log_, t.log_buffer);
      fill_response(answer, c.response);
    }
    c.responder->Finish(c.response, grpc::Status::OK, &c);
  }
}

void RlsServer::for_each_counter(const std::function<void(std::string_view, uint64_t)>& visit) const {
  auto sum = [&](std::atomic<uint64_t> RlsCounters::*field) {
    uint64_t total = 0;
    for (const auto& t : threads_) total += (t->counters.*field).load(std::memory_order_relaxed);
    return total;
  };
  visit("envoy_requests", sum(&RlsCounters::requests));
  visit("envoy_descriptors", sum(&RlsCounters::descriptors));
  visit("envoy_ok", sum(&RlsCounters::ok));
  visit("envoy_over_limit", sum(&RlsCounters::over_limit));
  visit("envoy_unknown_domains", sum(&RlsCounters::unknown_domains));
  visit("envoy_unmatched_descriptors", sum(&RlsCounters::unmatched_descriptors));
  visit("envoy_invalid_requests", sum(&RlsCounters::invalid_requests));
  visit("envoy_deadline_exceeded", sum(&RlsCounters::deadline_exceeded));
}

}  // namespace tollgate::fronts
