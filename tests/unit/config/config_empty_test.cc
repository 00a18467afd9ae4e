// A config that defines nothing is refused unless it says so (an editor
// rewriting the file in place while SIGHUP fires must not drop every
// contract), and only a regular file of bounded size is read.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

namespace fs = std::filesystem;

using ::testing::ElementsAre;
using testing::ErrorAt;
using testing::parse_errors;
using testing::parse_ok;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tollgate-config-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Verifies every way of writing "nothing" is one error that names the way
// out, at the line of an empty contracts: section when there is one.
TEST(ConfigEmpty, NothingDefinedIsRefused) {
  for (const char* text : {"", "\n", "# only a comment\n", "---\n", "--- # comment\n...\n", "timezone: UTC\n",
                           "unknown_keys: allow\n", "allow_empty: false\n"}) {
    const auto errors = parse_errors(text);
    EXPECT_THAT(errors, ElementsAre(ErrorAt(0, "defines no contracts and no key_classes"))) << "'" << text << "'";
    ASSERT_FALSE(errors.empty());
    EXPECT_NE(errors[0].reason.find("allow_empty: true"), std::string::npos);
  }
  EXPECT_THAT(parse_errors("timezone: UTC\ncontracts: {}\nkey_classes: []\n"),
              ElementsAre(ErrorAt(2, "defines no contracts and no key_classes")));
  EXPECT_THAT(parse_errors("key_classes:\n"), ElementsAre(ErrorAt(1, "defines no contracts and no key_classes")));
}

// Verifies allow_empty: true accepts an empty config, and that it is a
// boolean like any other.
TEST(ConfigEmpty, AllowEmptyAcceptsIt) {
  const Config c = parse_ok("allow_empty: true\n");
  EXPECT_TRUE(c.allow_empty);
  EXPECT_TRUE(c.contracts.empty());
  EXPECT_THAT(parse_errors("allow_empty: yes\n"), ElementsAre(ErrorAt(1, "allow_empty: expected true or false")));
  // Not needed when something is defined.
  EXPECT_FALSE(parse_ok("key_classes:\n  - { match: \"ip:*\", limits: [] }\n").allow_empty);
}

// Verifies a directory, a device, /dev/zero and a FIFO are refused as files
// (one error at line 0 each) without reading them; none would otherwise
// end, or they read as an empty config.
TEST(ConfigEmpty, OnlyRegularFilesAreRead) {
  TempDir dir;
  const std::string fifo = dir.file("fifo.yaml");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string directory = dir.file("conf.d");
  fs::create_directory(directory);
  struct Case {
    std::string path;
    std::string reason;
  };
  for (const Case& c : {Case{directory, "is a directory"}, Case{"/dev/null", "is not a regular file"},
                        Case{"/dev/zero", "is not a regular file"}, Case{fifo, "is not a regular file"}}) {
    const auto result = load_config_file(c.path);
    ASSERT_FALSE(result) << c.path;
    ASSERT_EQ(result.error().size(), 1u) << c.path;
    EXPECT_EQ(result.error()[0].line, 0) << c.path;
    EXPECT_EQ(result.error()[0].file, c.path);
    EXPECT_NE(result.error()[0].reason.find(c.reason), std::string::npos) << result.error()[0].to_string();
  }
}

// Verifies a file above the size bound is refused before it is read (a
// sparse file: no disk is used), and one within it is read.
TEST(ConfigEmpty, FileSizeIsBounded) {
  TempDir dir;
  const std::string big = dir.file("big.yaml");
  std::ofstream(big) << "allow_empty: true\n";
  fs::resize_file(big, kMaxConfigFileBytes + 1);
  const auto result = load_config_file(big);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].line, 0);
  EXPECT_NE(result.error()[0].reason.find("larger than 64 MiB"), std::string::npos) << result.error()[0].to_string();

  const std::string small = dir.file("small.yaml");
  std::ofstream(small) << "allow_empty: true\n";
  EXPECT_TRUE(load_config_file(small).has_value());
}

// Verifies a file truncated to nothing (an editor rewriting it in place)
// is refused by load_config_file, the path every reload takes.
TEST(ConfigEmpty, TruncatedFileIsRefused) {
  TempDir dir;
  const std::string path = dir.file("tollgate.yaml");
  std::ofstream(path) << "contracts:\n  acme:\n    limits:\n      - { name: q, type: quota, limit: 5, period: day }\n";
  ASSERT_TRUE(load_config_file(path).has_value());
  std::ofstream(path, std::ios::trunc).flush();
  const auto result = load_config_file(path);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error()[0].reason.find("defines no contracts"), std::string::npos);
}

}  // namespace
}  // namespace tollgate
