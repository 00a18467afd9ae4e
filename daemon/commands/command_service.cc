#include "commands/command_service.h"

#include <fmt/format.h>

#include <algorithm>

#include "commands/cell_commands.h"
#include "commands/check_request_parser.h"
#include "commands/client_state.h"
#include "net/client_registry.h"

namespace tollgate {

CommandService::CommandService(uint32_t plane, Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers,
                               ServiceInfo info)
    : plane_(plane), engine_(&engine), clock_(clock), reclaimer_(reclaimer), info_(std::move(info)) {
  workers_storage_ = std::make_unique<PerWorker[]>(workers);
  workers_ = std::span<PerWorker>(workers_storage_.get(), workers);
  for (auto& w : workers_) w.reader_slot = reclaimer_.register_reader();
  // One table for both planes: each command's flags say where it runs.
  register_server_commands(table_);
  register_check_commands(table_);
  register_cell_commands(table_);
  register_admin_commands(table_);
  register_monitor_commands(table_);
  register_reload_commands(table_);
  register_transaction_commands(table_);
  register_connection_commands(table_);
}

void CommandService::begin_batch(int worker) {
  PerWorker& w = workers_[worker];
  w.now = clock_.now();
  reclaimer_.enter(w.reader_slot);
}

void CommandService::end_batch(int worker) { reclaimer_.exit(workers_[worker].reader_slot); }

// The gates every command passes, then dispatch: AUTH first (before it only
// AUTH, HELLO and QUIT run), then MULTI (between MULTI and EXEC commands are
// queued, except the transaction's own and QUIT).
void CommandService::execute(std::span<const std::string_view> args, Session& session, resp::ReplyWriter& out) {
  out.set_protocol(session.protocol);
  if (args.empty()) return out.error("ERR empty command");
  const CommandSpec* spec = table_.find(args[0]);
  if (!session.authenticated) [[unlikely]] {
    // A connection that arrived while no password was required keeps working
    // after a reload sets one; the others must AUTH.
    if (!password_required()) {
      session.authenticated = true;
    } else if (spec == nullptr || (spec->flags & kNoAuth) == 0) {
      WorkerMetrics::bump(workers_[session.worker].metrics.client_errors);
      return out.error("NOAUTH Authentication required.");
    }
  }
  // CLIENT LIST's cmd= (before running it: a connection listing itself
  // shows `cmd=client`, as in Redis) and multi= (after): relaxed stores into
  // the connection's record (net/client_registry.h). The names are the
  // command table's string literals, alive for the whole process.
  ClientRecord* r = session.record.get();
  if (r != nullptr && spec != nullptr) r->last_command.store(spec->name.data(), std::memory_order_relaxed);
  if (in_transaction(session) && (spec == nullptr || (spec->flags & kNotQueued) == 0)) [[unlikely]] {
    queue(spec, args, session, out);
  } else {
    dispatch(spec, args, session, out);
  }
  if (r != nullptr) {
    r->multi.store(in_transaction(session) ? static_cast<int64_t>(session.client->transaction.size()) : -1,
                   std::memory_order_relaxed);
  }
}

bool CommandService::admissible(const CommandSpec* spec, std::span<const std::string_view> args, Session& session,
                                resp::ReplyWriter& out) {
  WorkerMetrics& m = workers_[session.worker].metrics;
  if (spec == nullptr) {
    WorkerMetrics::bump(m.unknown_commands);
    std::string_view name = args[0].substr(0, 128);
    out.error(fmt::format("ERR unknown command '{}', with args beginning with: {}", name,
                          args.size() > 1 ? args[1].substr(0, 64) : std::string_view{}));
    return false;
  }
  // EVENTS FOLLOW turned this connection into a stream of events: a reply
  // to anything else could not be told from an event (RESP2).
  if (session.pushes && spec->name != "PING" && spec->name != "QUIT") [[unlikely]] {
    out.error("ERR this connection follows EVENTS: only PING and QUIT are answered");
    return false;
  }
  if ((spec->flags & plane_) == 0) {
    WorkerMetrics::bump(m.client_errors);
    out.error(plane_ == kOnAdmin
                  ? fmt::format("ERR '{}' is a data command; send it to the data socket", spec->name)
                  : fmt::format("ERR '{}' is an admin command; send it to the admin socket", spec->name));
    return false;
  }
  if (!arity_ok(spec->arity, args.size())) {
    WorkerMetrics::bump(m.client_errors);
    out.error(fmt::format("ERR wrong number of arguments for '{}' command (usage: {})", spec->name, spec->usage));
    return false;
  }
  if ((spec->flags & kKeyArg) != 0 && args[1].size() > info_.max_key) {
    WorkerMetrics::bump(m.client_errors);
    out.error(fmt::format("ERR key of {} bytes is longer than server.max_key ({} bytes)", args[1].size(),
                          info_.max_key));
    return false;
  }
  return true;
}

void CommandService::dispatch(const CommandSpec* spec, std::span<const std::string_view> args, Session& session,
                              resp::ReplyWriter& out) {
  if (!admissible(spec, args, session, out)) return;
  CommandContext ctx{args, session, out, *this, as_data_, as_admin_};
  spec->handler(ctx);
}

void CommandService::queue(const CommandSpec* spec, std::span<const std::string_view> args, Session& session,
                           resp::ReplyWriter& out) {
  TransactionQueue& tx = client_state(session).transaction;
  if (!admissible(spec, args, session, out)) return tx.fail();
  // A CHECK or PEEK whose options are wrong would fail at EXEC; refusing it
  // now keeps a transaction of CHECKs all-or-nothing (EXECABORT, not a
  // partial EXEC).
  if (equals_ignore_case(spec->name, "CHECK") || equals_ignore_case(spec->name, "PEEK")) {
    if (auto req = parse_check_request(args); !req) {
      WorkerMetrics::bump(workers_[session.worker].metrics.client_errors);
      out.error(req.error());
      return tx.fail();
    }
  }
  if (!tx.add(args)) {
    WorkerMetrics::bump(workers_[session.worker].metrics.client_errors);
    out.error(fmt::format("ERR transaction too large: at most {} commands and {} bytes between MULTI and EXEC; "
                          "the transaction will be discarded",
                          TransactionQueue::kMaxCommands, TransactionQueue::kMaxBytes));
    return tx.fail();
  }
  out.simple("QUEUED");
}

void CommandService::set_password(std::string password) {
  std::lock_guard lock(password_mutex_);
  password_required_.store(!password.empty(), std::memory_order_release);
  password_ = std::move(password);
}

bool CommandService::password_matches(std::string_view candidate) const {
  std::lock_guard lock(password_mutex_);
  if (password_.empty()) return false;
  // Every byte of the longer one is looked at, whatever differs first.
  const size_t n = std::max(password_.size(), candidate.size());
  unsigned diff = password_.size() == candidate.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < password_.size() ? static_cast<unsigned char>(password_[i]) : 0;
    const unsigned char b = i < candidate.size() ? static_cast<unsigned char>(candidate[i]) : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

uint64_t CommandService::total(std::atomic<uint64_t> WorkerMetrics::*field) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += (w.metrics.*field).load(std::memory_order_relaxed);
  return sum;
}

uint64_t CommandService::total_code(Code c) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += w.metrics.by_code[static_cast<int>(c)].load(std::memory_order_relaxed);
  return sum;
}

}  // namespace tollgate
