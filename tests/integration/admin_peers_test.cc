// The admin socket's peer check against real processes: a forked client
// switches to another uid/gid and supplementary groups before it connects
// (needs root to do so; skipped otherwise).
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

enum Outcome { kAdmitted = 0, kRefused = 1, kOther = 2 };

// Forks a client that takes uid/gid/groups, connects to `path`, sends PING
// and reports what it got: kAdmitted (+PONG), kRefused (the permission
// error, then EOF) or kOther (with a code ≥ 10 for set-up failures).
int connect_as(const std::string& path, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(groups.size(), groups.data()) != 0) ::_exit(10);
    if (::setgid(gid) != 0) ::_exit(11);
    if (::setuid(uid) != 0) ::_exit(12);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) ::_exit(13);
    // A refused peer may be closed on before it writes: the error is still there to read.
    ::signal(SIGPIPE, SIG_IGN);
    [[maybe_unused]] ssize_t written = ::write(fd, "PING\r\n", 6);
    std::string reply;
    char buffer[256];
    pollfd p{fd, POLLIN, 0};
    while (reply.find("\r\n") == std::string::npos && ::poll(&p, 1, 5000) == 1) {
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      reply.append(buffer, static_cast<size_t>(n));
    }
    if (reply.starts_with("+PONG")) ::_exit(kAdmitted);
    if (reply.find("permission denied") != std::string::npos) ::_exit(kRefused);
    ::_exit(kOther);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

class AdminPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch the client's uid, gid and groups";
  }
  // Lets other uids reach the socket file: the peer check, not file modes, decides.
  static void open_up(const Daemon& d) {
    ASSERT_EQ(::chmod(d.dir().path().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(d.admin_socket().c_str(), 0666), 0);
  }
};

// Verifies a peer whose *supplementary* group is in allow_gids is admitted
// (SO_PEERGROUPS), one without it is refused, and listing gids does not lock
// out root (the test process) — the daemon's own uid and root are admitted
// unless admit_owner: false.
TEST_F(AdminPeersTest, SupplementaryGroupsAndOwner) {
  Daemon d("admin:\n  allow_gids: [4242]\ncontracts:\n  c: {}\n");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  open_up(d);
  EXPECT_EQ(connect_as(d.admin_socket(), 3001, 3000, {4242}), kAdmitted) << d.log();
  EXPECT_EQ(connect_as(d.admin_socket(), 3001, 3000, {17, 4242, 99}), kAdmitted) << d.log();
  EXPECT_EQ(connect_as(d.admin_socket(), 3001, 3000, {}), kRefused) << d.log();
  EXPECT_EQ(connect_as(d.admin_socket(), 3001, 3000, {4243}), kRefused) << d.log();
  EXPECT_EQ(connect_as(d.admin_socket(), 3001, 4242, {}), kAdmitted) << d.log();  // primary gid
  Client root = d.connect_admin();
  ASSERT_TRUE(root);
  Reply pong = command(root.get(), {"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->type, REDIS_REPLY_STATUS) << (pong->str ? pong->str : "");
}

// Verifies admit_owner: false takes root (the daemon's own uid here) out,
// while the listed group still gets in.
TEST_F(AdminPeersTest, AdmitOwnerFalseExcludesRoot) {
  Daemon d("admin:\n  allow_gids: [4242]\n  admit_owner: false\ncontracts:\n  c: {}\n");
  ASSERT_TRUE(d.wait_ready()) << d.log();
  open_up(d);
  EXPECT_EQ(connect_as(d.admin_socket(), 0, 0, {}), kRefused) << d.log();
  EXPECT_EQ(connect_as(d.admin_socket(), 3001, 3000, {4242}), kAdmitted) << d.log();
}

}  // namespace
}  // namespace tollgate::testing
