// `server.grpc` and `envoy:` (config/envoy_reader.h): defaults, values, and
// every refusal with its line.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/config_diff.h"
#include "config/envoy_reader.h"
#include "control/reloader.h"
#include "unit/config/config_test_util.h"

namespace tollgate::testing {
namespace {

constexpr std::string_view kKeyClass = "key_classes:\n  - match: \"ip:*\"\n    limits:\n      - {name: r, type: token_bucket, rate: 1, per: 1s, burst: 1}\n";

// Verifies that without server.grpc nothing listens, and the envoy defaults.
TEST(EnvoyConfig, Defaults) {
  Config c = parse_ok(std::string(kKeyClass));
  EXPECT_TRUE(c.server.grpc.listen.empty());
  EXPECT_EQ(c.server.grpc.threads, 2);
  EXPECT_EQ(c.envoy.unknown_domain, EnvoyDefault::kOk);
  EXPECT_TRUE(c.envoy.domains.empty());
}

// Verifies the interface of issue 12 as written.
TEST(EnvoyConfig, IssueExample) {
  Config c = parse_ok(std::string(kKeyClass) +
                      "server:\n"
                      "  grpc: { listen: \"127.0.0.1:8081\", threads: 3 }\n"
                      "envoy:\n"
                      "  unknown_domain: over_limit\n"
                      "  domains:\n"
                      "    - domain: api\n"
                      "      key: contract\n"
                      "      channel: channel\n"
                      "      purpose: purpose\n"
                      "      subject: user\n"
                      "      unmatched: over_limit\n"
                      "    - domain: edge\n"
                      "      key: remote_address\n");
  EXPECT_EQ(c.server.grpc.listen, "127.0.0.1:8081");
  EXPECT_EQ(c.server.grpc.threads, 3);
  EXPECT_EQ(c.envoy.unknown_domain, EnvoyDefault::kOverLimit);
  ASSERT_EQ(c.envoy.domains.size(), 2u);
  EXPECT_EQ(c.envoy.domains[0].subject, "user");
  EXPECT_EQ(c.envoy.domains[0].unmatched, EnvoyDefault::kOverLimit);
  EXPECT_EQ(c.envoy.domains[1].key, "remote_address");
  EXPECT_TRUE(c.envoy.domains[1].channel.empty());
  EXPECT_EQ(c.envoy.domains[1].unmatched, EnvoyDefault::kOk);
}

// Verifies the listen addresses accepted and refused.
TEST(EnvoyConfig, ListenAddresses) {
  EXPECT_EQ(grpc_listen_problem("127.0.0.1:8081"), nullptr);
  EXPECT_EQ(grpc_listen_problem("127.0.0.1:0"), nullptr);
  EXPECT_EQ(grpc_listen_problem("[::1]:8081"), nullptr);
  EXPECT_EQ(grpc_listen_problem("localhost:8081"), nullptr);
  EXPECT_EQ(grpc_listen_problem("unix:/run/tollgate/grpc.sock"), nullptr);
  EXPECT_NE(grpc_listen_problem("unix:"), nullptr);
  EXPECT_NE(grpc_listen_problem("8081"), nullptr);
  EXPECT_NE(grpc_listen_problem(":8081"), nullptr);
  EXPECT_NE(grpc_listen_problem("127.0.0.1:65536"), nullptr);
  EXPECT_NE(grpc_listen_problem("127.0.0.1:x"), nullptr);
  EXPECT_NE(grpc_listen_problem("::1:8081"), nullptr);
}

// Verifies each refusal, at its line.
TEST(EnvoyConfig, Refusals) {
  const std::string base(kKeyClass);  // 4 lines
  EXPECT_ONE_ERROR(base + "server:\n  grpc: { listen: \"nope\" }\n", 6, "host:port");
  EXPECT_ONE_ERROR(base + "server:\n  grpc: { threads: 2 }\n", 6, "server.grpc.listen: required");
  EXPECT_ONE_ERROR(base + "server:\n  grpc: { listen: \"127.0.0.1:1\", threads: 0 }\n", 6, "threads");
  EXPECT_ONE_ERROR(base + "server:\n  grpc: { listen: \"127.0.0.1:1\", port: 2 }\n", 6, "port");
  EXPECT_ONE_ERROR(base + "envoy:\n  unknown_domain: maybe\n", 6, "ok | over_limit");
  EXPECT_ONE_ERROR(base + "envoy:\n  domains:\n    - domain: api\n", 7, "key: required");
  EXPECT_ONE_ERROR(base + "envoy:\n  domains:\n    - {domain: api, key: k}\n    - {domain: api, key: j}\n", 8,
                   "mapped twice");
  EXPECT_ONE_ERROR(base + "envoy:\n  domains:\n    - {domain: api, key: k, subject: k}\n", 7, "named for two");
  EXPECT_ONE_ERROR(base + "envoy:\n  domains:\n    - {domain: api, key: k, unmatched: deny}\n", 7, "ok | over_limit");
}

// Verifies a reload's diff names envoy domain changes, and that only server.grpc needs a restart.
TEST(EnvoyConfig, ReloadDiff) {
  const std::string base(kKeyClass);
  Config before = parse_ok(base + "server:\n  grpc: { listen: \"127.0.0.1:1\" }\nenvoy:\n  domains:\n"
                                  "    - {domain: api, key: contract}\n    - {domain: old, key: k}\n");
  Config after = parse_ok(base + "server:\n  grpc: { listen: \"127.0.0.1:1\" }\nenvoy:\n  unknown_domain: over_limit\n"
                                 "  domains:\n    - {domain: api, key: contract, channel: ch}\n"
                                 "    - {domain: new, key: k}\n");
  const std::vector<std::string> changes = diff_configs(before, after);
  EXPECT_NE(std::find(changes.begin(), changes.end(), "envoy.unknown_domain: ok -> over_limit"), changes.end());
  EXPECT_NE(std::find(changes.begin(), changes.end(), "- envoy domain old"), changes.end());
  EXPECT_NE(std::find(changes.begin(), changes.end(), "+ envoy domain new"), changes.end());
  EXPECT_EQ(std::count_if(changes.begin(), changes.end(),
                          [](const std::string& c) { return c.starts_with("envoy domain api changed"); }),
            1);
  EXPECT_TRUE(restart_only_changes(before, after).empty());

  Config moved = after;
  moved.server.grpc.threads = 4;
  EXPECT_EQ(restart_only_changes(after, moved),
            std::vector<std::string>{"server.grpc changed: takes effect after a restart"});
}

}  // namespace
}  // namespace tollgate::testing
