#include "app/directories.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tollgate {
namespace {

namespace fs = std::filesystem;

class DirectoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tollgate-dirs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  static mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  fs::path root_;
};

// Verifies every missing parent is created with the exact mode, whatever the umask.
TEST_F(DirectoriesTest, CreatesMissingParentsWithExactMode) {
  const mode_t old = ::umask(0077);
  auto made = make_directories((root_ / "a/b/c").string(), kSocketDirMode, "server.socket");
  ::umask(old);
  ASSERT_TRUE(made) << made.error();
  EXPECT_EQ(mode_of(root_ / "a"), 0750u);
  EXPECT_EQ(mode_of(root_ / "a/b/c"), 0750u);
  ASSERT_TRUE(make_directories((root_ / "s").string(), kStorageDirMode, "storage.dir"));
  EXPECT_EQ(mode_of(root_ / "s"), 0700u);
  // An existing directory is left as it is.
  ASSERT_EQ(::chmod((root_ / "a").c_str(), 0755), 0);
  ASSERT_TRUE(make_directories((root_ / "a/b/c").string(), kSocketDirMode, "server.socket"));
  EXPECT_EQ(mode_of(root_ / "a"), 0755u);
  EXPECT_EQ(parent_directory("/run/tollgate/tg.sock"), "/run/tollgate");
  EXPECT_EQ(parent_directory("tg.sock"), ".");
}

// Verifies directories created for a socket get the socket's group.
TEST_F(DirectoriesTest, CreatedDirectoriesGetTheGroup) {
  ASSERT_TRUE(make_directories((root_ / "g/h").string(), kSocketDirMode, "server.socket", ::getgid()));
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "g/h").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, ::getgid());
}

// Verifies a parent that cannot be made is named in the error, with the key it was for.
TEST_F(DirectoriesTest, UnmakeableParentNamesTheDirectory) {
  std::ofstream(root_ / "file") << "x";
  auto made = make_directories((root_ / "file/sub/dir").string(), kSocketDirMode, "server.socket");
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().find((root_ / "file").string() + " is not a directory (needed for server.socket"),
            std::string::npos)
      << made.error();
  // Unwritable parent (only meaningful when not root: root may write anywhere).
  if (::geteuid() != 0) {
    ASSERT_EQ(::mkdir((root_ / "ro").c_str(), 0500), 0);
    auto denied = make_directories((root_ / "ro/sub").string(), kStorageDirMode, "storage.dir");
    ASSERT_FALSE(denied);
    EXPECT_NE(denied.error().find("cannot create directory " + (root_ / "ro/sub").string() + " (for storage.dir"),
              std::string::npos)
        << denied.error();
  }
}

}  // namespace
}  // namespace tollgate
