// MULTI / EXEC / DISCARD / WATCH / UNWATCH: Redis transactions, with the
// CHECKs of a transaction decided all-or-nothing (Engine::check_all).
//
// Redis's rules: between MULTI and EXEC every command but EXEC, DISCARD,
// MULTI, WATCH and QUIT is queued and answered +QUEUED; one refused while
// queueing (unknown, wrong arity, wrong socket, a bad CHECK option, the
// queue over its bounds) is answered with its error and makes EXEC answer
// -EXECABORT, running nothing. MULTI inside MULTI, EXEC or DISCARD without
// MULTI are errors that change nothing. WATCH is refused: tollgate has no
// values a client could watch (use a transaction of CHECKs instead).
//
// EXEC answers an array of the queued commands' replies, in order. Every
// CHECK of the transaction is decided together by one check_all, at the
// position of the first CHECK: allowed all, or none charged (the ones that
// would have passed answer ABORTED). Other commands run in their order as
// Redis would run them, each on its own: a PEEK placed after a CHECK sees
// every CHECK of the transaction, and a SETTLE or CL.THROTTLE is not undone
// when the CHECKs are aborted.
#include <algorithm>
#include <vector>

#include "calllog/group_hook.h"
#include "commands/check_commands.h"
#include "commands/check_request_parser.h"
#include "commands/client_state.h"
#include "commands/command_service.h"
#include "commands/command_table.h"
#include "commands/data_service.h"

namespace tollgate {

void TransactionQueue::begin() {
  active_ = true;
  failed_ = false;
  bytes_ = 0;
  commands_.clear();
}

bool TransactionQueue::add(std::span<const std::string_view> args) {
  size_t bytes = 0;
  for (std::string_view a : args) bytes += a.size() + sizeof(std::string);
  if (commands_.size() >= kMaxCommands || bytes > kMaxBytes - std::min(bytes_, kMaxBytes)) return false;
  commands_.emplace_back(args.begin(), args.end());
  bytes_ += bytes;
  return true;
}

std::vector<std::vector<std::string>> TransactionQueue::take() {
  active_ = false;
  failed_ = false;
  bytes_ = 0;
  return std::exchange(commands_, {});
}

namespace {

void multi_command(CommandContext& ctx) {
  TransactionQueue& tx = client_state(ctx.session).transaction;
  if (tx.active()) return ctx.out.error("ERR MULTI calls can not be nested");
  tx.begin();
  ctx.out.simple("OK");
}

void discard_command(CommandContext& ctx) {
  if (!in_transaction(ctx.session)) return ctx.out.error("ERR DISCARD without MULTI");
  (void)ctx.session.client->transaction.take();
  ctx.out.simple("OK");
}

void watch_command(CommandContext& ctx) {
  if (in_transaction(ctx.session)) return ctx.out.error("ERR WATCH inside MULTI is not allowed");
  ctx.out.error(
      "ERR WATCH is not supported: tollgate has no values to watch; a MULTI/EXEC of CHECKs is already decided "
      "all-or-nothing");
}

void unwatch_command(CommandContext& ctx) { ctx.out.simple("OK"); }  // nothing is ever watched

bool is_check(std::string_view name) { return equals_ignore_case(name, "CHECK"); }

void exec_command(CommandContext& ctx) {
  if (!in_transaction(ctx.session)) return ctx.out.error("ERR EXEC without MULTI");
  TransactionQueue& tx = ctx.session.client->transaction;
  const bool failed = tx.failed();
  const std::vector<std::vector<std::string>> queued = tx.take();
  WorkerMetrics& m = ctx.service.metrics(ctx.session.worker);
  if (failed) {
    WorkerMetrics::bump(m.transactions_discarded);
    return ctx.out.error("EXECABORT Transaction discarded because of previous errors.");
  }
  WorkerMetrics::bump(m.transactions);
  std::vector<std::vector<std::string_view>> argv(queued.size());
  for (size_t i = 0; i < queued.size(); ++i) argv[i].assign(queued[i].begin(), queued[i].end());

  // The CHECKs, parsed again (they were valid when queued) and decided together.
  std::vector<size_t> check_at;  // position of each CHECK in the transaction
  std::vector<CheckRequest> requests;
  std::vector<std::string> check_errors(queued.size());
  Engine& engine = ctx.service.engine();
  bool runnable = true;
  for (size_t i = 0; i < queued.size(); ++i) {
    if (!is_check(argv[i][0])) continue;
    auto req = parse_check_request(argv[i]);
    if (req && req->hold_ms > 0 && engine.contract(req->key) == nullptr)
      check_errors[i] = "ERR HOLD needs a contract key (holds count against a contract's concurrency limits)";
    else if (!req)
      check_errors[i] = req.error();
    if (!check_errors[i].empty()) runnable = false;
    check_at.push_back(i);
    requests.push_back(req ? *req : CheckRequest{});
  }
  std::vector<Decision> decisions(requests.size());
  if (!requests.empty()) {
    if (runnable) {
      if (!engine.check_all(requests, ctx.session.now, ctx.session.worker, decisions))
        WorkerMetrics::bump(m.transactions_aborted);
      calllog::record_group(ctx.data->call_log(), ctx.session.worker, ctx.session.now, requests, decisions,
                            engine.options().generation);
    } else {  // a CHECK that cannot run (a reload removed its contract): none is decided
      WorkerMetrics::bump(m.transactions_aborted);
      for (Decision& d : decisions) {
        d = Decision{};
        d.code = Code::kAborted;
        d.retry_after_ms = -1;
      }
    }
  }

  ctx.out.array(queued.size());
  Nanos release_at = 0;
  size_t next_check = 0;
  for (size_t i = 0; i < queued.size(); ++i) {
    ctx.session.release_at = 0;
    if (next_check < check_at.size() && check_at[next_check] == i) {
      const Decision& d = decisions[next_check++];
      if (!check_errors[i].empty()) {
        WorkerMetrics::bump(m.client_errors);
        ctx.out.error(check_errors[i]);
      } else {
        CommandContext check_ctx{argv[i], ctx.session, ctx.out, ctx.service, ctx.data, ctx.admin};
        account_check(check_ctx, d);
        write_decision(ctx.out, d);
      }
    } else {
      ctx.service.dispatch(ctx.service.commands().find(argv[i][0]), argv[i], ctx.session, ctx.out);
    }
    release_at = std::max(release_at, ctx.session.release_at);
  }
  ctx.session.release_at = release_at;
}

}  // namespace

void register_transaction_commands(CommandTable& table) {
  constexpr uint32_t kBoth = kOnData | kOnAdmin;
  table.add({"MULTI", 1, kBoth | kFast | kNotQueued, multi_command, "MULTI",
             "Starts a transaction: commands are queued until EXEC"});
  table.add({"EXEC", 1, kBoth | kNotQueued, exec_command, "EXEC",
             "Runs the queued commands; their CHECKs are decided all-or-nothing (ABORTED when one is denied)"});
  table.add({"DISCARD", 1, kBoth | kFast | kNotQueued, discard_command, "DISCARD", "Drops the queued commands"});
  table.add({"WATCH", -2, kBoth | kFast | kNotQueued, watch_command, "WATCH key [key ...]",
             "Refused: tollgate has no values to watch"});
  table.add({"UNWATCH", 1, kBoth | kFast, unwatch_command, "UNWATCH", "Nothing is watched: +OK"});
}

}  // namespace tollgate
