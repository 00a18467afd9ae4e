// The reply shapes of CHECK and PEEK on the data service (README "CHECK"):
// always an array of 7 — allowed, code, limit, remaining, retry_after_ms,
// reset_after_ms, balance — for an allowed call, a denied one and a PEEK,
// which answers what CHECK would and changes nothing.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "commands/check_commands.h"
#include "commands/data_service.h"
#include "engine/engine.h"
#include "unit/commands/service_harness.h"
#include "unit/engine/limit_specs.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = testing::kTestStart;

// The lines of a RESP reply, without their \r\n.
std::vector<std::string> lines_of(const std::string& reply) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t eol = reply.find("\r\n", pos);
    if (eol == std::string::npos) break;
    out.push_back(reply.substr(pos, eol - pos));
    pos = eol + 2;
  }
  return out;
}

// One decision reply, checked to be an array of 7 in the documented shape.
struct DecisionReply {
  int64_t allowed = -1;
  std::string code;
  std::string limit;
  int64_t remaining = 0, retry_after_ms = 0, reset_after_ms = 0, balance = 0;
};

DecisionReply decode(const std::string& reply) {
  std::vector<std::string> l = lines_of(reply);
  DecisionReply d;
  // *7, :allowed, +code, $len, limit, then four integers.
  EXPECT_EQ(l.size(), 9u) << reply;
  if (l.size() != 9) return d;
  EXPECT_EQ(l[0], "*7");
  EXPECT_EQ(l[1][0], ':');
  EXPECT_EQ(l[2][0], '+') << "the code is a simple string";
  EXPECT_EQ(l[3], "$" + std::to_string(l[4].size())) << "the limit is a bulk string";
  for (size_t i : {5, 6, 7, 8}) EXPECT_EQ(l[i][0], ':') << "field " << i;
  d.allowed = std::stoll(l[1].substr(1));
  d.code = l[2].substr(1);
  d.limit = l[4];
  d.remaining = std::stoll(l[5].substr(1));
  d.retry_after_ms = std::stoll(l[6].substr(1));
  d.reset_after_ms = std::stoll(l[7].substr(1));
  d.balance = std::stoll(l[8].substr(1));
  return d;
}

EngineOptions two_a_day() {
  EngineOptions o;
  PolicySpec acme;
  acme.name = "acme";
  acme.limits = {testing::quota("daily", 2)};
  acme.rules = ContractRules{};
  o.contracts.push_back(acme);
  return o;
}

// Contract "acme": 2 calls a day, no pricing; a data service over it.
struct Harness : testing::EngineHarness {
  Harness() : EngineHarness(two_a_day(), kStart) {
    service = std::make_unique<DataService>(*engine, clock, reclaimer, 1, ServiceInfo{});
  }
  std::string run(std::vector<std::string_view> args) { return testing::run_command(*service, session, args); }

  std::unique_ptr<DataService> service;
  Session session;
};

// The first three fields of a decision.
void expect_head(const DecisionReply& d, int64_t allowed, std::string_view code, std::string_view limit) {
  EXPECT_EQ(d.allowed, allowed);
  EXPECT_EQ(d.code, code);
  EXPECT_EQ(d.limit, limit);
}

// Verifies an allowed CHECK: [1, OK, the limit with least remaining, what is
// left after the call, retry 0, the time until the quota resets, -1 balance
// without pricing].
TEST(CheckReply, AllowedIsSevenFields) {
  Harness h;
  DecisionReply d = decode(h.run({"CHECK", "acme"}));
  expect_head(d, 1, "OK", "daily");
  EXPECT_EQ(d.remaining, 1);
  EXPECT_EQ(d.retry_after_ms, 0);
  EXPECT_GT(d.reset_after_ms, 0);
  EXPECT_LE(d.reset_after_ms, 86'400'000);
  EXPECT_EQ(d.balance, -1);
  EXPECT_EQ(h.service->total(&WorkerMetrics::checks), 1u);
  EXPECT_EQ(h.service->total_code(Code::kOk), 1u);
}

// Verifies a denied CHECK: [0, the denial code, the denying limit, 0 left,
// a positive retry (a calendar quota: until it resets), reset, -1].
TEST(CheckReply, DeniedNamesCodeLimitAndRetry) {
  Harness h;
  (void)h.run({"CHECK", "acme"});
  (void)h.run({"CHECK", "acme"});
  DecisionReply d = decode(h.run({"CHECK", "acme"}));
  expect_head(d, 0, "QUOTA", "daily");
  EXPECT_EQ(d.remaining, 0);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_LE(d.retry_after_ms, d.reset_after_ms);
  EXPECT_EQ(d.balance, -1);
  EXPECT_EQ(h.service->total_code(Code::kQuota), 1u);
}

// Verifies an unknown key is denied UNKNOWN with retry -1 and an empty limit.
TEST(CheckReply, UnknownKeyIsDeniedWithoutRetry) {
  Harness h;
  DecisionReply d = decode(h.run({"CHECK", "nobody"}));
  expect_head(d, 0, "UNKNOWN", "");
  EXPECT_EQ(d.retry_after_ms, -1);
}

// Verifies PEEK answers, in the same shape, exactly what the CHECK that
// follows answers, and charges nothing (two PEEKs in a row agree).
TEST(CheckReply, PeekIsWhatCheckWouldAnswer) {
  Harness h;
  const std::string first = h.run({"PEEK", "acme"});
  EXPECT_EQ(h.run({"PEEK", "acme"}), first);
  DecisionReply peek = decode(first);
  expect_head(peek, 1, "OK", "daily");
  EXPECT_EQ(peek.remaining, 1);
  EXPECT_EQ(h.run({"CHECK", "acme"}), first);
  EXPECT_EQ(h.service->total(&WorkerMetrics::peeks), 2u);
  // After the quota is used up, PEEK shows the denial CHECK would give.
  (void)h.run({"CHECK", "acme"});
  const std::string denied_peek = h.run({"PEEK", "acme"});
  EXPECT_EQ(decode(denied_peek).code, "QUOTA");
  EXPECT_EQ(h.run({"CHECK", "acme"}), denied_peek);
}

// Verifies a malformed option is answered with the parser's error and
// counted as a client error, not as a decision.
TEST(CheckReply, MalformedOptionIsAnError) {
  Harness h;
  EXPECT_EQ(h.run({"CHECK", "acme", "COST", "x"}), "-ERR COST must be an integer from 0 to 1000000000000\r\n");
  EXPECT_EQ(h.run({"PEEK", "acme", "HOLD", "5"}), "-ERR HOLD requires ID\r\n");
  EXPECT_EQ(h.service->total(&WorkerMetrics::client_errors), 2u);
  EXPECT_EQ(h.service->total(&WorkerMetrics::checks), 0u);
}

// Verifies the one-append encoding of a decision is byte for byte the
// element-by-element RESP one (array, integer, simple, bulk, integers),
// at the extremes of every number and for limit names up to and past the
// stack buffer's bound (those take the element-by-element form).
TEST(CheckReply, OneAppendEncodingMatchesElementByElement) {
  const std::string long_name(300, 'n');
  const std::string edge_name(128, 'e');
  const int64_t numbers[] = {0, 1, -1, 9, 10, 999'999, INT64_MAX, INT64_MIN};
  const std::string_view names[] = {"", "rl", edge_name, long_name};
  const Code codes[] = {Code::kOk, Code::kRate, Code::kUnknown, Code::kQuota};
  for (std::string_view name : names) {
    for (int64_t n : numbers) {
      for (Code code : codes) {
        Decision d;
        d.allowed = code == Code::kOk;
        d.code = code;
        d.limit = name;
        d.remaining = n;
        d.retry_after_ms = n == std::numeric_limits<int64_t>::min() ? n : -n;  // -INT64_MIN overflows
        d.reset_after_ms = n / 3;
        d.balance = n == 0 ? -1 : n;
        std::string expected;
        resp::ReplyWriter w(expected);
        w.array(7);
        w.integer(d.allowed ? 1 : 0);
        w.simple(code_name(d.code));
        w.bulk(d.limit);
        w.integer(d.remaining);
        w.integer(d.retry_after_ms);
        w.integer(d.reset_after_ms);
        w.integer(d.balance);
        std::string got = "prefix";  // appends, after what is already there
        resp::ReplyWriter out(got);
        write_decision(out, d);
        EXPECT_EQ(got, "prefix" + expected) << name.size() << " " << n;
      }
    }
  }
}

}  // namespace
}  // namespace tollgate
