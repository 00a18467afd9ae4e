// The server keys that bound resources: server.max_key,
// server.max_input_total and server.output_stall_timeout.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config/config_diff.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using testing::parse_ok;

using testing::kKeyClass;
using testing::with_server;

TEST(ServerLimitsConfig, Defaults) {
  // Verifies the documented defaults of the resource bounds.
  const Config c = parse_ok(kKeyClass);
  EXPECT_EQ(c.server.max_key, 512);
  EXPECT_EQ(c.server.max_input_total, int64_t{256} << 20);
  EXPECT_EQ(c.server.output_stall_timeout, 30 * kNanosPerSecond);
}

TEST(ServerLimitsConfig, ReadsTheKeys) {
  // Verifies the keys are read with their units.
  const Config c = parse_ok(with_server("  max_key: 1k\n  max_input_total: 64m\n  output_stall_timeout: 250ms\n"));
  EXPECT_EQ(c.server.max_key, 1024);
  EXPECT_EQ(c.server.max_input_total, int64_t{64} << 20);
  EXPECT_EQ(c.server.output_stall_timeout, 250 * kNanosPerMilli);
}

TEST(ServerLimitsConfig, RejectsBadValues) {
  // Verifies zero, negative and unit-less values are errors with their line.
  EXPECT_ONE_ERROR(with_server("  max_key: 0\n"), 2, "server.max_key");
  EXPECT_ONE_ERROR(with_server("  max_input_total: -1\n"), 2, "server.max_input_total");
  EXPECT_ONE_ERROR(with_server("  output_stall_timeout: 30\n"), 2, "server.output_stall_timeout");
}

TEST(ServerLimitsConfig, ContractKeysLongerThanMaxKeyAreErrors) {
  // Verifies a contract whose key no command could name (longer than
  // server.max_key) is refused at load, at its line.
  const std::string yaml = "server:\n  max_key: 8\ncontracts:\n  partner-acme:\n    limits:\n"
                           "      - { name: d, type: quota, limit: 10, period: day }\n" +
                           std::string(kKeyClass);
  EXPECT_ONE_ERROR(yaml, 4, "longer than server.max_key (8)");
  EXPECT_ONE_ERROR(with_server("  max_key: 2\n"), 5, "longer than server.max_key (2)");  // the "ip:" prefix
}

TEST(ServerLimitsConfig, ChangesAreListedByTheDiff) {
  // Verifies --against lists a change of each key.
  const Config a = parse_ok(kKeyClass);
  const Config b = parse_ok(with_server("  max_key: 100\n  max_input_total: 1m\n  output_stall_timeout: 5s\n"));
  std::string text;
  for (const auto& line : diff_configs(a, b)) text += line + "\n";
  EXPECT_NE(text.find("server.max_key: 512 -> 100"), std::string::npos) << text;
  EXPECT_NE(text.find("server.max_input_total: 268435456 -> 1048576"), std::string::npos) << text;
  EXPECT_NE(text.find("server.output_stall_timeout"), std::string::npos) << text;
}

}  // namespace
}  // namespace tollgate
