// server.http: the HTTP front's listeners and bounds.
#include <gtest/gtest.h>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using testing::joined;
using testing::parse_errors;
using testing::parse_ok;

using testing::kKeyClass;

std::string with_http(std::string_view http) { return testing::with_server("  http: " + std::string(http) + "\n"); }

// Verifies that without server.http nothing listens, and the defaults.
TEST(HttpConfig, AbsentMeansNoListener) {
  const Config c = parse_ok(kKeyClass);
  EXPECT_TRUE(c.server.http.listen.empty());
  EXPECT_EQ(c.server.http.max_header_bytes, 8 * 1024);
  EXPECT_EQ(c.server.http.request_timeout, 10 * kNanosPerSecond);
}

// Verifies the interface of the issue: any number of TCP and unix: entries.
TEST(HttpConfig, ReadsListenersAndBounds) {
  const Config c = parse_ok(with_http(
      R"({ listen: ["127.0.0.1:8080", "unix:run/http.sock", "[::1]:9090"], max_body_bytes: 4k, request_timeout: 2s })"));
  ASSERT_EQ(c.server.http.listen.size(), 3u);
  EXPECT_EQ(c.server.http.listen[1], "unix:run/http.sock");
  EXPECT_EQ(c.server.http.max_body_bytes, 4096);
  EXPECT_EQ(c.server.http.request_timeout, 2 * kNanosPerSecond);
}

// Verifies a malformed listen entry or an unknown key is a config error naming it.
TEST(HttpConfig, RefusesBadEntries) {
  std::string errors = joined(parse_errors(with_http(R"({ listen: ["8080"] })")));
  EXPECT_NE(errors.find("'8080'"), std::string::npos) << errors;
  errors = joined(parse_errors(with_http(R"({ listen: ["127.0.0.1:99999"] })")));
  EXPECT_NE(errors.find("0..65535"), std::string::npos) << errors;
  errors = joined(parse_errors(with_http(R"({ listen: ["unix:"] })")));
  EXPECT_NE(errors.find("socket path"), std::string::npos) << errors;
  errors = joined(parse_errors(with_http(R"({ listen: ["127.0.0.1:1"], port: 3 })")));
  EXPECT_NE(errors.find("port"), std::string::npos) << errors;
}

}  // namespace
}  // namespace tollgate
