// ShouldRateLimit decisions per second through the gRPC front, measured by a
// multi-threaded asynchronous gRPC client (README, "Envoy rate limit
// service"; issue 12 target: >= 100,000/s on 2 cores, against
// envoyproxy/ratelimit's published ~2,000–2,500 RPS per instance).
//
// One run, two processes: the real RlsServer (fronts/envoy/grpc/) on a free
// loopback port over a real engine built from YAML in a forked server
// process (so that its CPU time is its own), and `--clients` client
// threads, each with its own channel (its own HTTP/2 connection) and
// completion queue, keeping `--inflight` calls outstanding. Every call is one
// ShouldRateLimit of `--descriptors` descriptors on keys of a key class whose
// limit never denies (so every call is charged: the full decision path).
// Reported: calls/s, decisions/s (calls × descriptors), latency p50/p99/p999
// as the client sees it, and — in the same run, as the ratio the issue asks
// for — the same decisions made by the mapping + engine alone on one thread
// (RlsDecider without gRPC), so the transport's share is visible.
//
//   build/bench/grpc_rls_throughput [--seconds 5] [--server-threads 2]
//       [--clients 2] [--inflight 64] [--descriptors 1] [--keys 10000]
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <envoy/service/ratelimit/v3/rls.grpc.pb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "control/engine_options.h"
#include "engine/engine.h"
#include "fronts/envoy/grpc/rls_server.h"

namespace {

namespace rls = ::envoy::service::ratelimit::v3;
using Clock = std::chrono::steady_clock;

struct Options {
  int seconds = 5;
  int server_threads = 2;
  int clients = 2;
  int inflight = 64;
  int descriptors = 1;
  int keys = 10'000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) o.seconds = v;
    else if (!std::strcmp(argv[i], "--server-threads")) o.server_threads = v;
    else if (!std::strcmp(argv[i], "--clients")) o.clients = v;
    else if (!std::strcmp(argv[i], "--inflight")) o.inflight = v;
    else if (!std::strcmp(argv[i], "--descriptors")) o.descriptors = v;
    else if (!std::strcmp(argv[i], "--keys")) o.keys = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  return o;
}

constexpr const char* kConfig = R"(
table: { max_keys: 1000000 }
key_classes:
  - match: "user:*"
    limits:
      - {name: per_second, type: token_bucket, rate: 1000000000, per: 1s, burst: 1000000000}
envoy:
  domains:
    - domain: bench
      key: user
)";

rls::RateLimitRequest request_for(int n, const Options& o) {
  rls::RateLimitRequest req;
  req.set_domain("bench");
  for (int d = 0; d < o.descriptors; ++d) {
    auto* e = req.add_descriptors()->add_entries();
    e->set_key("user");
    e->set_value("user:" + std::to_string((n * o.descriptors + d) % o.keys));
  }
  return req;
}

struct Call {
  std::optional<grpc::ClientContext> context;
  rls::RateLimitResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<rls::RateLimitResponse>> reader;
  Clock::time_point started;
};

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

struct ClientResult {
  uint64_t calls = 0;
  uint64_t errors = 0;
  uint64_t over_limit = 0;
  std::vector<uint32_t> latencies_us;
};

void run_client(const std::string& target, int index, const Options& o, Clock::time_point end,
                ClientResult& result) {
  grpc::ChannelArguments args;
  args.SetInt("tollgate.bench.client", index);  // a distinct channel → its own connection
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  auto stub = rls::RateLimitService::NewStub(channel);
  grpc::CompletionQueue cq;
  std::vector<rls::RateLimitRequest> requests;
  for (int i = 0; i < 1024; ++i) requests.push_back(request_for(index * 1024 + i, o));
  std::vector<Call> calls(o.inflight);
  uint64_t sent = 0;
  auto start = [&](Call& c) {
    c.context.reset();
    c.context.emplace();
    c.started = Clock::now();
    c.reader = stub->PrepareAsyncShouldRateLimit(&*c.context, requests[sent++ % requests.size()], &cq);
    c.reader->StartCall();
    c.reader->Finish(&c.response, &c.status, &c);
  };
  for (Call& c : calls) start(c);
  int outstanding = o.inflight;
  result.latencies_us.reserve(4'000'000);
  void* tag = nullptr;
  bool ok = false;
  while (outstanding > 0 && cq.Next(&tag, &ok)) {
    Call& c = *static_cast<Call*>(tag);
    const auto now = Clock::now();
    if (!ok || !c.status.ok()) {
      ++result.errors;
    } else {
      ++result.calls;
      if (c.response.overall_code() != rls::RateLimitResponse::OK) ++result.over_limit;
      result.latencies_us.push_back(
          static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count()));
    }
    if (now < end) {
      start(c);
    } else {
      --outstanding;
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// The same decisions without gRPC: RlsDecider + engine on this thread.
double direct_decisions_per_second(tollgate::Engine& engine, const tollgate::fronts::EnvoyMapping& mapping,
                                   tollgate::Reclaimer& reclaimer, const tollgate::Clock& clock, const Options& o) {
  tollgate::fronts::RlsDecider decider;
  tollgate::fronts::RlsCounters counters;
  const int slot = reclaimer.register_reader();
  std::vector<std::string> values;
  for (int i = 0; i < 1024 * o.descriptors; ++i) values.push_back("user:" + std::to_string(i % o.keys));
  uint64_t decided = 0;
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::seconds(1);
  while (Clock::now() < end) {
    for (int n = 0; n < 1000; ++n) {
      decider.clear();
      for (int d = 0; d < o.descriptors; ++d) {
        decider.add_entry("user", values[(decided + static_cast<uint64_t>(d)) % values.size()]);
        decider.end_descriptor();
      }
      tollgate::ReadGuard guard(reclaimer, slot);
      decider.decide(mapping, engine, "bench", 0, clock.now(), 0, counters);
      decided += static_cast<uint64_t>(o.descriptors);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(decided) / seconds;
}

uint32_t percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

// The server process: the real RlsServer over a real engine. Tells the
// parent its port, then answers the parent's 'b' (begin) and 'e' (end) with
// its CPU time so far (all its threads, gRPC's own included), and exits after
// 'e'. Its own process, so that server CPU is measured apart from the client's
// (in one process gRPC's pollers serve both sides' sockets).
int run_server(const Options& o, int to_parent, int from_parent) {
  auto config = tollgate::parse_config(kConfig, "grpc_rls_throughput");
  if (!config) {
    std::fprintf(stderr, "config: %s\n", config.error().front().to_string().c_str());
    return 1;
  }
  tollgate::SystemClock clock;
  tollgate::Reclaimer reclaimer(o.server_threads + 8);
  tollgate::RuntimeState state;
  auto engine = tollgate::Engine::create(tollgate::engine_options_from(*config, 1), reclaimer, clock.now(), state);
  if (!engine) {
    std::fprintf(stderr, "engine: %s\n", engine.error().front().c_str());
    return 1;
  }
  tollgate::GrpcConfig grpc_config;
  grpc_config.listen = "127.0.0.1:0";
  grpc_config.threads = o.server_threads;
  tollgate::fronts::RlsServer server(grpc_config, std::make_unique<const tollgate::fronts::EnvoyMapping>(config->envoy),
                                     **engine, reclaimer, clock);
  int port = 0;
  if (auto started = server.start(); !started) std::fprintf(stderr, "%s\n", started.error().c_str());
  else port = server.port();
  if (::write(to_parent, &port, sizeof port) != sizeof port || port == 0) return 1;
  char c = 0;
  while (::read(from_parent, &c, 1) == 1) {
    const double cpu = process_cpu_seconds();
    if (::write(to_parent, &cpu, sizeof cpu) != sizeof cpu) return 1;
    if (c == 'e') break;
  }
  server.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  auto config = tollgate::parse_config(kConfig, "grpc_rls_throughput");
  if (!config) {
    std::fprintf(stderr, "config: %s\n", config.error().front().to_string().c_str());
    return 1;
  }
  // Forked before this process touches gRPC (gRPC does not survive a fork).
  int up[2], down[2];
  if (::pipe(up) != 0 || ::pipe(down) != 0) return 1;
  const pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    ::close(up[0]);
    ::close(down[1]);
    ::_exit(run_server(o, up[1], down[0]));
  }
  ::close(up[1]);
  ::close(down[0]);
  int port = 0;
  if (::read(up[0], &port, sizeof port) != sizeof port || port == 0) {
    std::fprintf(stderr, "the server process did not start\n");
    return 1;
  }
  auto server_cpu = [&](char what) {
    double cpu = 0;
    if (::write(down[1], &what, 1) != 1 || ::read(up[0], &cpu, sizeof cpu) != sizeof cpu) {
      std::fprintf(stderr, "the server process went away\n");
      std::exit(1);
    }
    return cpu;
  };
  const std::string target = "127.0.0.1:" + std::to_string(port);

  // Warm up (connections, dynamic keys), then measure.
  {
    std::vector<ClientResult> warm(static_cast<size_t>(o.clients));
    std::vector<std::thread> threads;
    const auto end = Clock::now() + std::chrono::milliseconds(500);
    for (int i = 0; i < o.clients; ++i)
      threads.emplace_back(run_client, target, i, std::cref(o), end, std::ref(warm[static_cast<size_t>(i)]));
    for (auto& t : threads) t.join();
  }
  std::vector<ClientResult> results(static_cast<size_t>(o.clients));
  std::vector<std::thread> threads;
  const double server0 = server_cpu('b');
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::seconds(o.seconds);
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back(run_client, target, i, std::cref(o), end, std::ref(results[static_cast<size_t>(i)]));
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double client_cpu = process_cpu_seconds() - cpu0;  // client threads + gRPC's own client-side threads
  const double server_cpu_used = server_cpu('e') - server0;
  int child_status = 0;
  ::waitpid(child, &child_status, 0);

  uint64_t calls = 0, errors = 0, over = 0;
  std::vector<uint32_t> latencies;
  for (auto& r : results) {
    calls += r.calls;
    errors += r.errors;
    over += r.over_limit;
    latencies.insert(latencies.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  const double calls_per_second = static_cast<double>(calls) / seconds;
  const double decisions_per_second = calls_per_second * o.descriptors;

  // The same decisions without gRPC, in this process.
  tollgate::SystemClock clock;
  tollgate::Reclaimer reclaimer(8);
  tollgate::RuntimeState state;
  auto engine = tollgate::Engine::create(tollgate::engine_options_from(*config, 1), reclaimer, clock.now(), state);
  if (!engine) {
    std::fprintf(stderr, "engine: %s\n", engine.error().front().c_str());
    return 1;
  }
  const double direct = direct_decisions_per_second(**engine, tollgate::fronts::EnvoyMapping(config->envoy), reclaimer,
                                                    clock, o);
  std::printf("grpc_rls_throughput: %u cores, server threads %d, clients %d x %d in flight, %d descriptor(s)/call, "
              "%.1f s\n",
              std::thread::hardware_concurrency(), o.server_threads, o.clients, o.inflight, o.descriptors, seconds);
  std::printf("  ShouldRateLimit calls/s     %12.0f\n", calls_per_second);
  std::printf("  decisions/s (over gRPC)     %12.0f   target >= 100000: %s\n", decisions_per_second,
              decisions_per_second >= 100'000 ? "met" : "NOT met");
  std::printf("  latency p50/p99/p999        %8u / %u / %u us\n", percentile(latencies, 0.50),
              percentile(latencies, 0.99), percentile(latencies, 0.999));
  // CPU per call does not depend on what else the machine runs (the wall
  // clock figures above do): the server process's CPU time (every thread,
  // gRPC's own included) and the client process's, each over the calls.
  const double server_us = server_cpu_used * 1e6 / static_cast<double>(calls);
  const double client_us = client_cpu * 1e6 / static_cast<double>(calls);
  std::printf("  CPU per call: server %.1f us, client %.1f us (server process used %.2f, client %.2f of %u cores)\n",
              server_us, client_us, server_cpu_used / seconds, client_cpu / seconds,
              std::thread::hardware_concurrency());
  std::printf("  => capacity from CPU per call: server alone on 2 cores %.0f calls/s; server and this client on the "
              "same 2 cores %.0f calls/s\n",
              2e6 / server_us, 2e6 / (server_us + client_us));
  std::printf("  errors %llu, over_limit %llu\n", static_cast<unsigned long long>(errors),
              static_cast<unsigned long long>(over));
  std::printf("  same decisions without gRPC  %12.0f /s on one thread (gRPC path = %.2fx of it)\n", direct,
              decisions_per_second / direct);
  return errors == 0 && over == 0 && WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0 ? 0 : 1;
}
