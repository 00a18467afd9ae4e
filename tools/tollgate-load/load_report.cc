#include "load_report.h"

#include <fmt/format.h>

#include <algorithm>

namespace tollgate::load {

namespace {

constexpr double kPercentiles[] = {50.0, 90.0, 99.0, 99.9};
constexpr const char* kPercentileNames[] = {"p50", "p90", "p99", "p99_9"};

double micros(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string describe_keys(const LoadOptions& o) {
  if (o.command == CommandKind::kPing) return "";
  if (o.distribution == KeyDistribution::kZipf) {
    return fmt::format(" on {} keys '{}*' (zipf {})", o.keys, o.key_prefix, o.zipf_skew);
  }
  return fmt::format(" on {} keys '{}*' (uniform)", o.keys, o.key_prefix);
}

}  // namespace

uint64_t RunTotals::denied() const {
  uint64_t n = denied_other_code;
  for (const uint64_t d : denied_by_code) n += d;
  return n;
}

RunTotals merge(const std::vector<std::unique_ptr<WorkerStats>>& workers, bool finished) {
  RunTotals t;
  uint64_t start = UINT64_MAX;
  uint64_t last = 0;
  for (const auto& w : workers) {
    t.sent += w->sent.get();
    t.replies += w->replies.get();
    t.allowed += w->allowed.get();
    for (int i = 0; i < kCodeCount; ++i) t.denied_by_code[static_cast<size_t>(i)] += w->denied_by_code[static_cast<size_t>(i)].get();
    t.denied_other_code += w->denied_other_code.get();
    t.error_replies += w->error_replies.get();
    t.other_replies += w->other_replies.get();
    t.connection_errors += w->connection_errors.get();
    t.unanswered += w->unanswered.get();
    t.latency_ns->add(w->latency_ns);
    if (!finished) continue;
    start = std::min(start, w->start_ns);
    last = std::max(last, w->last_reply_ns);
    if (t.first_error_reply.empty()) t.first_error_reply = w->first_error_reply;
    if (t.first_connection_error.empty()) t.first_connection_error = w->first_connection_error;
  }
  if (finished && last > start) t.elapsed_s = static_cast<double>(last - start) / 1e9;
  return t;
}

std::string format_progress(double elapsed_s, double interval_rate, const RunTotals& t) {
  return fmt::format("[{:5.1f}s] {:>10.0f} req/s  p99 {:>9.1f} µs  replies {}  errors {}  conn errors {}",
                     elapsed_s, interval_rate, micros(t.latency_ns->value_at_percentile(99)), t.replies,
                     t.error_replies, t.connection_errors);
}

std::string format_text(const LoadOptions& o, const RunTotals& t) {
  std::string out;
  out += fmt::format("tollgate-load: {} × {} {}{}, {} connections × pipeline {}, {} thread{}, {}\n",
                     t.sent, command_name(o.command), o.socket_path, describe_keys(o), o.connections, o.pipeline,
                     o.threads, o.threads == 1 ? "" : "s",
                     o.open_loop() ? fmt::format("open loop at {:.0f} req/s", o.rate) : std::string("closed loop"));
  out += fmt::format("throughput     {:.0f} req/s ({} replies in {:.3f} s)\n", t.throughput(), t.replies, t.elapsed_s);
  if (o.command != CommandKind::kPing) {
    out += fmt::format("decisions      allowed {}  denied {}", t.allowed, t.denied());
    for (int i = 0; i < kCodeCount; ++i) {
      const uint64_t n = t.denied_by_code[static_cast<size_t>(i)];
      if (n != 0) out += fmt::format("  {} {}", code_name(static_cast<Code>(i)), n);
    }
    if (t.denied_other_code != 0) out += fmt::format("  other {}", t.denied_other_code);
    out += "\n";
  }
  out += fmt::format("replies        errors {}  other {}", t.error_replies, t.other_replies);
  if (!t.first_error_reply.empty()) out += fmt::format("  (first error: {})", t.first_error_reply);
  out += "\n";
  out += fmt::format("connections    errors {}  unanswered requests {}", t.connection_errors, t.unanswered);
  if (!t.first_connection_error.empty()) out += fmt::format("  (first: {})", t.first_connection_error);
  out += "\n";
  const HdrHistogram& h = *t.latency_ns;
  out += fmt::format("latency µs     p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}  mean {:.1f}{}\n",
                     micros(h.value_at_percentile(50)), micros(h.value_at_percentile(90)),
                     micros(h.value_at_percentile(99)), micros(h.value_at_percentile(99.9)), micros(h.max()),
                     h.mean() / 1000.0, o.open_loop() ? "  (from intended send time)" : "");
  return out;
}

std::string format_json(const LoadOptions& o, const RunTotals& t) {
  std::string denied = "{";
  for (int i = 0; i < kCodeCount; ++i) {
    const uint64_t n = t.denied_by_code[static_cast<size_t>(i)];
    if (n == 0) continue;
    if (denied.size() > 1) denied += ",";
    denied += fmt::format("{}:{}", json_string(code_name(static_cast<Code>(i))), n);
  }
  if (t.denied_other_code != 0) denied += fmt::format("{}\"other\":{}", denied.size() > 1 ? "," : "", t.denied_other_code);
  denied += "}";

  const HdrHistogram& h = *t.latency_ns;
  std::string latency = "{";
  for (size_t i = 0; i < std::size(kPercentiles); ++i) {
    latency += fmt::format("\"{}\":{:.3f},", kPercentileNames[i], micros(h.value_at_percentile(kPercentiles[i])));
  }
  latency += fmt::format("\"max\":{:.3f},\"mean\":{:.3f},\"min\":{:.3f}}}", micros(h.max()), h.mean() / 1000.0,
                         micros(h.min()));

  return fmt::format(
      "{{\"socket\":{},\"command\":\"{}\",\"connections\":{},\"pipeline\":{},\"threads\":{},"
      "\"mode\":\"{}\",\"rate\":{},\"keys\":{},\"key_prefix\":{},\"distribution\":\"{}\",\"zipf_skew\":{},"
      "\"seed\":{},\"elapsed_s\":{:.6f},\"sent\":{},\"replies\":{},\"throughput_rps\":{:.1f},"
      "\"allowed\":{},\"denied\":{},\"denied_by_code\":{},\"error_replies\":{},\"other_replies\":{},"
      "\"connection_errors\":{},\"unanswered\":{},\"first_error_reply\":{},\"first_connection_error\":{},"
      "\"latency_us\":{}}}\n",
      json_string(o.socket_path), command_name(o.command), o.connections, o.pipeline, o.threads,
      o.open_loop() ? "open" : "closed", o.rate, o.keys, json_string(o.key_prefix),
      o.distribution == KeyDistribution::kZipf ? "zipf" : "uniform", o.zipf_skew, o.seed, t.elapsed_s, t.sent,
      t.replies, t.throughput(), t.allowed, t.denied(), denied, t.error_replies, t.other_replies,
      t.connection_errors, t.unanswered, json_string(t.first_error_reply), json_string(t.first_connection_error),
      latency);
}

}  // namespace tollgate::load
