// Helpers for config tests: parse inline YAML and look for expected errors.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.h"

namespace tollgate::testing {

inline std::string joined(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += e.to_string() + "\n";
  return out;
}

// Parses YAML that must be valid; a failure lists every error.
inline Config parse_ok(std::string_view yaml) {
  auto result = parse_config(yaml, "test.yaml");
  if (!result) {
    ADD_FAILURE() << "unexpected errors:\n" << joined(result.error());
    return Config{};
  }
  return *result;
}

// Parses YAML that must be invalid and returns its errors.
inline std::vector<ConfigError> parse_errors(std::string_view yaml) {
  auto result = parse_config(yaml, "test.yaml");
  if (result) {
    ADD_FAILURE() << "expected errors, config was accepted";
    return {};
  }
  return result.error();
}

// The smallest valid config body: one key class with one token bucket.
// Server tests put their `server:` section in front of it.
inline constexpr std::string_view kKeyClass = R"(
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 10, per: 1s, burst: 20 }
)";

// A config of `server_lines` (each indented under `server:`) and kKeyClass.
inline std::string with_server(std::string_view server_lines) {
  return "server:\n" + std::string(server_lines) + std::string(kKeyClass);
}

// Matches an error at `line` whose reason contains `text`.
MATCHER_P2(ErrorAt, line, text, "") {
  return arg.line == line && arg.file == "test.yaml" && arg.reason.find(text) != std::string::npos;
}

// The errors must be exactly one, at `line`, containing `text`.
#define EXPECT_ONE_ERROR(yaml, line, text)                                                        \
  do {                                                                                            \
    const auto errors_ = ::tollgate::testing::parse_errors(yaml);                                 \
    EXPECT_THAT(errors_, ::testing::ElementsAre(::tollgate::testing::ErrorAt(line, text)))        \
        << ::tollgate::testing::joined(errors_);                                                  \
  } while (0)

}  // namespace tollgate::testing
