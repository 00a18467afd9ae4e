// YAML streams yaml-cpp 0.7's LoadAll never finishes (found by
// tests/fuzz/config_fuzz.cc): the loader must answer them with an error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "config/config_loader.h"
#include "config/yaml_documents.h"

namespace tollgate {
namespace {

// Parses `text` in a child process that SIGALRM kills after 10 s; exits 0
// when the loader refused it with one syntax error at line 1.
void parse_in_child(const std::string& text) {
  ::alarm(10);
  auto config = parse_config(text, "x.yaml");
  const bool ok = !config && config.error().size() == 1 && config.error()[0].line == 1 &&
                  config.error()[0].reason.starts_with("YAML syntax error");
  std::_Exit(ok ? 0 : 1);
}

// Verifies a stray comma (an editor accident, or the fuzzer's ",s'b0") is a
// syntax error at line 1. With YAML::LoadAll the loader looped forever,
// allocating an empty document per turn: --check-config, the start and a
// RELOAD/SIGHUP hung and ran the daemon out of memory.
TEST(ConfigYamlDocuments, StrayCommaIsASyntaxErrorNotAHang) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const std::string text : {",", ",s'b0", ",\ncontracts: {}\n"}) {
    EXPECT_EXIT(parse_in_child(text), ::testing::ExitedWithCode(0), "") << "input: " << text;
  }
}

// Verifies the document count still works: one document, a second one
// reported at its first line of content, or at its `---` when it is empty.
TEST(ConfigYamlDocuments, CountsDocuments) {
  EXPECT_FALSE(load_yaml_documents("a: 1\n").second_line.has_value());
  EXPECT_TRUE(load_yaml_documents("a: 1\n").first.IsMap());
  EXPECT_TRUE(load_yaml_documents("").first.IsNull());
  EXPECT_EQ(load_yaml_documents("a: 1\n---\n\nb: 2\n").second_line, 4);
  EXPECT_EQ(load_yaml_documents("a: 1\n---\n").second_line, 2);
  EXPECT_EQ(load_yaml_documents("a: 1\n---\nb: 2\n").first["a"].as<int>(), 1);
}

}  // namespace
}  // namespace tollgate
