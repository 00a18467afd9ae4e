// tollgate-load: a load generator for capacity planning against tollgate (or
// any RESP server) on a Unix socket. Closed loop by default; with --rate, open
// loop with latency measured from each request's intended send time.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "load_options.h"
#include "load_report.h"
#include "load_stats.h"
#include "load_worker.h"

namespace tollgate::load {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

// "10s", "500ms", "2m", "1.5s", "100us"; a bare number is seconds.
bool parse_duration(const std::string& text, int64_t& out_ns) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return false;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us" || unit == "µs") scale = 1e3;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  if (scale == 0 || !(value > 0)) return false;
  out_ns = static_cast<int64_t>(value * scale);
  return out_ns > 0;
}

// A plain blocking connect, so "no server" is one clear message, not 50 errors.
bool can_connect(const std::string& path, std::string& why) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    why = "socket path too long";
    return false;
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::strerror(errno);
    return false;
  }
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  if (!ok) why = std::strerror(errno);
  ::close(fd);
  return ok;
}

// `total` × weight / weight_sum, without overflow.
uint64_t proportional_share(uint64_t total, uint64_t weight, uint64_t weight_sum) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(total) * weight / weight_sum);
}

int run(const LoadOptions& options) {
  std::string why;
  if (!can_connect(options.socket_path, why)) {
    fmt::print(stderr, "tollgate-load: cannot connect to {}: {}\n", options.socket_path, why);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction action {};
  action.sa_handler = on_sigint;
  action.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
  sigaction(SIGINT, &action, nullptr);

  const uint64_t start_ns = uv_hrtime();
  std::vector<std::unique_ptr<WorkerStats>> stats;
  std::vector<std::unique_ptr<LoadWorker>> workers;
  uint64_t requests_assigned = 0;
  for (int i = 0; i < options.threads; ++i) {
    WorkerPlan plan;
    plan.connections = options.connections / options.threads + (i < options.connections % options.threads ? 1 : 0);
    const auto weight = static_cast<uint64_t>(plan.connections);
    const auto weight_sum = static_cast<uint64_t>(options.connections);
    if (options.requests > 0) {
      plan.requests = i + 1 == options.threads ? options.requests - requests_assigned
                                               : proportional_share(options.requests, weight, weight_sum);
      requests_assigned += plan.requests;
      if (plan.requests == 0) plan.requests = 1;  // 0 would mean "until the deadline"
    }
    plan.rate = options.rate * static_cast<double>(weight) / static_cast<double>(weight_sum);
    plan.seed = options.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i);
    plan.start_ns = start_ns;
    stats.push_back(std::make_unique<WorkerStats>());
    workers.push_back(std::make_unique<LoadWorker>(options, plan, *stats.back()));
  }

  std::atomic<int> running{options.threads};
  std::atomic<bool> loop_failed{false};
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&, w = worker.get()] {
      if (!w->run()) loop_failed = true;
      --running;
    });
  }

  // Progress once a second while the workers run; Ctrl-C stops them cleanly.
  const bool show_progress = !options.quiet && ::isatty(STDERR_FILENO);
  uint64_t last_replies = 0;
  uint64_t last_ns = start_ns;
  uint64_t next_report_ns = start_ns + 1'000'000'000;
  bool stop_sent = false;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (g_interrupted && !stop_sent) {
      for (auto& w : workers) w->request_stop();
      stop_sent = true;
    }
    const uint64_t now = uv_hrtime();
    if (show_progress && now >= next_report_ns) {
      const RunTotals totals = merge(stats, false);
      const double rate = static_cast<double>(totals.replies - last_replies) * 1e9 / static_cast<double>(now - last_ns);
      fmt::print(stderr, "{}\n", format_progress(static_cast<double>(now - start_ns) / 1e9, rate, totals));
      last_replies = totals.replies;
      last_ns = now;
      next_report_ns += 1'000'000'000;
    }
  }
  for (auto& t : threads) t.join();

  const RunTotals totals = merge(stats, true);
  const std::string report = options.json ? format_json(options, totals) : format_text(options, totals);
  std::fwrite(report.data(), 1, report.size(), stdout);
  if (loop_failed) {
    fmt::print(stderr, "tollgate-load: internal error: an event loop did not close cleanly\n");
    return 1;
  }
  if (totals.replies == 0) {
    fmt::print(stderr, "tollgate-load: no replies received{}\n",
               totals.first_connection_error.empty() ? "" : " (" + totals.first_connection_error + ")");
    return 1;
  }
  return totals.connection_errors > 0 ? 1 : 0;
}

}  // namespace
}  // namespace tollgate::load

int main(int argc, char** argv) {
  using namespace tollgate::load;
  LoadOptions o;
  std::string duration = "10s";
  std::string command = "check";
  std::string distribution = "uniform";

  CLI::App app{"tollgate-load: RESP load generator for tollgate (or Redis) on a Unix socket"};
  app.add_option("-s,--socket", o.socket_path, "Unix socket of the server")->required();
  app.add_option("-c,--connections", o.connections, "connections")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("-P,--pipeline", o.pipeline, "requests in flight per connection")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  auto* requests = app.add_option("-n,--requests", o.requests, "total requests (instead of --duration)")->check(CLI::PositiveNumber);
  app.add_option("-d,--duration", duration, "run time: 10s, 500ms, 2m")->capture_default_str()->excludes(requests);
  app.add_option("--rate", o.rate, "open loop: requests/s over all connections (latency from intended send time)")->check(CLI::PositiveNumber);
  app.add_option("-t,--threads", o.threads, "threads, each with its own event loop")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--command", command, "check | peek | ping | mix (CHECK with --peek-ratio PEEKs)")
      ->capture_default_str()->check(CLI::IsMember({"check", "peek", "ping", "mix"}));
  app.add_option("--peek-ratio", o.peek_ratio, "share of PEEK with --command mix")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("-k,--keys", o.keys, "keyspace size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--key-prefix", o.key_prefix, "key prefix (keys are <prefix><n>)")->capture_default_str();
  app.add_option("--distribution", distribution, "uniform | zipf")->capture_default_str()->check(CLI::IsMember({"uniform", "zipf"}));
  app.add_option("--zipf-skew", o.zipf_skew, "Zipf exponent (0 = uniform)")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  app.add_option("--cost", o.cost, "COST argument (omitted when 1)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--channel", o.channel, "CHANNEL argument");
  app.add_option("--purpose", o.purpose, "PURPOSE argument");
  app.add_option("--subjects", o.subjects, "SUBJECT drawn uniformly from N values (0: none)")->capture_default_str();
  app.add_flag("--json", o.json, "print one JSON object instead of the text report");
  app.add_flag("-q,--quiet", o.quiet, "no progress lines");
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!parse_duration(duration, o.duration_ns)) {
    fmt::print(stderr, "tollgate-load: bad --duration '{}' (examples: 10s, 500ms, 2m)\n", duration);
    return 2;
  }
  if (o.threads > o.connections) {
    fmt::print(stderr, "tollgate-load: --threads ({}) cannot exceed --connections ({})\n", o.threads, o.connections);
    return 2;
  }
  o.command = command == "peek" ? CommandKind::kPeek
              : command == "ping" ? CommandKind::kPing
              : command == "mix"  ? CommandKind::kMix
                                  : CommandKind::kCheck;
  o.distribution = distribution == "zipf" ? KeyDistribution::kZipf : KeyDistribution::kUniform;
  return run(o);
}
