#include <gtest/gtest.h>

#include "cli/render.h"

namespace tollgate::cli {
namespace {

Value check_reply(int64_t allowed, std::string code, std::string limit, int64_t remaining, int64_t retry,
                  int64_t reset, int64_t balance) {
  return Value::array({Value::number(allowed), Value::status(std::move(code)), Value::bulk(std::move(limit)),
                       Value::number(remaining), Value::number(retry), Value::number(reset),
                       Value::number(balance)});
}

const RenderOptions kHuman{.json = false, .decimals = 2, .uid = 1000};
const RenderOptions kJson{.json = true, .decimals = 2, .uid = 1000};

// Verifies an allowed CHECK prints one line with the balance as grouped decimals, exit 0.
TEST(CliRenderCheck, AllowedHuman) {
  const Output out = render_check(check_reply(1, "OK", "daily", 99, 0, 3'600'000, 123456), kHuman);
  EXPECT_EQ(out.out, "ALLOWED  limit=daily remaining=99 retry_after=0ms reset_after=1h  balance=1,234.56\n");
  EXPECT_EQ(out.err, "");
  EXPECT_EQ(out.exit_code, kExitOk);
}

// Verifies a denial names its code, -1 retry reads "never", -1 balance reads "none", exit 1.
TEST(CliRenderCheck, DeniedHuman) {
  const Output out = render_check(check_reply(0, "CHANNEL", "", 0, -1, 0, -1), kHuman);
  EXPECT_EQ(out.out, "DENIED CHANNEL  limit=none remaining=0 retry_after=never reset_after=0ms  balance=none\n");
  EXPECT_EQ(out.exit_code, kExitDenied);
}

// Verifies the JSON form carries every field with raw numbers and an exact decimal balance.
TEST(CliRenderCheck, Json) {
  EXPECT_EQ(render_check(check_reply(0, "QUOTA", "daily", 0, 5000, 6000, 15000000), kJson).out,
            R"({"allowed":false,"code":"QUOTA","limit":"daily","remaining":0,"retry_after_ms":5000,)"
            R"("reset_after_ms":6000,"balance":"150000.00","balance_minor":15000000})"
            "\n");
  EXPECT_EQ(render_check(check_reply(1, "OK", "", 5, 0, 0, -1), kJson).out,
            R"({"allowed":true,"code":"OK","limit":"","remaining":5,"retry_after_ms":0,)"
            R"("reset_after_ms":0,"balance":null,"balance_minor":-1})"
            "\n");
}

// Verifies a reply of the wrong shape is an error (exit 2), never a guessed verdict.
TEST(CliRenderCheck, WrongShape) {
  const Output out = render_check(Value::array({Value::number(1)}), kHuman);
  EXPECT_EQ(out.exit_code, kExitError);
  EXPECT_EQ(out.err, "tollgate: unexpected reply to CHECK: array of 1\n");
  EXPECT_EQ(render_check(Value::status("OK"), kHuman).exit_code, kExitError);
}

// Verifies a daemon error prints its message without the ERR prefix, exit 2, as JSON too.
TEST(CliRenderCheck, ErrorReply) {
  const Output out = render_check(Value::error("ERR unknown option 'COLOR'"), kHuman);
  EXPECT_EQ(out.err, "tollgate: unknown option 'COLOR'\n");
  EXPECT_EQ(out.exit_code, kExitError);
  const Output json = render_check(Value::error("ERR bad \"cost\""), kJson);
  EXPECT_EQ(json.out, "{\"error\":\"bad \\\"cost\\\"\"}\n");
  EXPECT_EQ(json.exit_code, kExitError);
}

// Verifies the recharge sentence uses grouped amounts and the unit price as money.
TEST(CliRenderRecharge, Human) {
  const Value reply = Value::array({Value::number(187500), Value::number(80), Value::number(15000000)});
  EXPECT_EQ(render_recharge(15000000, reply, kHuman).out,
            "recharged 150,000.00: 187,500 credits at 0.80, balance 150,000.00\n");
}

// Verifies recharge JSON gives both exact decimals and minor units.
TEST(CliRenderRecharge, Json) {
  const Value reply = Value::array({Value::number(187500), Value::number(80), Value::number(15000000)});
  EXPECT_EQ(render_recharge(15000000, reply, kJson).out,
            R"({"amount":"150000.00","amount_minor":15000000,"credits":187500,"unit_price":"0.80",)"
            R"("unit_price_minor":80,"balance":"150000.00","balance_minor":15000000})"
            "\n");
}

// Verifies a replayed payment id with another amount surfaces the daemon's refusal.
TEST(CliRenderRecharge, ErrorAndShape) {
  EXPECT_EQ(render_recharge(1, Value::error("ERR payment pay-1 was for 100.00"), kHuman).err,
            "tollgate: payment pay-1 was for 100.00\n");
  EXPECT_EQ(render_recharge(1, Value::array({}), kHuman).exit_code, kExitError);
}

// Verifies +OK commands print their confirmation, and PONG prints as the daemon said it.
TEST(CliRenderStatus, OkAndPong) {
  EXPECT_EQ(render_status("suspended acme", Value::status("OK"), kHuman).out, "suspended acme\n");
  EXPECT_EQ(render_status("", Value::status("PONG"), kHuman).out, "PONG\n");
  EXPECT_EQ(render_status("", Value::status("PONG"), kJson).out, "{\"ok\":true,\"reply\":\"PONG\"}\n");
  EXPECT_EQ(render_status("x", Value::number(1), kHuman).exit_code, kExitError);
}

// Verifies RESET's count is printed with correct plural and as JSON.
TEST(CliRenderStatus, Reset) {
  EXPECT_EQ(render_reset("acme", Value::number(1), kHuman).out, "reset 1 limit of acme\n");
  EXPECT_EQ(render_reset("acme", Value::number(5), kHuman).out, "reset 5 limits of acme\n");
  EXPECT_EQ(render_reset("acme", Value::number(5), kJson).out, "{\"reset\":5}\n");
}

// Verifies a failed RELOAD prints each file:line problem on its own line, in JSON as a list.
TEST(CliRenderStatus, ReloadErrors) {
  const Value error = Value::error("ERR conf/a.yaml:3: unknown field 'limt'; conf/a.yaml:9: bad unit '5x'");
  const Output out = render_error_reply(error, kHuman, "reload failed:");
  EXPECT_EQ(out.err, "tollgate: reload failed:\n  conf/a.yaml:3: unknown field 'limt'\n  conf/a.yaml:9: bad unit '5x'\n");
  EXPECT_EQ(out.exit_code, kExitError);
  EXPECT_EQ(render_error_reply(error, kJson, "reload failed:").out,
            R"({"error":"conf/a.yaml:3: unknown field 'limt'; conf/a.yaml:9: bad unit '5x'",)"
            R"("errors":["conf/a.yaml:3: unknown field 'limt'","conf/a.yaml:9: bad unit '5x'"]})"
            "\n");
}

// Verifies a successful RELOAD (an array of change lines) prints them and
// exits 0; it used to be taken for an unexpected reply (exit 2).
TEST(CliRenderStatus, ReloadChanges) {
  const Value changes =
      Value::array({Value::bulk("+ contract newcomer"), Value::bulk("contract acme: limit daily changed (limit 5 -> 4)")});
  const Output out = render_reload(changes, kHuman);
  EXPECT_EQ(out.out, "reloaded:\n  + contract newcomer\n  contract acme: limit daily changed (limit 5 -> 4)\n");
  EXPECT_EQ(out.exit_code, kExitOk);
  EXPECT_EQ(render_reload(Value::array({}), kHuman).out, "reloaded (no changes)\n");
  EXPECT_EQ(render_reload(changes, kJson).out,
            R"({"ok":true,"changes":["+ contract newcomer",)"
            R"j("contract acme: limit daily changed (limit 5 -> 4)"]})j"
            "\n");
  const Output refused = render_reload(Value::error("ERR config rejected: conf/a.yaml:3: unknown field"), kHuman);
  EXPECT_EQ(refused.exit_code, kExitError);
  EXPECT_NE(refused.err.find("reload failed, the old configuration stays:"), std::string::npos) << refused.err;
  EXPECT_EQ(render_reload(Value::number(3), kHuman).exit_code, kExitError);
}

// Verifies the admin socket's refusal becomes the actionable "not allowed" sentence.
TEST(CliRenderStatus, PermissionDenied) {
  const Output out = render_status("x", Value::error("ERR permission denied: uid 1000 not allowed"), kHuman);
  EXPECT_EQ(out.err, "tollgate: not allowed: your uid 1000 is not in admin.allow_uids (ask an operator)\n");
  EXPECT_EQ(out.exit_code, kExitError);
}

}  // namespace
}  // namespace tollgate::cli
