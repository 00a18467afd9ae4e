#include <gtest/gtest.h>

#include "cli/render.h"

namespace tollgate::cli {
namespace {

const RenderOptions kHuman{.json = false, .decimals = 2, .uid = 1000};
const RenderOptions kJson{.json = true, .decimals = 2, .uid = 1000};

Value fields(std::initializer_list<const char*> texts) {
  std::vector<Value> elements;
  for (const char* text : texts) elements.push_back(Value::bulk(text));
  return Value::array(std::move(elements));
}

Value contract_reply() {
  return fields({"status", "active", "status_reason", "", "expires", "2027-06-30T00:00:00+08:00", "balance",
                 "15000000", "credits", "187500", "wallet", "0", "limit.daily.remaining", "99999",
                 "limit.daily.reset_after_ms", "3600000", "limit.daily.shadow_denials", "0",
                 "limit.burst.remaining", "400", "limit.burst.reset_after_ms", "0", "limit.burst.shadow_denials",
                 "2", "future_field", "x y"});
}

// Verifies CONTRACT prints a field table (money as decimals, unknown fields kept in order) and a limits table.
TEST(CliRenderContract, Human) {
  const Output out = render_contract("acme", contract_reply(), kHuman);
  EXPECT_EQ(out.exit_code, kExitOk);
  EXPECT_EQ(out.out,
            "contract       acme\n"
            "status         active\n"
            "status_reason\n"
            "expires        2027-06-30T00:00:00+08:00\n"
            "balance        150,000.00\n"
            "credits        187,500\n"
            "wallet         0.00\n"
            "future_field   x y\n"
            "\n"
            "limits\n"
            "name   remaining  reset_after  shadow_denials\n"
            "daily      99999           1h               0\n"
            "burst        400          0ms               2\n");
}

// Verifies CONTRACT JSON keeps wire order, turns counts into numbers and money into exact decimals.
TEST(CliRenderContract, Json) {
  EXPECT_EQ(render_contract("acme", contract_reply(), kJson).out,
            R"({"key":"acme","status":"active","status_reason":"","expires":"2027-06-30T00:00:00+08:00",)"
            R"("balance":"150000.00","balance_minor":15000000,"credits":187500,"wallet":"0.00","wallet_minor":0,)"
            R"("limit.daily.remaining":99999,"limit.daily.reset_after_ms":3600000,"limit.daily.shadow_denials":0,)"
            R"("limit.burst.remaining":400,"limit.burst.reset_after_ms":0,"limit.burst.shadow_denials":2,)"
            R"("future_field":"x y"})"
            "\n");
}

// Verifies "no pricing" balances read "none", limit names with dots survive, odd arrays are errors.
TEST(CliRenderContract, EdgeCases) {
  const Output out = render_contract("k", fields({"balance", "-1", "limit.v1.daily.remaining", "3"}), kHuman);
  EXPECT_EQ(out.out, "contract  k\nbalance   none\n\nlimits\nname      remaining\nv1.daily          3\n");
  EXPECT_EQ(render_contract("k", fields({"status"}), kHuman).exit_code, kExitError);
  EXPECT_EQ(render_contract("k", Value::error("ERR no such contract 'k'"), kHuman).err,
            "tollgate: no such contract 'k'\n");
}

Value ledger_reply() {
  return Value::array(
      {fields({"seq", "1", "time_ms", "1709210096789", "kind", "recharge", "amount", "15000000", "lot", "1",
               "actor", "uid:0", "id", "pay-1"}),
       fields({"seq", "2", "time_ms", "1709210100000", "kind", "debit", "amount", "-80", "lot", "1", "actor",
               "gateway", "id", ""})});
}

// Verifies LEDGER prints a table with ISO-8601 UTC times and decimal amounts.
TEST(CliRenderLedger, Human) {
  EXPECT_EQ(render_ledger(ledger_reply(), kHuman).out,
            "seq  time (UTC)                kind          amount  lot  actor    id\n"
            "  1  2024-02-29T12:34:56.789Z  recharge  150,000.00    1  uid:0    pay-1\n"
            "  2  2024-02-29T12:35:00.000Z  debit          -0.80    1  gateway\n");
  EXPECT_EQ(render_ledger(Value::array({}), kHuman).out, "no ledger entries\n");
}

// Verifies LEDGER JSON is an array of objects with numeric seq/time and exact amounts.
TEST(CliRenderLedger, Json) {
  EXPECT_EQ(render_ledger(ledger_reply(), kJson).out,
            R"([{"seq":1,"time_ms":1709210096789,"kind":"recharge","amount":"150000.00","amount_minor":15000000,)"
            R"("lot":1,"actor":"uid:0","id":"pay-1"},)"
            R"({"seq":2,"time_ms":1709210100000,"kind":"debit","amount":"-0.80","amount_minor":-80,)"
            R"("lot":1,"actor":"gateway","id":""}])"
            "\n");
  EXPECT_EQ(render_ledger(Value::array({}), kJson).out, "[]\n");
  EXPECT_EQ(render_ledger(Value::array({Value::number(1)}), kJson).exit_code, kExitError);
}

// Verifies EVENTS prints every field of each event, quoting values with blanks.
TEST(CliRenderEvents, Human) {
  const Value reply = Value::array(
      {fields({"seq", "7", "time_ms", "0", "kind", "anomaly", "key", "acme", "rule", "daily x10", "calls", "100000"}),
       fields({"seq", "8", "kind", "suspend", "reason", ""})});
  EXPECT_EQ(render_events(reply, kHuman).out,
            "seq=7 time=1970-01-01T00:00:00.000Z kind=anomaly key=acme rule=\"daily x10\" calls=100000\n"
            "seq=8 kind=suspend reason=\"\"\n");
  EXPECT_EQ(render_events(reply, kJson).out,
            R"([{"seq":7,"time_ms":0,"kind":"anomaly","key":"acme","rule":"daily x10","calls":"100000"},)"
            R"({"seq":8,"kind":"suspend","reason":""}])"
            "\n");
  EXPECT_EQ(render_events(Value::array({}), kHuman).out, "no events\n");
}

// Verifies INFO prints as is (without CRs) and as JSON sections.
TEST(CliRenderInfo, HumanAndJson) {
  const Value reply = Value::bulk("# Server\r\ntollgate_version:0.1.0\r\ncurrency_decimals:2\r\n\r\n# Keyspace\r\nkeys:3\r\n");
  EXPECT_EQ(render_info(reply, kHuman).out,
            "# Server\ntollgate_version:0.1.0\ncurrency_decimals:2\n\n# Keyspace\nkeys:3\n");
  EXPECT_EQ(render_info(reply, kJson).out,
            R"({"server":{"tollgate_version":"0.1.0","currency_decimals":"2"},"keyspace":{"keys":"3"}})"
            "\n");
  EXPECT_EQ(render_info(Value::number(3), kHuman).exit_code, kExitError);
}

}  // namespace
}  // namespace tollgate::cli
