#include "commands/data_service.h"

#include "calllog/check_hook.h"

namespace tollgate {

DataService::DataService(Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers, ServiceInfo info)
    : CommandService(kOnData, engine, clock, reclaimer, workers, std::move(info)),
      tickets_(std::make_unique<Tickets[]>(workers)) {
  as_data_ = this;
}

void DataService::end_batch(int worker) {
  CommandService::end_batch(worker);
  uint64_t& max_ticket = tickets_[worker].max;
  if (max_ticket != 0) {  // one request per batch: the control plane runs a checkpoint for it
    commit_gate_->request(max_ticket);
    max_ticket = 0;
  }
}

namespace {

// Finds the key of each well-formed `*N $5 CHECK|PEEK $len key` frame in a
// read batch, cheaply and without allocating; stops at anything else.
template <typename Fn>
void for_each_check_key(std::string_view in, Fn&& fn) {
  size_t pos = 0;
  for (int n = 0; n < 256 && pos < in.size() && in[pos] == '*'; ++n) {
    size_t eol = in.find('\n', pos);
    if (eol == std::string_view::npos || eol - pos < 3) return;
    // A hint only: a count or length past what the batch can hold ends the
    // scan (the parser answers the frame itself), before it can overflow.
    int argc = 0;
    for (size_t i = pos + 1; i + 1 < eol && in[i] >= '0' && in[i] <= '9'; ++i) {
      argc = argc * 10 + (in[i] - '0');
      if (argc > 1'000'000) return;
    }
    pos = eol + 1;
    std::string_view args[2];
    for (int a = 0; a < argc; ++a) {
      if (pos >= in.size() || in[pos] != '$') return;
      eol = in.find('\n', pos);
      if (eol == std::string_view::npos) return;
      size_t len = 0;
      for (size_t i = pos + 1; i + 1 < eol && in[i] >= '0' && in[i] <= '9'; ++i) {
        len = len * 10 + static_cast<size_t>(in[i] - '0');
        if (len > in.size()) return;
      }
      pos = eol + 1;
      if (pos + len + 2 > in.size()) return;
      if (a < 2) args[a] = in.substr(pos, len);
      pos += len + 2;
    }
    if (argc >= 2 && args[0].size() >= 4 && args[0].size() <= 5) fn(args[1]);
  }
}

}  // namespace

void DataService::prefetch(std::string_view input) {
  if (input.size() < 256) return;  // a lone command gains nothing
  const CounterTable& table = engine().table();
  uint64_t hashes[64];
  size_t n = 0;
  for_each_check_key(input, [&](std::string_view key) {
    if (n < 64) hashes[n++] = CounterTable::hash_key(key);
  });
  for (size_t i = 0; i < n; ++i) table.prefetch_slot(hashes[i]);
  for (size_t i = 0; i < n; ++i) table.prefetch_entry(hashes[i]);
}

Nanos DataService::next_deadline(int worker) { return engine().next_hold_expiry(worker, worker_now(worker)); }

void DataService::on_deadline(int worker) {
  Engine& e = engine();
  const Nanos now = worker_now(worker);
  size_t n = e.expire_holds(worker, now);
  calllog::record_expiry(call_log_, worker, now, n, e.options().generation);
  WorkerMetrics::bump(metrics(worker).holds_expired, n);
}

}  // namespace tollgate
