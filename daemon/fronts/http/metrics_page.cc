#include "fronts/http/metrics_page.h"

#include <fmt/format.h>

#include <cctype>

namespace tollgate::fronts {
namespace {

// Writes families: one HELP/TYPE header, then its samples.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <typename V>
  void sample(std::string_view name, std::string_view labels, V value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  template <typename V>
  void single(std::string_view name, std::string_view type, std::string_view help, V value) {
    family(name, type, help);
    sample(name, "", value);
  }

 private:
  std::string& out_;
};

std::string label(std::string_view name, std::string_view value) {
  return fmt::format("{}=\"{}\"", name, MetricsPage::escape_label(value));
}

// A persistence counter's name as a metric name part ([a-z0-9_]).
std::string metric_part(std::string_view name) {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : '_';
  return out;
}

}  // namespace

std::string MetricsPage::escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void MetricsPage::render(std::string& out) const {
  Writer w(out);
  DataService& s = data_;
  Engine& engine = s.engine();

  w.family("tollgate_decisions_total", "counter", "CHECK decisions (RESP and HTTP) by code");
  for (int c = 0; c < kCodeCount; ++c)
    w.sample("tollgate_decisions_total", label("code", code_name(static_cast<Code>(c))), s.total_code(static_cast<Code>(c)));
  w.single("tollgate_peeks_total", "counter", "PEEK calls (RESP and HTTP)", s.total(&WorkerMetrics::peeks));
  w.single("tollgate_client_errors_total", "counter", "calls refused as malformed (RESP -ERR, HTTP 400)",
           s.total(&WorkerMetrics::client_errors));
  w.single("tollgate_paced_total", "counter", "CHECK ... WAIT replies held for their slot", s.total(&WorkerMetrics::paced));
  w.single("tollgate_commit_waits_total", "counter", "replies held until their charge was durable (durability strict)",
           s.total(&WorkerMetrics::commit_waits));

  // By contract: contracts are few and named in the config, so they may be labels.
  w.family("tollgate_contract_decisions_total", "counter",
           "CHECK decisions on a contract by code (ID replays not counted); key classes' keys are never labels");
  for (const auto& p : engine.contracts()) {
    if (p->state == nullptr) continue;
    for (int c = 0; c < kCodeCount; ++c) {
      const uint64_t n = p->state->decisions(static_cast<Code>(c));
      if (n > 0 || c == 0)
        w.sample("tollgate_contract_decisions_total",
                 label("contract", p->name) + "," + label("code", code_name(static_cast<Code>(c))), n);
    }
  }
  w.family("tollgate_contract_balance", "gauge", "prepaid balance of a priced contract, in minor currency units");
  std::vector<std::pair<const Policy*, const Account*>> priced;
  for (const auto& p : engine.contracts())
    if (p->state != nullptr && p->state->account() != nullptr) priced.emplace_back(p.get(), p->state->account());
  for (const auto& [p, a] : priced) w.sample("tollgate_contract_balance", label("contract", p->name), a->balance());
  w.family("tollgate_contract_credits", "gauge", "credits (calls at cost 1) a priced contract has left");
  for (const auto& [p, a] : priced) w.sample("tollgate_contract_credits", label("contract", p->name), a->credits());
  w.family("tollgate_contract_open_holds", "gauge", "holds open per contract");
  for (const auto& p : engine.contracts())
    if (p->state != nullptr)
      w.sample("tollgate_contract_open_holds", label("contract", p->name),
               p->state->open_holds().load(std::memory_order_relaxed));
  w.single("tollgate_ledger_sequence", "gauge", "sequence number of the newest ledger entry",
           engine.state().ledger().last_seq());

  w.family("tollgate_shadow_denials_total", "counter",
           "calls a shadow limit would have denied (scope contract or key_class; the policy is a contract key or a "
           "key-class pattern, never a dynamic key)");
  auto shadow = [&](std::string_view scope, const Policy& p, std::string_view limit, uint64_t n) {
    w.sample("tollgate_shadow_denials_total",
             label("scope", scope) + "," + label("policy", p.name) + "," + label("limit", limit), n);
  };
  auto policy_shadows = [&](std::string_view scope, const Policy& p) {
    for (const auto& l : p.limits)
      if (l->spec.shadow) shadow(scope, p, l->spec.name, l->shadow_denials.load(std::memory_order_relaxed));
    for (const auto& d : p.distinct)
      if (d->shadow) shadow(scope, p, d->name, d->shadow_denials.load(std::memory_order_relaxed));
    if (p.per_subject)
      for (const auto& l : p.per_subject->limits)
        if (l->spec.shadow) shadow(scope, p, l->spec.name, l->shadow_denials.load(std::memory_order_relaxed));
  };
  for (const auto& p : engine.contracts()) policy_shadows("contract", *p);
  for (const auto& p : engine.key_classes()) policy_shadows("key_class", *p);

  w.single("tollgate_holds_open", "gauge", "holds open now", engine.holds().open());
  w.single("tollgate_holds_expired_total", "counter", "holds settled by their timeout", s.total(&WorkerMetrics::holds_expired));
  w.single("tollgate_holds_rejected_total", "counter", "holds refused because the hold pool was full",
           engine.holds().rejected_full());
  const CounterTable& t = engine.table();
  w.single("tollgate_table_keys", "gauge", "keys in the counter table (contracts and dynamic keys)", t.size());
  w.single("tollgate_table_dynamic_keys", "gauge", "dynamic keys in the counter table", t.dynamic_size());
  w.single("tollgate_table_dynamic_keys_max", "gauge", "table.max_keys: dynamic keys at most", t.max_dynamic_keys());
  w.single("tollgate_table_evictions_total", "counter", "idle dynamic keys evicted", t.evicted());
  w.single("tollgate_table_rejected_total", "counter", "new dynamic keys refused because the table was full",
           t.rejected_full());

  const ServerStats net = s.info().server_stats ? s.info().server_stats() : ServerStats{};
  const uint64_t http_open = http_ != nullptr ? http_->total(&HttpWorkerStats::connections) : 0;
  const uint64_t http_total = http_ != nullptr ? http_->total(&HttpWorkerStats::connections_total) : 0;
  w.family("tollgate_connections", "gauge", "open data-plane connections per front");
  w.sample("tollgate_connections", label("front", "resp"), net.connections >= http_open ? net.connections - http_open : 0);
  w.sample("tollgate_connections", label("front", "http"), http_open);
  w.family("tollgate_connections_accepted_total", "counter", "data-plane connections accepted per front");
  w.sample("tollgate_connections_accepted_total", label("front", "resp"),
           net.connections_total >= http_total ? net.connections_total - http_total : 0);
  w.sample("tollgate_connections_accepted_total", label("front", "http"), http_total);
  w.single("tollgate_connections_rejected_total", "counter", "connections refused (max_connections, peer, descriptors)",
           net.rejected_max_clients + net.rejected_peers + net.rejected_fd_limit);
  w.single("tollgate_protocol_errors_total", "counter", "RESP connections closed for a malformed frame",
           net.protocol_errors);

  if (http_ != nullptr) {
    w.single("tollgate_http_requests_total", "counter", "HTTP requests answered", http_->total(&HttpWorkerStats::requests));
    w.single("tollgate_http_malformed_total", "counter", "HTTP connections answered 400/411/413/431 and closed",
             http_->total(&HttpWorkerStats::malformed));
    w.single("tollgate_http_request_timeouts_total", "counter", "HTTP requests not whole within request_timeout (408)",
             http_->total(&HttpWorkerStats::timeouts));
    w.family("tollgate_http_decision_duration_seconds", "histogram",
             "time the engine took to decide an HTTP /v1/check call");
    uint64_t cumulative = 0;
    for (int b = 0; b < kLatencyBuckets; ++b) {
      cumulative += http_->latency_bucket(b);
      w.sample("tollgate_http_decision_duration_seconds_bucket", label("le", fmt::format("{}", kLatencyBounds[b])),
               cumulative);
    }
    cumulative += http_->latency_bucket(kLatencyBuckets);
    w.sample("tollgate_http_decision_duration_seconds_bucket", label("le", "+Inf"), cumulative);
    w.sample("tollgate_http_decision_duration_seconds_sum", "",
             static_cast<double>(http_->total(&HttpWorkerStats::latency_sum_ns)) / 1e9);
    w.sample("tollgate_http_decision_duration_seconds_count", "", cumulative);
  }

  {
    const MonitorCounters& m = engine.state().monitor_counters();
    auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
    w.single("tollgate_monitor_firings_total", "counter", "monitors that fired", load(m.firings));
    w.single("tollgate_monitor_clears_total", "counter", "monitor firings that cleared", load(m.clears));
    w.single("tollgate_monitor_firing", "gauge", "monitors firing now", load(m.firing_now));
    w.single("tollgate_monitor_events_unacknowledged", "gauge",
             "monitor firings and actions kept in EVENTS and not acknowledged (MONITOR ACK)", load(m.unacknowledged));
    w.single("tollgate_monitor_actions_total", "counter", "monitor actions put in force", load(m.actions));
    w.single("tollgate_monitor_actions_lifted_total", "counter", "monitor actions lifted (expired or cleared)",
             load(m.lifts));
    w.single("tollgate_monitor_actions_active", "gauge", "monitor actions in force now", load(m.active_actions));
    w.single("tollgate_monitor_webhook_delivered_total", "counter", "events the webhook accepted",
             load(m.webhook_delivered));
    w.single("tollgate_monitor_webhook_failures_total", "counter", "webhook attempts that failed",
             load(m.webhook_failed));
  }
  w.single("tollgate_storage_available", "gauge", "1 while the state store answers (always 1 without Redis)",
           engine.state().storage_available() ? 1 : 0);
  if (s.info().persistence) {
    s.info().persistence([&](std::string_view name, uint64_t value, std::string_view description) {
      const std::string metric = "tollgate_storage_" + metric_part(name);
      w.single(metric, "gauge", description.empty() ? std::string_view("store figure (INFO persistence)") : description,
               value);
    });
  }
}

}  // namespace tollgate::fronts
