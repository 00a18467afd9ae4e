// CL.THROTTLE <key> <max_burst> <count> <period_s> [<quantity>]: redis-cell's
// command, same arguments, same reply, same error texts where redis-cell has one.
#include "commands/cell_commands.h"

#include <fmt/format.h>

#include <optional>

#include "commands/check_request_parser.h"
#include "commands/data_service.h"

namespace tollgate {
namespace {

constexpr std::string_view kUsage =
    "Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]";
constexpr size_t kMaxEchoedArgument = 1024;

// Rust's i64 parser, which redis-cell uses: like parse_int64 but a single
// leading '+' is accepted too.
std::optional<int64_t> parse_cell_integer(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  auto v = parse_int64(s);
  if (!v) return std::nullopt;
  return *v;
}

void cell_throttle_command(CommandContext& ctx) {
  CellThrottle* throttle = ctx.data->cell_throttle();  // kOnData only: the data half is set
  if (!run_cell_throttle(ctx.args, throttle, ctx.session.now, ctx.out))
    WorkerMetrics::bump(ctx.service.metrics(ctx.session.worker).client_errors);
}

}  // namespace

std::string_view cell_error_text(CellError e) {
  switch (e) {
    case CellError::kZeroRate: return "Cell error: Store error: Zero rates are not supported";
    case CellError::kNegativeMaxBurst: return "ERR CL.THROTTLE max_burst must not be negative";
    case CellError::kNegativeCount: return "ERR CL.THROTTLE count must not be negative";
    case CellError::kNegativePeriod: return "ERR CL.THROTTLE period must not be negative";
    case CellError::kNegativeQuantity: return "ERR CL.THROTTLE quantity must not be negative";
    case CellError::kPeriodTooLarge: return "ERR CL.THROTTLE period must be at most 9223372036 seconds";
    case CellError::kWindowTooLarge:
      return "ERR CL.THROTTLE (max_burst + 1) x period / count must be at most 2^61 ns (about 73 years)";
    case CellError::kKeySpaceFull: return "ERR CL.THROTTLE key space is full (max keys reached); retry later";
  }
  return "ERR CL.THROTTLE invalid arguments";
}

void encode_cell_reply(const CellResult& result, resp::ReplyWriter& out) {
  out.array(5);
  out.integer(result.limited ? 1 : 0);
  out.integer(result.limit);
  out.integer(result.remaining);
  out.integer(result.limited ? cell_seconds(result.retry_after) : -1);
  out.integer(cell_seconds(result.reset_after));
}

bool run_cell_throttle(std::span<const std::string_view> args, CellThrottle* throttle, Nanos now,
                       resp::ReplyWriter& out) {
  if (throttle == nullptr) {
    out.error("ERR CL.THROTTLE is not enabled");
    return false;
  }
  if (args.size() != 5 && args.size() != 6) {
    out.error(kUsage);
    return false;
  }
  // redis-cell parses every number before it validates any, in argument order.
  int64_t numbers[4] = {0, 0, 0, 1};
  for (size_t i = 2; i < args.size(); ++i) {
    auto v = parse_cell_integer(args[i]);
    if (!v) {
      out.error(fmt::format("Cell error: Store error: Couldn't parse as integer: {}",
                            args[i].substr(0, kMaxEchoedArgument)));
      return false;
    }
    numbers[i - 2] = *v;
  }
  auto result = throttle->throttle(args[1], numbers[0], numbers[1], numbers[2], numbers[3], now);
  if (!result) {
    out.error(cell_error_text(result.error()));
    return false;
  }
  encode_cell_reply(*result, out);
  return true;
}

void register_cell_commands(CommandTable& table) {
  table.add({"CL.THROTTLE", -5, kKeyArg | kOnData | kFast, cell_throttle_command,
             "CL.THROTTLE <key> <max_burst> <count> <period_s> [<quantity>]",
             "redis-cell compatible GCRA: count per period_s, burst max_burst + 1, charges quantity "
             "(default 1; 0 looks): [limited, limit, remaining, retry_after_s, reset_after_s]"});
}

}  // namespace tollgate
