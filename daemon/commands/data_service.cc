#include "commands/data_service.h"

#include "commands/cell_commands.h"

#include <fmt/format.h>

namespace tollgate {

DataService::DataService(Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers, ServiceInfo info)
    : engine_(&engine), clock_(clock), reclaimer_(reclaimer), info_(std::move(info)) {
  workers_storage_ = std::make_unique<PerWorker[]>(workers);
  workers_ = std::span<PerWorker>(workers_storage_.get(), workers);
  for (auto& w : workers_) w.reader_slot = reclaimer_.register_reader();
  register_server_commands(table_);
  register_check_commands(table_);
  register_cell_commands(table_);
  register_admin_commands(table_);
  register_reload_commands(table_);
}

void DataService::begin_batch(int worker) {
  PerWorker& w = workers_[worker];
  w.now = clock_.now();
  reclaimer_.enter(w.reader_slot);
}

void DataService::end_batch(int worker) {
  PerWorker& w = workers_[worker];
  reclaimer_.exit(w.reader_slot);
  if (w.max_ticket != 0) {  // one request per batch: the control plane runs a checkpoint for it
    commit_gate_->request(w.max_ticket);
    w.max_ticket = 0;
  }
}

// Looks the command up, checks arity and where it may run, and calls it.
// Every path writes exactly one reply.
void DataService::execute(std::span<const std::string_view> args, Session& session, resp::ReplyWriter& out) {
  if (args.empty()) return out.error("ERR empty command");
  const CommandSpec* spec = table_.find(args[0]);
  WorkerMetrics& m = workers_[session.worker].metrics;
  if (spec == nullptr) {
    WorkerMetrics::bump(m.unknown_commands);
    std::string_view name = args[0].substr(0, 128);
    return out.error(fmt::format("ERR unknown command '{}', with args beginning with: {}", name,
                                 args.size() > 1 ? args[1].substr(0, 64) : std::string_view{}));
  }
  uint32_t where = session.admin ? kOnAdmin : kOnData;
  if ((spec->flags & where) == 0) {
    WorkerMetrics::bump(m.client_errors);
    return out.error(session.admin
                         ? fmt::format("ERR '{}' is a data command; send it to the data socket", spec->name)
                         : fmt::format("ERR '{}' is an admin command; send it to the admin socket", spec->name));
  }
  if (!arity_ok(spec->arity, args.size())) {
    WorkerMetrics::bump(m.client_errors);
    return out.error(fmt::format("ERR wrong number of arguments for '{}' command (usage: {})", spec->name,
                                 spec->usage));
  }
  if ((spec->flags & kKeyArg) != 0 && args[1].size() > info_.max_key) {
    WorkerMetrics::bump(m.client_errors);
    return out.error(fmt::format("ERR key of {} bytes is longer than server.max_key ({} bytes)", args[1].size(),
                                 info_.max_key));
  }
  CommandContext ctx{args, session, out, *this};
  spec->handler(ctx);
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
    int argc = 0;
    for (size_t i = pos + 1; i + 1 < eol && in[i] >= '0' && in[i] <= '9'; ++i) argc = argc * 10 + (in[i] - '0');
    pos = eol + 1;
    std::string_view args[2];
    for (int a = 0; a < argc; ++a) {
      if (pos >= in.size() || in[pos] != '$') return;
      eol = in.find('\n', pos);
      if (eol == std::string_view::npos) return;
      size_t len = 0;
      for (size_t i = pos + 1; i + 1 < eol && in[i] >= '0' && in[i] <= '9'; ++i) len = len * 10 + static_cast<size_t>(in[i] - '0');
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

Nanos DataService::next_deadline(int worker) {
  if (info_.serves_holds == false) return INT64_MAX;
  return engine().next_hold_expiry(worker, workers_[worker].now);
}

void DataService::on_deadline(int worker) {
  size_t n = engine().expire_holds(worker, workers_[worker].now);
  WorkerMetrics::bump(workers_[worker].metrics.holds_expired, n);
}

uint64_t DataService::total(std::atomic<uint64_t> WorkerMetrics::*field) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += (w.metrics.*field).load(std::memory_order_relaxed);
  return sum;
}

uint64_t DataService::total_code(Code c) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += w.metrics.by_code[static_cast<int>(c)].load(std::memory_order_relaxed);
  return sum;
}

}  // namespace tollgate
