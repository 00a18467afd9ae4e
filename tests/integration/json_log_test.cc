// log.format: json — every line tollgated writes is one JSON object
// (checked with Python's json module), including messages that carry
// quotes and newlines from the outside (a config key in a reload error).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "integration/daemon_harness.h"
#include "integration/ops_support.h"

namespace tollgate::testing {
namespace {

constexpr const char* kBody = "log:\n  format: json\n  level: info\nkey_classes:\n  - match: \"ip:*\"\n    limits:\n"
                              "      - { name: ip, type: token_bucket, rate: 10, per: 1s, burst: 20 }\n";

// Verifies every log line is valid JSON with time, level, message and fields, and that a message
// holding a quote and a newline stays on its line, escaped.
TEST(JsonLog, EveryLineIsOneJsonObject) {
  Daemon d(kBody, "threads: 1");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  // A reload refused for a key with a quote and a newline in its name.
  d.rewrite_config(std::string(kBody) + "\"we\\\"ird\\nkey\": 1\n", "threads: 1");
  ::kill(d.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return d.log().find("ird") != std::string::npos; })) << d.log();
  ASSERT_EQ(d.stop(), 0);
  const std::string log_file = d.dir().file("json.log");
  std::ofstream(log_file) << d.log();
  const std::string check = d.dir().file("check.py");
  std::ofstream(check) << R"(import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == "", "the log ends with a newline"
weird = 0
for line in lines[:-1]:
    o = json.loads(line)
    assert set(o) == {"time", "level", "message", "fields"}, o
    assert o["level"] in ("debug", "info", "warn", "error", "critical"), o
    assert o["time"].endswith("Z") and "T" in o["time"], o
    assert isinstance(o["fields"]["pid"], int), o
    if 'we"ird\nkey' in o["message"]:
        weird += 1
assert weird >= 1, "the reload error with the odd key is in the log"
print("ok", len(lines) - 1)
)";
  std::string output;
  EXPECT_EQ(Daemon::run_tool({"python3", check, log_file}, output), 0) << output << "\n" << d.log();
}

}  // namespace
}  // namespace tollgate::testing
