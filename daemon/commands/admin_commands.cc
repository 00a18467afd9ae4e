// Admin-socket commands: CONTRACT, RECHARGE, SUSPEND, RESUME, TERMINATE,
// RESET, LEDGER, EVENTS, SNAPSHOT, FLEET. Run by the admin service only (refused on
// the data socket by the command table's flags).
#include <algorithm>
#include <cassert>
#include <cctype>

#include <fmt/format.h>

#include "calllog/call_log.h"
#include "commands/admin_service.h"
#include "commands/check_request_parser.h"
#include "commands/client_state.h"
#include "commands/command_table.h"

namespace tollgate {
namespace {

// Field/value pairs: a map in RESP3, a flat array in RESP2.
void write_fields(resp::ReplyWriter& out, const Fields& fields) {
  out.map(fields.size());
  for (const auto& [k, v] : fields) {
    out.bulk(k);
    out.bulk(v);
  }
}

// Every command here is flagged kOnAdmin only, so only the admin service
// dispatches it (command_service.cc) and ctx.admin is set.
ContractAdmin* admin_of(CommandContext& ctx) {
  assert(ctx.admin != nullptr);
  return &ctx.admin->contracts();
}

std::expected<uint64_t, std::string> parse_seq(std::string_view s) {
  auto v = parse_int64(s);
  if (!v || *v < 0) return std::unexpected("ERR since-seq must be a non-negative integer");
  return static_cast<uint64_t>(*v);
}

template <typename T>
bool report(CommandContext& ctx, const std::expected<T, std::string>& r) {
  if (r) return true;
  ctx.out.error(r.error());
  return false;
}

template <typename T>
bool report(CommandContext& ctx, const std::expected<T, AdminError>& r) {
  if (r) return true;
  ctx.out.error(admin_error_text(r.error()));
  return false;
}

void contract_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  auto fields = a->describe(ctx.args[1], ctx.session.now);
  if (!report(ctx, fields)) return;
  // Fleet mode: the global pools next to this node's lease.
  if (const auto& fleet = ctx.service.info().fleet_contract)
    fleet(ctx.args[1], [&](std::string_view k, std::string_view v) { fields->emplace_back(k, v); });
  write_fields(ctx.out, *fields);
}

// FLEET RESOLVE <key> spent|returned: in-doubt credits (leased to a node that
// died) counted as spent, or made spendable again.
void fleet_command(CommandContext& ctx) {
  const auto& resolve = ctx.service.info().fleet_resolve;
  if (!resolve) return ctx.out.error("ERR fleet mode is off (no fleet: section)");
  std::string sub(ctx.args[1]);
  std::transform(sub.begin(), sub.end(), sub.begin(), [](unsigned char c) { return std::toupper(c); });
  if (sub != "RESOLVE" || ctx.args.size() != 4 || (ctx.args[3] != "spent" && ctx.args[3] != "returned"))
    return ctx.out.error("ERR usage: FLEET RESOLVE <key> spent|returned");
  auto moved = resolve(ctx.args[2], ctx.args[3] == "spent");
  if (!moved) return ctx.out.error("ERR cannot resolve: " + moved.error());
  ctx.out.integer(*moved);
}

void recharge_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  auto r = a->recharge(ctx.args[1], ctx.args[2], ctx.args[3], ctx.session.peer_uid, ctx.session.now);
  if (!report(ctx, r)) return;
  if (calllog::CallLog* log = ctx.admin->call_log()) {
    // The amount was accepted, so it parses. A repeated payment id is
    // recorded again; replay applies each payment id once, as RECHARGE does.
    calllog::CallRecord rec;
    rec.kind = calllog::RecordKind::kRecharge;
    rec.time = ctx.session.now;
    rec.key = ctx.args[1];
    rec.cost = parse_int64(ctx.args[2]).value_or(0);
    rec.id_hash = calllog::log_hash(ctx.args[3]);
    rec.allowed = true;
    rec.generation = ctx.service.engine().options().generation;  // calllog/call_log.h, "Generations"
    log->record_admin(rec);
  }
  ctx.out.array(3);
  ctx.out.integer(r->credits);
  ctx.out.integer(r->unit_price);
  ctx.out.integer(r->balance);
}

void suspend_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  std::string reason;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (i > 2) reason += ' ';
    reason += ctx.args[i];
  }
  if (report(ctx, a->suspend(ctx.args[1], reason.substr(0, 512), ctx.session.peer_uid, ctx.session.now)))
    ctx.out.simple("OK");
}

void resume_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (a && report(ctx, a->resume(ctx.args[1], ctx.session.peer_uid, ctx.session.now))) ctx.out.simple("OK");
}

void terminate_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (a && report(ctx, a->terminate(ctx.args[1], ctx.session.peer_uid, ctx.session.now))) ctx.out.simple("OK");
}

void reset_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  auto n = a->reset(ctx.args[1], ctx.args.size() > 2 ? ctx.args[2] : std::string_view{}, ctx.session.peer_uid,
                    ctx.session.now);
  if (report(ctx, n)) ctx.out.integer(*n);
}

void ledger_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  uint64_t since = 0;
  if (ctx.args.size() > 2) {
    auto s = parse_seq(ctx.args[2]);
    if (!report(ctx, s)) return;
    since = *s;
  }
  auto entries = a->ledger(ctx.args[1], since, ctx.session.now);
  if (!report(ctx, entries)) return;
  ctx.out.array(entries->size());
  for (const auto& e : *entries) {
    write_fields(ctx.out, {{"seq", std::to_string(e.seq)},
                           {"time_ms", std::to_string(e.time_ms)},
                           {"kind", std::string(ledger_kind_name(e.kind))},
                           {"amount", std::to_string(e.amount)},
                           {"lot", std::to_string(e.lot)},
                           {"actor", std::to_string(e.actor)},
                           {"id", e.id}});
  }
}

// EVENTS [<since-seq>] | EVENTS FOLLOW [<since-seq>]: FOLLOW answers the same
// list, then keeps the connection for pushes (AdminService::push): each later
// event arrives as one more reply, an entry like the list's, until the client
// disconnects. Only PING and QUIT are answered on it from then on.
void events_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  size_t at = 1;
  const bool follow = ctx.args.size() > 1 && equals_ignore_case(ctx.args[1], "FOLLOW");
  if (follow) ++at;
  if (ctx.args.size() > at + 1) return ctx.out.error("ERR syntax: EVENTS [FOLLOW] [<since-seq>]");
  uint64_t since = 0;
  if (ctx.args.size() > at) {
    auto s = parse_seq(ctx.args[at]);
    if (!report(ctx, s)) return;
    since = *s;
  }
  auto events = ctx.service.engine().state().events(since);
  ctx.out.array(events.size());
  for (const auto& e : events) write_event(ctx.out, e);
  if (follow) {
    // Anything added after the list was read has a higher seq: the next
    // push (the wake-up comes after this batch, on this thread) sends it.
    client_state(ctx.session).events_followed = events.empty() ? since : events.back().seq;
    ctx.session.pushes = true;
  }
}

}  // namespace

void write_event(resp::ReplyWriter& out, const Event& e) {
  Fields fields{{"seq", std::to_string(e.seq)},     {"time_ms", std::to_string(e.time_ms)},
                {"kind", e.kind},                   {"contract", e.contract},
                {"actor", std::to_string(e.actor)}, {"detail", e.detail}};
  if (e.acked_ms != 0) {  // acknowledged (MONITOR ACK): when, by whom, the note
    fields.emplace_back("acked_ms", std::to_string(e.acked_ms));
    fields.emplace_back("acked_by", std::to_string(e.acked_by));
    fields.emplace_back("ack_note", e.ack_note);
  }
  write_fields(out, fields);
}

namespace {

void snapshot_command(CommandContext& ctx) {
  ContractAdmin* a = admin_of(ctx);
  if (!a) return;
  auto done = a->snapshot();
  if (report(ctx, done)) ctx.out.bulk(*done);
}

}  // namespace

void register_admin_commands(CommandTable& table) {
  table.add({"CONTRACT", 2, kKeyArg | kOnAdmin | kReadOnly, contract_command, "CONTRACT <key>",
             "Everything about a contract as field/value pairs"});
  table.add({"RECHARGE", 4, kKeyArg | kOnAdmin, recharge_command, "RECHARGE <key> <amount_minor> <payment-id>",
             "Adds a prepaid lot; idempotent on payment-id: [credits, unit_price_minor, balance_minor]"});
  table.add({"SUSPEND", -2, kKeyArg | kOnAdmin, suspend_command, "SUSPEND <key> [reason]", "Calls are denied SUSPENDED"});
  table.add({"RESUME", 2, kKeyArg | kOnAdmin, resume_command, "RESUME <key>", "Lifts a suspension"});
  table.add({"TERMINATE", 2, kKeyArg | kOnAdmin, terminate_command, "TERMINATE <key>", "Final: calls are denied TERMINATED"});
  table.add({"RESET", -2, kKeyArg | kOnAdmin, reset_command, "RESET <key> [<limit>]", "Clears counters; returns how many"});
  table.add({"LEDGER", -2, kKeyArg | kOnAdmin | kReadOnly, ledger_command, "LEDGER <key> [<since-seq>]",
             "Money entries, oldest first, each a field/value array"});
  table.add({"SNAPSHOT", 1, kOnAdmin, snapshot_command, "SNAPSHOT",
             "Checkpoint, write a snapshot and compact the journal now (embedded store)"});
  table.add({"FLEET", -2, kOnAdmin, fleet_command, "FLEET RESOLVE <key> spent|returned",
             "Fleet mode: settles a contract's in-doubt credits; returns the credits moved"});
  table.add({"EVENTS", -1, kOnAdmin | kReadOnly, events_command, "EVENTS [FOLLOW] [<since-seq>]",
             "Admin and anomaly events; FOLLOW then pushes each new one"});
}

}  // namespace tollgate
