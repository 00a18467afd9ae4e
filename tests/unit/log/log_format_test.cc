#include "log/log_format.h"

#include <gtest/gtest.h>

#include <string>

namespace tollgate {
namespace {

std::string formatted(LogStyle style, spdlog::level::level_enum level, std::string_view message) {
  auto formatter = make_log_formatter(style);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "", level, spdlog::string_view_t(message.data(), message.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

// Verifies a JSON line is one object with time, level, message and fields, quotes and newlines escaped.
TEST(LogFormat, JsonLineEscapesAndEndsOnce) {
  const std::string line = formatted(LogStyle::kJson, spdlog::level::warn, "a \"quoted\" word\nsecond\tline \\ \x01");
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per event";
  EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("Z\",\"level\":\"warn\",\"message\":\"a \\\"quoted\\\" word\\nsecond\\tline \\\\ \\u0001\","
                      "\"fields\":{\"pid\":"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find(",\"thread\":"), std::string::npos) << line;
  EXPECT_EQ(line.substr(line.size() - 3), "}}\n");
}

// Verifies the text format keeps one line per event too, with the level in brackets.
TEST(LogFormat, TextLineIsOneLine) {
  const std::string line = formatted(LogStyle::kText, spdlog::level::err, "first\nforged [info] line");
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_NE(line.find(" [error] first\\nforged [info] line\n"), std::string::npos) << line;
  EXPECT_EQ(log_level_name(spdlog::level::info), "info");
}

// Verifies UTF-8 passes through the JSON escaping untouched.
TEST(LogFormat, Utf8PassesThrough) {
  spdlog::memory_buf_t out;
  append_json_escaped("Zürich 北京", out);
  EXPECT_EQ(std::string(out.data(), out.size()), "Zürich 北京");
}

}  // namespace
}  // namespace tollgate
