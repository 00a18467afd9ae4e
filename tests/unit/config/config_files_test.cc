#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

namespace fs = std::filesystem;

// The repository's conf/ directory, found from this file's location
// (tests/unit/config/ → ../../../conf).
fs::path conf_dir() { return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "conf"; }

// A temporary directory removed at the end of the test.
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
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Verifies the documented example conf/tollgate.yaml loads without errors and means what it says.
TEST(ConfigFiles, ExampleConfigLoads) {
  const auto result = load_config_file((conf_dir() / "tollgate.yaml").string());
  ASSERT_TRUE(result) << testing::joined(result.error());
  const Config& c = *result;
  // Relative to conf/: the repository's run/ and var/ (what `make run` prints).
  const fs::path root = fs::absolute(conf_dir()).lexically_normal().parent_path();
  EXPECT_EQ(c.server.socket, (root / "run/tollgate.sock").string());
  EXPECT_EQ(c.server.admin_socket, (root / "run/admin.sock").string());
  EXPECT_EQ(c.storage.dir, (root / "var").string() + "/");
  EXPECT_EQ(c.timezone, "Asia/Shanghai");
  EXPECT_EQ(c.storage.mode, StorageMode::kEmbedded);
  EXPECT_EQ(c.unknown_keys, UnknownKeys::kDeny);
  ASSERT_TRUE(c.pricing.contains("standard"));
  EXPECT_EQ(c.pricing.at("standard").steps.size(), 3u);
  ASSERT_TRUE(c.contracts.contains("acme-loans"));
  const ContractConfig& acme = c.contracts.at("acme-loans");
  EXPECT_EQ(acme.pricing, "standard");
  EXPECT_EQ(acme.limits.size(), 5u);
  EXPECT_EQ(acme.per_subject.size(), 1u);
  ASSERT_TRUE(acme.expires);
  ASSERT_TRUE(c.contracts.contains("beta-fraud"));
  EXPECT_EQ(c.contracts.at("beta-fraud").pricing, "");
  ASSERT_EQ(c.key_classes.size(), 2u);
  EXPECT_EQ(c.key_classes[0].match, "ip:*");
  EXPECT_EQ(c.key_classes[1].match, "user:*");
}

// Verifies conf/minimal.yaml loads without errors.
TEST(ConfigFiles, MinimalConfigLoads) {
  const auto result = load_config_file((conf_dir() / "minimal.yaml").string());
  ASSERT_TRUE(result) << testing::joined(result.error());
  EXPECT_EQ(result->key_classes.size(), 1u);
}

// Verifies the three Redis deployment examples (docs/redis.md) load and name their kind.
TEST(ConfigFiles, RedisDeploymentExamplesLoad) {
  const std::pair<const char*, RedisKind> files[] = {{"redis-standalone.yaml", RedisKind::kStandalone},
                                                     {"redis-sentinel.yaml", RedisKind::kSentinel},
                                                     {"redis-cluster.yaml", RedisKind::kCluster}};
  for (const auto& [file, kind] : files) {
    const auto result = load_config_file((conf_dir() / file).string());
    ASSERT_TRUE(result) << file << ": " << testing::joined(result.error());
    EXPECT_EQ(result->storage.mode, StorageMode::kRedis) << file;
    EXPECT_EQ(result->storage.redis.kind(), kind) << file;
  }
  const auto sentinel = load_config_file((conf_dir() / "redis-sentinel.yaml").string());
  ASSERT_TRUE(sentinel);
  EXPECT_EQ(sentinel->storage.redis.sentinel.master, "mymaster");
  EXPECT_EQ(sentinel->storage.redis.sentinel.nodes.size(), 3u);
  EXPECT_EQ(sentinel->storage.redis.wait_replicas, 1);
  EXPECT_EQ(sentinel->storage.redis.wait_timeout, 100 * kNanosPerMilli);
}

// Verifies errors from a file carry its path, and the file name is kept in Config.
TEST(ConfigFiles, ErrorsNameTheFile) {
  TempDir dir;
  const std::string path = (dir.path() / "bad.yaml").string();
  std::ofstream(path) << "server:\n  threads: lots\n";
  const auto result = load_config_file(path);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].to_string(), path + ":2: server.threads: expected an integer, got 'lots'");

  const std::string good = (dir.path() / "good.yaml").string();
  std::ofstream(good) << "timezone: UTC\nallow_empty: true\n";
  const auto loaded = load_config_file(good);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->file, good);
}

// Verifies a missing file is one error at line 0.
TEST(ConfigFiles, MissingFile) {
  TempDir dir;
  const std::string path = (dir.path() / "absent.yaml").string();
  const auto result = load_config_file(path);
  ASSERT_FALSE(result);
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].line, 0);
  EXPECT_EQ(result.error()[0].to_string(), path + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace tollgate
