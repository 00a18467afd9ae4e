// Fuzzes CHECK option parsing and the commands behind it. The input is a
// client's byte stream (RESP, inline or multibulk); each command runs on the
// data service, or on the admin service when it is an admin command
// (RECHARGE, SUSPEND, RESET, LEDGER, CONTRACT, ...), against an engine built
// from a config with priced contracts, subjects, holds and key classes. The
// harness's own command `ADVANCE <ms>` moves the clock (and expires holds).
// Properties:
//   - every command writes exactly one well-formed RESP reply;
//   - CHECK/PEEK: parse_check_request's result respects every documented
//     bound, and the reply is its error or a 7-field decision whose fields
//     are sane;
//   - after the stream, Σ ledger == balance for every priced contract.
// MULTI … EXEC, AUTH and HELLO 3 (RESP3 maps and nulls) are in the stream too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "commands/admin_service.h"
#include "commands/check_request_parser.h"
#include "commands/client_state.h"
#include "commands/command_table.h"
#include "commands/data_service.h"
#include "engine/cell_throttle.h"
#include "fuzz_support.h"
#include "resp/parser.h"
#include "load/resp_reply_reader.h"

namespace tollgate::fuzz {
namespace {


const EngineOptions& engine_options() {
  static const EngineOptions options = [] {
    EngineOptions o = engine_options_from(must_parse(kHarnessConfig), 1);
    o.track_changes = false;  // storage: memory
    cap_table_sizes(o);
    return o;
  }();
  return options;
}

// TOLLGATE_FUZZ_LOG=1: print each command and its reply (reproducing a crash).
bool verbose() {
  static const bool on = [] {
    const char* log = std::getenv("TOLLGATE_FUZZ_LOG");
    return log != nullptr && *log != '\0' && *log != '0';
  }();
  return on;
}

bool is_check_or_peek(std::string_view name) {
  return equals_ignore_case(name, "CHECK") || equals_ignore_case(name, "PEEK");
}

// The documented bounds of a parsed CHECK request.
void check_request_bounds(const CheckRequest& r, std::span<const std::string_view> args) {
  FUZZ_CHECK(!r.key.empty() && r.key == args[1], "the key is not args[1]");
  FUZZ_CHECK(r.cost >= 0 && r.cost <= kMaxCost, "COST out of range: " + std::to_string(r.cost));
  FUZZ_CHECK(r.hold_ms == -1 || (r.hold_ms >= 1 && r.hold_ms <= kMaxHoldMs), "HOLD out of range");
  FUZZ_CHECK(r.wait_ms == -1 || (r.wait_ms >= 0 && r.wait_ms <= kMaxWaitMs), "WAIT out of range");
  FUZZ_CHECK(r.id.size() <= kMaxIdLength, "ID too long");
  FUZZ_CHECK(r.subject.size() <= kMaxSubjectLength, "SUBJECT too long");
  FUZZ_CHECK(r.hold_ms == -1 || !r.id.empty(), "HOLD without ID");
}

struct World {
  ManualClock clock{kFuzzStart};
  Reclaimer reclaimer{16};
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  ContractAdmin admin{[this]() -> Engine& { return *engine; }, state};
  CellThrottle cell{reclaimer, 64, 0};
  std::unique_ptr<DataService> data;
  std::unique_ptr<AdminService> admin_service;

  World() {
    auto built = Engine::create(engine_options(), reclaimer, clock.now(), state);
    if (!built) std::abort();
    engine = std::move(*built);
    data = std::make_unique<DataService>(*engine, clock, reclaimer, 1, ServiceInfo{});
    admin_service = std::make_unique<AdminService>(*engine, clock, reclaimer, admin, [] {
      ReloadResult rejected;
      rejected.errors = {"(fuzz)"};
      return rejected;
    }, ServiceInfo{});
    data->set_cell_throttle(&cell);
  }
};

// Runs one command as a connection would; returns false after QUIT.
bool run_command(World& w, std::span<const std::string_view> args, Session& data_session, Session& admin_session) {
  if (equals_ignore_case(args[0], "ADVANCE")) {
    int64_t ms = args.size() > 1 ? parse_int64(args[1]).value_or(0) : 0;
    if (ms > 0 && ms <= 400LL * 86'400'000) w.clock.advance(ms * 1'000'000);
    w.data->begin_batch(0);
    if (w.data->next_deadline(0) <= w.data->batch_now(0)) w.data->on_deadline(0);
    w.data->end_batch(0);
    return true;
  }
  const CommandSpec* spec = w.data->commands().find(args[0]);
  const bool to_admin = spec != nullptr && (spec->flags & kOnAdmin) != 0 && (spec->flags & kOnData) == 0;
  CommandService& service = to_admin ? static_cast<CommandService&>(*w.admin_service) : *w.data;
  Session& session = to_admin ? admin_session : data_session;

  // Inside MULTI a CHECK is only queued (+QUEUED or its error); EXEC answers for it.
  const bool queued = in_transaction(session) && spec != nullptr && (spec->flags & kNotQueued) == 0;
  std::string out;
  resp::ReplyWriter writer(out);
  service.begin_batch(0);
  session.now = service.batch_now(0);
  service.execute(args, session, writer);
  service.end_batch(0);

  if (verbose()) {
    std::string line;
    for (std::string_view arg : args) line += std::string(arg.substr(0, 40)) + " ";
    std::string reply = out.substr(0, 300);
    for (char& c : reply)
      if (c == '\r' || c == '\n') c = ' ';
    std::fprintf(stderr, "> %s\n< %s\n", line.c_str(), reply.c_str());
  }

  RespReplyReader reader;
  const char* p = out.data();
  const char* end = p + out.size();
  const auto status = reader.feed(p, end);
  FUZZ_CHECK(status == RespReplyReader::Status::kReply && p == end,
             std::string(args[0].substr(0, 32)) + " wrote no single well-formed reply: '" + out.substr(0, 200) + "'");

  if (is_check_or_peek(args[0]) && spec != nullptr && arity_ok(spec->arity, args.size()) && !queued) {
    auto request = parse_check_request(args);
    const Reply& reply = reader.reply();
    if (!request) {
      FUZZ_CHECK(reply.type == ReplyType::kError && request.error().starts_with("ERR "),
                 "a refused CHECK did not answer its error");
    } else {
      check_request_bounds(*request, args);
      if (reply.type != ReplyType::kError) {
        FUZZ_CHECK(reply.type == ReplyType::kArray && reply.integer == 7, "a CHECK reply is not 7 fields");
        const int64_t allowed = reply.elements[0].integer;
        FUZZ_CHECK(allowed == 0 || allowed == 1, "allowed is not 0/1");
        FUZZ_CHECK((allowed == 1) == (reply.elements[1].text() == "OK"), "allowed disagrees with the code");
        FUZZ_CHECK(reply.elements[4].integer >= -1, "negative retry_after_ms");
        FUZZ_CHECK(reply.elements[5].integer >= 0, "negative reset_after_ms");
      }
    }
  }
  return !session.close_after_reply;
}

void run(std::string_view input) {
  World w;
  Session data_session;
  Session admin_session;
  admin_session.admin = true;
  admin_session.id = 2;
  {
    ReadGuard guard(w.reclaimer, w.reclaimer.register_reader());
    w.data->prefetch(input);  // scans the raw batch for CHECK keys; must change nothing
  }
  resp::Parser parser;
  size_t at = 0;
  while (at <= input.size()) {
    const resp::ParseStatus status = parser.parse(input.substr(at));
    if (status != resp::ParseStatus::kCommand) break;
    at += parser.consumed();
    const auto args = parser.args();
    if (!run_command(w, args, data_session, admin_session)) break;
  }
  check_money(w.state, w.admin, w.clock.now(), "after the stream");
  w.reclaimer.collect();
}

}  // namespace
}  // namespace tollgate::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tollgate::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
