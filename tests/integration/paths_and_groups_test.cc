// Path rules and socket ownership (README "Paths" and "Socket ownership"):
// relative paths mean the config file's directory, whatever the daemon's
// working directory; missing parents are created; sockets get their group.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "integration/daemon_harness.h"
#include "integration/ops_support.h"

namespace tollgate::testing {
namespace {

constexpr const char* kBody = "key_classes:\n  - match: \"ip:*\"\n    limits:\n      - { name: ip, type: token_bucket, "
                              "rate: 10, per: 1s, burst: 20 }\n";

struct stat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

// A group other than the daemon's own primary one that it may use: any
// group for root, else a supplementary group; the primary one otherwise.
gid_t usable_other_group() {
  if (::geteuid() == 0) {
    for (const char* name : {"nogroup", "daemon", "users", "adm"})
      if (struct group* g = ::getgrnam(name); g != nullptr && g->gr_gid != ::getgid()) return g->gr_gid;
  }
  gid_t groups[64];
  const int n = ::getgroups(64, groups);
  for (int i = 0; i < n; ++i)
    if (groups[i] != ::getgid()) return groups[i];
  return ::getgid();
}

// Verifies a config naming only a relative server.socket starts from an unrelated working directory:
// the socket, the admin socket next to it and storage.dir land beside the config file, their missing
// parents created with 0750/0700.
TEST(PathsAndGroups, RelativePathsMeanTheConfigDirectoryFromAnyCwd) {
  TempDir dir;
  const std::string config = dir.file("tollgate.yaml");
  std::ofstream(config) << "server:\n  socket: sockets/deep/tg.sock\n  threads: 1\n" << kBody;
  TempDir elsewhere;
  OpsDaemon d(config, elsewhere.path(), dir.file("log"));
  ASSERT_TRUE(d.wait_ping(dir.file("sockets/deep/tg.sock"))) << d.log();
  EXPECT_EQ(::access(dir.file("sockets/deep/tg.admin.sock").c_str(), F_OK), 0) << d.log();
  EXPECT_EQ(stat_of(dir.file("sockets")).st_mode & 07777, 0750u);
  EXPECT_EQ(stat_of(dir.file("sockets/deep")).st_mode & 07777, 0750u);
  EXPECT_EQ(stat_of(dir.file("var")).st_mode & 07777, 0700u);  // storage.dir default, embedded store
  EXPECT_NE(::access(elsewhere.file("var").c_str(), F_OK), 0) << "nothing is created in the working directory";
  EXPECT_NE(::access(elsewhere.file("sockets").c_str(), F_OK), 0);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

// Verifies a config naming nothing at all starts from any working directory (run/ and var/ beside it).
TEST(PathsAndGroups, EmptyServerSectionStarts) {
  TempDir dir;
  std::ofstream(dir.file("t.yaml")) << "storage:\n  mode: memory\n" << kBody;
  TempDir elsewhere;
  OpsDaemon d(dir.file("t.yaml"), elsewhere.path(), dir.file("log"));
  ASSERT_TRUE(d.wait_ping(dir.file("run/tollgate.sock"))) << d.log();
  EXPECT_EQ(::access(dir.file("run/tollgate.admin.sock").c_str(), F_OK), 0);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

// Verifies a socket parent that cannot be created stops the start with an error naming the directory.
TEST(PathsAndGroups, UncreatableSocketDirectoryIsNamed) {
  TempDir dir;
  std::ofstream(dir.file("blocker")) << "a file, not a directory";
  std::ofstream(dir.file("t.yaml")) << "server:\n  socket: blocker/run/tg.sock\nstorage:\n  mode: memory\n" << kBody;
  OpsDaemon d(dir.file("t.yaml"), "/", dir.file("log"));
  EXPECT_EQ(d.wait_exit(), 1) << d.log();
  EXPECT_NE(d.log().find(dir.file("blocker") + " is not a directory (needed for server.socket"), std::string::npos)
      << d.log();
}

// Verifies socket_group/admin_socket_group chgrp the sockets (mode as configured), and an unknown
// group is refused at load with its name.
TEST(PathsAndGroups, SocketGroupOwnsTheSocket) {
  TempDir dir;
  const gid_t group = usable_other_group();
  std::ofstream(dir.file("t.yaml")) << "server:\n  socket: tg.sock\n  socket_mode: \"0660\"\n  socket_group: " << group
                                    << "\n  admin_socket_group: " << ::getgid()
                                    << "\n  threads: 1\nstorage:\n  mode: memory\n" << kBody;
  OpsDaemon d(dir.file("t.yaml"), "/", dir.file("log"));
  ASSERT_TRUE(d.wait_ping(dir.file("tg.sock"))) << d.log();
  struct stat st = stat_of(dir.file("tg.sock"));
  EXPECT_EQ(st.st_gid, group);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  st = stat_of(dir.file("tg.admin.sock"));
  EXPECT_EQ(st.st_gid, ::getgid());
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(d.stop(), 0);

  std::ofstream(dir.file("bad.yaml")) << "server:\n  socket: tg2.sock\n  socket_group: no-such-group-tollgate\n"
                                      << "storage:\n  mode: memory\n" << kBody;
  OpsDaemon bad(dir.file("bad.yaml"), "/", dir.file("log2"));
  EXPECT_EQ(bad.wait_exit(), 2);
  EXPECT_NE(bad.log().find("server.socket_group: unknown group 'no-such-group-tollgate'"), std::string::npos)
      << bad.log();
}

}  // namespace
}  // namespace tollgate::testing
