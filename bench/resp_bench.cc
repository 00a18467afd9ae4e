// RESP layer alone: parse cost per pipelined command and encode cost of a
// CHECK-shaped reply. "per_command" is seconds per command (SI prefix: n = ns).
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "resp/parser.h"
#include "resp/reply_writer.h"

namespace {

using tollgate::resp::ParseStatus;
using tollgate::resp::Parser;
using tollgate::resp::ReplyWriter;

// Parses a buffer of range(0) pipelined commands, as one read() would deliver them.
void parse_batch(benchmark::State& state, std::string_view one) {
  const auto batch = static_cast<size_t>(state.range(0));
  std::string buffer;
  for (size_t i = 0; i < batch; ++i) buffer += one;
  Parser parser;
  for (auto _ : state) {
    std::string_view rest = buffer;
    while (parser.parse(rest) == ParseStatus::kCommand) {
      benchmark::DoNotOptimize(parser.args().data());
      rest.remove_prefix(parser.consumed());
    }
    if (!rest.empty()) state.SkipWithError("parse did not consume the batch");
  }
  const auto commands = static_cast<double>(batch);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["per_command"] = benchmark::Counter(
      commands, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_ParseMultibulkCheck(benchmark::State& state) {
  parse_batch(state, "*2\r\n$5\r\nCHECK\r\n$10\r\nip:1.2.3.4\r\n");
}
BENCHMARK(BM_ParseMultibulkCheck)->Arg(1)->Arg(64)->Arg(1024);

void BM_ParseInlineCheck(benchmark::State& state) { parse_batch(state, "CHECK ip:1.2.3.4\r\n"); }
BENCHMARK(BM_ParseInlineCheck)->Arg(1)->Arg(64)->Arg(1024);

// Encodes the 7-element CHECK reply into a reused buffer (no allocation after the first).
void BM_ReplyCheckArray(benchmark::State& state) {
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    ReplyWriter writer(out);
    writer.array(7);
    writer.integer(1);
    writer.simple("OK");
    writer.bulk("per_second");
    writer.integer(41);
    writer.integer(0);
    writer.integer(1200);
    writer.integer(-1);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["per_command"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ReplyCheckArray);

}  // namespace
