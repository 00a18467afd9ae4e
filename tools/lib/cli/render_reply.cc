// Renderers for single-answer replies: failures, error replies, CHECK,
// RECHARGE, +OK and RESET.
#include <fmt/format.h>

#include "cli/error_messages.h"
#include "cli/render.h"
#include "cli/render_util.h"

namespace tollgate::cli {

using detail::unexpected_reply;

Output render_failure(std::string_view message, const RenderOptions& options) {
  Output output;
  output.exit_code = kExitError;
  if (options.json) {
    output.out = JsonWriter().begin_object().key("error").string(message).end_object().finish();
  } else {
    output.err = fmt::format("tollgate: {}\n", message);
  }
  return output;
}

Output render_error_reply(const Value& error, const RenderOptions& options, std::string_view headline) {
  const std::string message = daemon_error_message(error.text, options.uid);
  if (headline.empty() || is_permission_denied(error.text)) return render_failure(message, options);
  const std::vector<std::string> lines = split_error_lines(message);
  Output output;
  output.exit_code = kExitError;
  if (options.json) {
    JsonWriter json;
    json.begin_object().key("error").string(message).key("errors").begin_array();
    for (const auto& line : lines) json.string(line);
    output.out = json.end_array().end_object().finish();
  } else {
    output.err = fmt::format("tollgate: {}\n", headline);
    for (const auto& line : lines) output.err += fmt::format("  {}\n", line);
  }
  return output;
}

Output render_check(const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  const auto& e = reply.elements;
  using enum ValueKind;
  const bool shaped = reply.kind == kArray && e.size() == 7 && e[0].kind == kInteger && e[1].is_text() &&
                      (e[2].is_text() || e[2].kind == kNil) && e[3].kind == kInteger && e[4].kind == kInteger &&
                      e[5].kind == kInteger && e[6].kind == kInteger;
  if (!shaped) return unexpected_reply("CHECK", reply, options);
  const bool allowed = e[0].integer == 1;
  const std::string& code = e[1].text;
  const std::string& limit = e[2].text;
  const int64_t balance = e[6].integer;

  Output output;
  output.exit_code = allowed ? kExitOk : kExitDenied;
  if (options.json) {
    JsonWriter json;
    json.begin_object().key("allowed").boolean(allowed).key("code").string(code);
    json.key("limit").string(limit).key("remaining").number(e[3].integer);
    json.key("retry_after_ms").number(e[4].integer).key("reset_after_ms").number(e[5].integer);
    detail::write_money_json(json, "balance", std::to_string(balance), options.decimals, true);
    output.out = json.end_object().finish();
    return output;
  }
  const std::string verdict = allowed ? "ALLOWED" : fmt::format("DENIED {}", code);
  output.out = fmt::format("{}  limit={} remaining={} retry_after={} reset_after={}  balance={}\n", verdict,
                           limit.empty() ? "none" : limit, e[3].integer, format_duration_ms(e[4].integer),
                           format_duration_ms(e[5].integer),
                           balance == -1 ? "none" : format_money(balance, options.decimals));
  return output;
}

Output render_recharge(int64_t amount_minor, const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  const auto& e = reply.elements;
  const bool shaped = reply.kind == ValueKind::kArray && e.size() == 3 && e[0].kind == ValueKind::kInteger &&
                      e[1].kind == ValueKind::kInteger && e[2].kind == ValueKind::kInteger;
  if (!shaped) return unexpected_reply("RECHARGE", reply, options);
  const int d = options.decimals;
  Output output;
  if (options.json) {
    JsonWriter json;
    json.begin_object();
    detail::write_money_json(json, "amount", std::to_string(amount_minor), d, false);
    json.key("credits").number(e[0].integer);
    detail::write_money_json(json, "unit_price", std::to_string(e[1].integer), d, false);
    detail::write_money_json(json, "balance", std::to_string(e[2].integer), d, false);
    output.out = json.end_object().finish();
    return output;
  }
  output.out = fmt::format("recharged {}: {} credits at {}, balance {}\n", format_money(amount_minor, d),
                           format_count(e[0].integer), format_money(e[1].integer, d), format_money(e[2].integer, d));
  return output;
}

Output render_status(std::string_view done, const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  if (reply.kind != ValueKind::kStatus) return unexpected_reply(done, reply, options);
  Output output;
  if (options.json) {
    output.out = JsonWriter().begin_object().key("ok").boolean(true).key("reply").string(reply.text)
                     .end_object().finish();
  } else {
    output.out = fmt::format("{}\n", done.empty() ? std::string_view(reply.text) : done);
  }
  return output;
}

Output render_reload(const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options, "reload failed, the old configuration stays:");
  bool shaped = reply.kind == ValueKind::kArray;
  for (const Value& line : reply.elements) shaped = shaped && line.is_text();
  if (!shaped) return unexpected_reply("RELOAD", reply, options);
  Output output;
  if (options.json) {
    JsonWriter json;
    json.begin_object().key("ok").boolean(true).key("changes").begin_array();
    for (const Value& line : reply.elements) json.string(line.text);
    output.out = json.end_array().end_object().finish();
  } else {
    output.out = reply.elements.empty() ? "reloaded (no changes)\n" : "reloaded:\n";
    for (const Value& line : reply.elements) output.out += fmt::format("  {}\n", line.text);
  }
  return output;
}

Output render_reset(std::string_view key, const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  if (reply.kind != ValueKind::kInteger) return unexpected_reply("RESET", reply, options);
  Output output;
  if (options.json) {
    output.out = JsonWriter().begin_object().key("reset").number(reply.integer).end_object().finish();
  } else {
    output.out = fmt::format("reset {} limit{} of {}\n", reply.integer, reply.integer == 1 ? "" : "s", key);
  }
  return output;
}

Output render_monitor_clear(std::string_view key, const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  if (reply.kind != ValueKind::kInteger) return unexpected_reply("MONITOR CLEAR", reply, options);
  Output output;
  if (options.json) {
    output.out = JsonWriter().begin_object().key("lifted").number(reply.integer).end_object().finish();
  } else {
    output.out = fmt::format("lifted {} monitor action{} of {}\n", reply.integer, reply.integer == 1 ? "" : "s", key);
  }
  return output;
}

Output render_monitor_ack(std::string_view seq, const Value& reply, const RenderOptions& options) {
  if (reply.is_error()) return render_error_reply(reply, options);
  if (reply.kind != ValueKind::kInteger) return unexpected_reply("MONITOR ACK", reply, options);
  Output output;
  const bool now = reply.integer == 1;
  if (options.json) {
    output.out = JsonWriter().begin_object().key("acknowledged").boolean(now).end_object().finish();
  } else {
    output.out = now ? fmt::format("acknowledged event {}\n", seq)
                     : fmt::format("event {} was already acknowledged\n", seq);
  }
  return output;
}

}  // namespace tollgate::cli
