// CHECK and PEEK: decide one call (and charge it) or look without charging.
#include "commands/check_commands.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "calllog/check_hook.h"
#include "commands/check_request_parser.h"
#include "commands/command_table.h"
#include "commands/data_service.h"

namespace tollgate {

namespace {

char* put_integer(char* p, int64_t v) {
  *p++ = ':';
  p = std::to_chars(p, p + 20, v).ptr;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

}  // namespace

// The seven elements are formatted in a stack buffer and appended once (one
// capacity check and copy instead of eight: ReplyWriter::header was 5 % of a
// pipelined CHECK's server CPU). The same bytes as the element-by-element
// form below, which a limit name too long for the buffer still takes.
void write_decision(resp::ReplyWriter& out, const Decision& d) {
  const std::string_view code = code_name(d.code);
  if (d.limit.size() <= 128 && code.size() <= 32) {
    // *7 + :0/1 + +code + $len limit + 4 integers of at most 20 digits and a sign.
    char buffer[4 + 4 + 35 + 137 + 4 * 24];
    char* p = buffer;
    std::memcpy(p, "*7\r\n:", 5);
    p += 5;
    *p++ = d.allowed ? '1' : '0';
    *p++ = '\r';
    *p++ = '\n';
    *p++ = '+';
    std::memcpy(p, code.data(), code.size());  // a constant: no CR or LF to blank
    p += code.size();
    *p++ = '\r';
    *p++ = '\n';
    *p++ = '$';
    p = std::to_chars(p, p + 3, d.limit.size()).ptr;
    *p++ = '\r';
    *p++ = '\n';
    if (!d.limit.empty()) std::memcpy(p, d.limit.data(), d.limit.size());
    p += d.limit.size();
    *p++ = '\r';
    *p++ = '\n';
    p = put_integer(p, d.remaining);
    p = put_integer(p, d.retry_after_ms);
    p = put_integer(p, d.reset_after_ms);
    p = put_integer(p, d.balance);
    out.raw(std::string_view(buffer, static_cast<size_t>(p - buffer)));
    return;
  }
  out.array(7);
  out.integer(d.allowed ? 1 : 0);
  out.simple(code_name(d.code));
  out.bulk(d.limit);
  out.integer(d.remaining);
  out.integer(d.retry_after_ms);
  out.integer(d.reset_after_ms);
  out.integer(d.balance);
}

void account_check(CommandContext& ctx, const Decision& d) {
  WorkerMetrics& m = ctx.service.metrics(ctx.session.worker);
  if (d.allowed && d.delay_ns > 0) {  // WAIT: the transport holds this reply (and those after it) until the slot
    ctx.session.release_at = std::max(ctx.session.release_at, ctx.session.now + d.delay_ns);
    WorkerMetrics::bump(m.paced);
  }
  // durability strict: an allowed call charged something; its reply waits
  // until a checkpoint holding the charge is durable.
  if (d.allowed) ctx.data->hold_until_durable(ctx.session);
  WorkerMetrics::bump(m.checks);
  WorkerMetrics::bump(m.by_code[static_cast<int>(d.code)]);
}

namespace {

void check_command(CommandContext& ctx) {
  WorkerMetrics& m = ctx.service.metrics(ctx.session.worker);
  auto req = parse_check_request(ctx.args);
  if (!req) {
    WorkerMetrics::bump(m.client_errors);
    return ctx.out.error(req.error());
  }
  Engine& engine = ctx.service.engine();
  if (req->hold_ms > 0 && engine.contract(req->key) == nullptr) {
    WorkerMetrics::bump(m.client_errors);
    return ctx.out.error("ERR HOLD needs a contract key (holds count against a contract's concurrency limits)");
  }
  Decision d = engine.check(*req, ctx.session.now, ctx.session.worker);
  calllog::record_check(ctx.data->call_log(), ctx.session.worker, ctx.session.now, *req, d,
                        engine.options().generation);
  account_check(ctx, d);
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

// SETTLE <key> <id> COMMIT|CANCEL: :1 applied, :0 no such open hold.
void settle_command(CommandContext& ctx) {
  bool commit;
  if (equals_ignore_case(ctx.args[3], "COMMIT")) commit = true;
  else if (equals_ignore_case(ctx.args[3], "CANCEL")) commit = false;
  else return ctx.out.error("ERR SETTLE outcome must be COMMIT or CANCEL");
  if (ctx.args[2].empty() || ctx.args[2].size() > kMaxIdLength)
    return ctx.out.error("ERR ID must be 1 to 256 bytes");
  WorkerMetrics& m = ctx.service.metrics(ctx.session.worker);
  WorkerMetrics::bump(m.settles);
  Engine& engine = ctx.service.engine();
  bool applied = engine.settle(ctx.args[1], ctx.args[2], commit, ctx.session.now);
  if (applied)
    calllog::record_settle(ctx.data->call_log(), ctx.session.worker, ctx.session.now, ctx.args[1], ctx.args[2], commit,
                           engine.options().generation);
  // durability strict: a settlement (a CANCEL's refund above all) is
  // acknowledged once durable, like the charge it settles.
  if (applied) ctx.data->hold_until_durable(ctx.session);
  ctx.out.integer(applied ? 1 : 0);
}

}  // namespace

void register_check_commands(CommandTable& table) {
  table.add({"CHECK", -2, kKeyArg | kOnData | kFast, check_command,
             "CHECK <key> [COST n] [CHANNEL c] [PURPOSE p] [SUBJECT s] [ID id] [HOLD ms] [WAIT ms]",
             "Decide one call and charge it when allowed: [allowed, code, limit, remaining, retry_after_ms, "
             "reset_after_ms, balance]"});
  table.add({"SETTLE", 4, kKeyArg | kOnData | kFast, settle_command, "SETTLE <key> <id> COMMIT|CANCEL",
             "Makes a hold final or gives back what it took: :1 applied, :0 no such hold"});
  table.add({"PEEK", -2, kKeyArg | kOnData | kReadOnly | kFast, peek_command,
             "PEEK <key> [same options as CHECK]", "What CHECK would answer now; changes nothing"});
}

}  // namespace tollgate
