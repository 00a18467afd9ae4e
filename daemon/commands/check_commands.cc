// CHECK and PEEK: decide one call (and charge it) or look without charging.
#include "commands/check_request_parser.h"
#include "commands/command_table.h"
#include "commands/data_service.h"

namespace tollgate {
namespace {

void write_decision(resp::ReplyWriter& out, const Decision& d) {
  out.array(7);
  out.integer(d.allowed ? 1 : 0);
  out.simple(code_name(d.code));
  out.bulk(d.limit);
  out.integer(d.remaining);
  out.integer(d.retry_after_ms);
  out.integer(d.reset_after_ms);
  out.integer(d.balance);
}

void check_command(CommandContext& ctx) {
  WorkerMetrics& m = ctx.service.metrics(ctx.session.worker);
  auto req = parse_check_request(ctx.args);
  if (!req) {
    WorkerMetrics::bump(m.client_errors);
    return ctx.out.error(req.error());
  }
  Decision d = ctx.service.engine().check(*req, ctx.session.now);
  WorkerMetrics::bump(m.checks);
  WorkerMetrics::bump(m.by_code[static_cast<int>(d.code)]);
  write_decision(ctx.out, d);
}

void peek_command(CommandContext& ctx) {
  WorkerMetrics& m = ctx.service.metrics(ctx.session.worker);
  auto req = parse_check_request(ctx.args);
  if (!req) {
    WorkerMetrics::bump(m.client_errors);
    return ctx.out.error(req.error());
  }
  Decision d = ctx.service.engine().peek(*req, ctx.session.now);
  WorkerMetrics::bump(m.peeks);
  write_decision(ctx.out, d);
}

}  // namespace

void register_check_commands(CommandTable& table) {
  table.add({"CHECK", -2, kOnData | kFast, check_command,
             "CHECK <key> [COST n] [CHANNEL c] [PURPOSE p] [SUBJECT s] [ID id] [HOLD ms] [WAIT ms]",
             "Decide one call and charge it when allowed: [allowed, code, limit, remaining, retry_after_ms, "
             "reset_after_ms, balance]"});
  table.add({"PEEK", -2, kOnData | kReadOnly | kFast, peek_command,
             "PEEK <key> [same options as CHECK]", "What CHECK would answer now; changes nothing"});
}

}  // namespace tollgate
