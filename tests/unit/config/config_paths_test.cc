#include "config/config_paths.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using testing::joined;
using testing::parse_errors;
using testing::parse_ok;

constexpr std::string_view kMinimal = "allow_empty: true\n";

// Verifies relative paths resolve against the base directory and absolute ones are only normalised.
TEST(ConfigPaths, RelativePathsResolveAgainstTheConfigDirectory) {
  EXPECT_EQ(resolve_config_path("/etc/tollgate", "run/tg.sock"), "/etc/tollgate/run/tg.sock");
  EXPECT_EQ(resolve_config_path("/srv/app/conf", "../run/tg.sock"), "/srv/app/run/tg.sock");
  EXPECT_EQ(resolve_config_path("/etc/tollgate", "/run/tollgate/tg.sock"), "/run/tollgate/tg.sock");
  EXPECT_EQ(resolve_config_path("/etc/tollgate", "/var/lib//tollgate/./x"), "/var/lib/tollgate/x");
  EXPECT_EQ(resolve_config_path("/etc/tollgate", "var/"), "/etc/tollgate/var/");
  EXPECT_EQ(resolve_config_path("", "run/tg.sock"), "run/tg.sock");  // parse_config without a file
  EXPECT_EQ(config_base_dir("/etc/tollgate/tollgate.yaml"), "/etc/tollgate");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(config_base_dir("conf/tollgate.yaml"), std::string(cwd) + "/conf");
}

// Verifies the admin socket defaults to a sibling of the data socket.
TEST(ConfigPaths, AdminSocketDefaultsNextToTheDataSocket) {
  EXPECT_EQ(default_admin_socket("run/tollgate.sock"), "run/tollgate.admin.sock");
  EXPECT_EQ(default_admin_socket("/run/tollgate/data"), "/run/tollgate/data.admin.sock");
  const Config c = parse_ok("allow_empty: true\nserver:\n  socket: /tmp/x/gw.sock\n");
  EXPECT_EQ(c.server.admin_socket, "/tmp/x/gw.admin.sock");
}

// Verifies a loader given a base directory stores absolute paths for every path key.
TEST(ConfigPaths, LoaderResolvesEveryPathKey) {
  auto c = parse_config(
      "allow_empty: true\nserver:\n  socket: run/tg.sock\nstorage:\n  mode: embedded\n  dir: state\n", "x.yaml",
      "/etc/tg");
  ASSERT_TRUE(c) << joined(c.error());
  EXPECT_EQ(c->server.socket, "/etc/tg/run/tg.sock");
  EXPECT_EQ(c->server.admin_socket, "/etc/tg/run/tg.admin.sock");
  EXPECT_EQ(c->storage.dir, "/etc/tg/state");
  auto r = parse_config("allow_empty: true\nstorage:\n  mode: redis\n  redis:\n    socket: ../redis/r.sock\n", "x.yaml",
                        "/etc/tg");
  ASSERT_TRUE(r) << joined(r.error());
  EXPECT_EQ(r->storage.redis.socket, "/etc/redis/r.sock");
  // Defaults resolve the same way: a config naming nothing runs anywhere.
  auto d = parse_config(kMinimal, "x.yaml", "/opt/tg");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->server.socket, "/opt/tg/run/tollgate.sock");
  EXPECT_EQ(d->server.admin_socket, "/opt/tg/run/tollgate.admin.sock");
  EXPECT_EQ(d->storage.dir, "/opt/tg/var/");
}

// Verifies a socket path that grows past sockaddr_un's limit once resolved is reported at its key.
TEST(ConfigPaths, ResolvedSocketPathTooLongIsAnError) {
  const std::string base = "/" + std::string(100, 'd');
  auto c = parse_config("allow_empty: true\nserver:\n  socket: tg.sock\n", "x.yaml", base);
  ASSERT_FALSE(c);
  EXPECT_NE(joined(c.error()).find("x.yaml:3: server.socket: Unix socket path " + base + "/tg.sock is longer"),
            std::string::npos)
      << joined(c.error());
}

// Verifies socket groups are looked up at load: a known one is kept, an unknown one is a clear error.
TEST(ConfigPaths, SocketGroupsMustExist) {
  struct group* own = ::getgrgid(::getgid());
  ASSERT_NE(own, nullptr);
  const std::string name = own->gr_name;
  const Config c = parse_ok("allow_empty: true\nserver:\n  socket_group: " + name + "\n  admin_socket_group: " +
                            std::to_string(::getgid()) + "\n");
  EXPECT_EQ(c.server.socket_group, name);
  EXPECT_EQ(lookup_group(name), ::getgid());
  EXPECT_EQ(lookup_group(std::to_string(::getgid())), ::getgid());
  EXPECT_FALSE(lookup_group("no-such-group-tollgate"));
  const auto errors = parse_errors("allow_empty: true\nserver:\n  socket_group: no-such-group-tollgate\n");
  EXPECT_NE(joined(errors).find("test.yaml:3: server.socket_group: unknown group 'no-such-group-tollgate'"),
            std::string::npos)
      << joined(errors);
}

// Verifies server.timeout takes Redis's bare seconds or a duration, 0 meaning off, and the log section.
TEST(ConfigPaths, TimeoutsAndLogSection) {
  EXPECT_EQ(parse_ok("allow_empty: true\nserver:\n  timeout: 300\n").server.timeout, 300 * kNanosPerSecond);
  EXPECT_EQ(parse_ok("allow_empty: true\nserver:\n  timeout: 250ms\n").server.timeout, 250 * kNanosPerMilli);
  EXPECT_EQ(parse_ok("allow_empty: true\nserver:\n  timeout: 0\n").server.timeout, 0);
  EXPECT_EQ(parse_ok("allow_empty: true\nserver:\n  frame_timeout: 0\n").server.frame_timeout, 0);
  EXPECT_EQ(parse_ok("allow_empty: true\nserver:\n  frame_timeout: 2s\n").server.frame_timeout, 2 * kNanosPerSecond);
  EXPECT_FALSE(parse_config("allow_empty: true\nserver:\n  timeout: -1\n", "t.yaml"));
  EXPECT_FALSE(parse_config("allow_empty: true\nserver:\n  timeout: soon\n", "t.yaml"));
  const Config c = parse_ok("allow_empty: true\nlog:\n  format: json\n  level: warn\n");
  EXPECT_EQ(c.log.format, LogFormat::kJson);
  EXPECT_EQ(c.log.level, LogLevel::kWarn);
  EXPECT_FALSE(parse_config("allow_empty: true\nlog:\n  format: xml\n", "t.yaml"));
}

}  // namespace
}  // namespace tollgate
