// CLIENT LIST / CLIENT KILL against a real tollgated (two worker threads):
// data clients named with SETNAME/SETINFO are listed with their names and
// libraries on both sockets; CLIENT KILL ID from the admin socket closes
// exactly that client; an unknown id kills nothing; KILL is refused on the
// data socket.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "integration/daemon_harness.h"

namespace tollgate::testing {
namespace {

const std::string kConfig = R"(
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 1, per: 1d, burst: 1000 }
)";

std::string str(const Reply& r) { return r && r->str != nullptr ? std::string(r->str, r->len) : std::string(); }

// The CLIENT LIST line whose name= is `name` (empty if none).
std::string line_named(const std::string& list, const std::string& name) {
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find('\n', start);
    if (end == std::string::npos) end = list.size();
    std::string line = list.substr(start, end - start);
    if (line.find(" name=" + name + " ") != std::string::npos) return line;
    start = end + 1;
  }
  return "";
}

// Verifies two data clients are listed with their names/libraries (data and admin socket), KILL ID
// from the admin socket closes that one only, unknown ids kill nothing, and the data socket may not KILL.
TEST(ClientListTest, ListAndKillAcrossWorkers) {
  Daemon daemon(kConfig);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  Client a = daemon.connect();
  Client b = daemon.connect();
  Client admin = daemon.connect_admin();
  ASSERT_TRUE(a && b && admin);
  EXPECT_EQ(str(command(a.get(), {"CLIENT", "SETNAME", "gw-a"})), "OK");
  EXPECT_EQ(str(command(a.get(), {"CLIENT", "SETINFO", "LIB-NAME", "redis-py"})), "OK");
  EXPECT_EQ(str(command(a.get(), {"CLIENT", "SETINFO", "LIB-VER", "4.3.4"})), "OK");
  EXPECT_EQ(str(command(b.get(), {"CLIENT", "SETNAME", "gw-b"})), "OK");
  EXPECT_EQ(str(command(b.get(), {"CLIENT", "SETINFO", "LIB-NAME", "ioredis"})), "OK");
  Reply r = command(a.get(), {"CLIENT", "ID"});
  ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
  const long long id_a = r->integer;
  r = command(b.get(), {"CHECK", "ip:1.2.3.4"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);

  r = command(admin.get(), {"CLIENT", "LIST"});
  ASSERT_EQ(r->type, REDIS_REPLY_STRING) << str(r);
  const std::string list = str(r);
  const std::string la = line_named(list, "gw-a");
  const std::string lb = line_named(list, "gw-b");
  ASSERT_FALSE(la.empty()) << list;
  ASSERT_FALSE(lb.empty()) << list;
  EXPECT_EQ(la.rfind("id=" + std::to_string(id_a) + " addr=" + daemon.socket() + ":0 laddr=" + daemon.socket() + ":0 fd=", 0), 0u) << la;
  EXPECT_NE(la.find(" lib-name=redis-py lib-ver=4.3.4 "), std::string::npos) << la;
  EXPECT_NE(lb.find(" lib-name=ioredis "), std::string::npos) << lb;
  EXPECT_NE(lb.find(" cmd=check "), std::string::npos) << lb;
  EXPECT_NE(la.find(" user=default "), std::string::npos) << la;
  // The admin client itself, running CLIENT LIST.
  EXPECT_NE(list.find(" addr=" + daemon.admin_socket() + ":0 "), std::string::npos) << list;
  EXPECT_NE(list.find(" cmd=client user=default lib-name= lib-ver= resp=2 admin=1"), std::string::npos) << list;

  // The data socket lists too (as Redis), and sees the same clients.
  r = command(b.get(), {"CLIENT", "LIST", "ID", std::to_string(id_a)});
  ASSERT_EQ(r->type, REDIS_REPLY_STRING) << str(r);
  EXPECT_EQ(str(r), la.substr(0, la.find(" age=")) + str(r).substr(str(r).find(" age="))) << str(r);
  // ...but may not kill.
  r = command(b.get(), {"CLIENT", "KILL", "ID", std::to_string(id_a)});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_NE(str(r).find("admin socket"), std::string::npos) << str(r);

  r = command(admin.get(), {"CLIENT", "KILL", "ID", "999999"});
  ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r->integer, 0);
  r = command(admin.get(), {"CLIENT", "KILL", "/no/such.sock:0"});
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(str(r), "ERR No such client");

  r = command(admin.get(), {"CLIENT", "KILL", "ID", std::to_string(id_a)});
  ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r->integer, 1);
  // The killed client sees EOF: its worker closes it on its loop's next turn, so a PING racing the
  // kill may still be answered; within a deadline one is not (hiredis then returns no reply).
  bool closed = false;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       !closed && std::chrono::steady_clock::now() < until;) {
    Reply p = command(a.get(), {"PING"});
    closed = !p;
  }
  EXPECT_TRUE(closed);
  // The other keeps working, and the killed one leaves the list.
  r = command(b.get(), {"PING"});
  EXPECT_EQ(str(r), "PONG");
  r = command(admin.get(), {"CLIENT", "LIST"});
  EXPECT_TRUE(line_named(str(r), "gw-a").empty()) << str(r);
  EXPECT_FALSE(line_named(str(r), "gw-b").empty()) << str(r);
  r = command(admin.get(), {"CLIENT", "KILL", "ID", std::to_string(id_a)});
  EXPECT_EQ(r->integer, 0);
  // SKIPME yes is the default: the admin client survives killing everyone on its own socket.
  r = command(admin.get(), {"CLIENT", "KILL", "LADDR", daemon.admin_socket() + ":0"});
  EXPECT_EQ(r->integer, 0);
  EXPECT_EQ(str(command(admin.get(), {"PING"})), "PONG");
}

}  // namespace
}  // namespace tollgate::testing
