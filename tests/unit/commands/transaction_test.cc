// MULTI / EXEC / DISCARD / WATCH on a DataService over a real engine: Redis's
// queueing rules, the CHECKs of a transaction decided all-or-nothing, the
// queue's bounds; and the connection gates (AUTH, HELLO 3, SELECT, CONFIG GET).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "commands/client_state.h"
#include "commands/data_service.h"
#include "engine/engine.h"
#include "unit/commands/service_harness.h"
#include "unit/engine/limit_specs.h"

namespace tollgate {
namespace {

using tollgate::testing::bucket;
using tollgate::testing::contract;
using tollgate::testing::quota;

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

EngineOptions two_contracts() {
  EngineOptions o;
  o.contracts.push_back(contract("partner:acme", {quota("daily", 2)}));
  PolicySpec ip;
  ip.name = "ip:*";
  ip.limits = {bucket("ip", 1, 3600 * kNanosPerSecond, 5)};
  o.key_classes.push_back(ip);
  return o;
}

struct Harness {
  Harness() : engine(two_contracts(), kNow) {
    service = std::make_unique<DataService>(*engine.engine, engine.clock, engine.reclaimer, 1, ServiceInfo{});
  }
  std::string run(std::vector<std::string_view> args) { return testing::run_command(*service, session, args); }
  // The PEEK reply's remaining field for `key` (the 4th element: after allowed, code and the limit's bulk).
  std::string remaining(std::string_view key) {
    const std::string reply = run({"PEEK", key});
    size_t pos = reply.find("\r\n$");                     // end of the code line
    pos = reply.find("\r\n", reply.find("\r\n", pos + 2) + 2) + 2;  // past the limit's length and text
    return reply.substr(pos + 1, reply.find("\r\n", pos) - pos - 1);
  }

  testing::EngineHarness engine;
  std::unique_ptr<DataService> service;
  Session session;
};

// Verifies commands between MULTI and EXEC are queued, EXEC answers their replies in order, and a transaction of
// CHECKs that are all allowed charges each.
TEST(Transaction, QueuesAndExecutes) {
  Harness h;
  EXPECT_EQ(h.run({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(h.run({"CHECK", "ip:1"}), "+QUEUED\r\n");
  EXPECT_EQ(h.run({"PING"}), "+QUEUED\r\n");
  EXPECT_EQ(h.run({"CHECK", "partner:acme"}), "+QUEUED\r\n");
  const std::string reply = h.run({"EXEC"});
  EXPECT_TRUE(reply.starts_with("*3\r\n*7\r\n:1\r\n+OK\r\n$2\r\nip\r\n:4\r\n")) << reply;
  EXPECT_NE(reply.find("+PONG\r\n*7\r\n:1\r\n+OK\r\n$5\r\ndaily\r\n:1\r\n"), std::string::npos) << reply;
  EXPECT_EQ(h.run({"EXEC"}), "-ERR EXEC without MULTI\r\n");
  EXPECT_EQ(h.service->total(&WorkerMetrics::transactions), 1u);
}

// Verifies a transaction whose CHECKs are not all allowed charges none of them: the denied one carries its code,
// the others ABORTED — and the per-IP key keeps its tokens (the gateway case).
TEST(Transaction, ChecksAreAllOrNothing) {
  Harness h;
  ASSERT_EQ(h.run({"CHECK", "partner:acme", "COST", "2"}).substr(0, 9), "*7\r\n:1\r\n+");
  h.run({"MULTI"});
  h.run({"CHECK", "ip:1"});
  h.run({"PING"});
  h.run({"CHECK", "partner:acme"});
  const std::string reply = h.run({"EXEC"});
  EXPECT_TRUE(reply.starts_with("*3\r\n*7\r\n:0\r\n+ABORTED\r\n$0\r\n\r\n:0\r\n")) << reply;
  EXPECT_NE(reply.find("+PONG\r\n*7\r\n:0\r\n+QUOTA\r\n$5\r\ndaily\r\n"), std::string::npos) << reply;
  EXPECT_EQ(h.remaining("ip:1"), "4");  // 5 tokens, none taken: PEEK of 1 leaves 4
  EXPECT_EQ(h.service->total(&WorkerMetrics::transactions_aborted), 1u);
  EXPECT_EQ(h.service->total_code(Code::kAborted), 1u);
}

// Verifies Redis's queueing errors: an unknown command, a wrong arity or a bad CHECK option is answered at once and
// makes EXEC answer EXECABORT without running anything; nested MULTI, DISCARD and EXEC without MULTI are errors.
TEST(Transaction, RedisErrorRules) {
  Harness h;
  EXPECT_EQ(h.run({"DISCARD"}), "-ERR DISCARD without MULTI\r\n");
  h.run({"MULTI"});
  EXPECT_EQ(h.run({"MULTI"}), "-ERR MULTI calls can not be nested\r\n");
  EXPECT_EQ(h.run({"CHECK", "ip:1"}), "+QUEUED\r\n");
  EXPECT_TRUE(h.run({"NOSUCH", "x"}).starts_with("-ERR unknown command 'NOSUCH'"));
  EXPECT_EQ(h.run({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(h.remaining("ip:1"), "4");  // the queued CHECK never ran

  for (std::vector<std::string_view> bad : {std::vector<std::string_view>{"CHECK"},
                                            std::vector<std::string_view>{"CHECK", "ip:1", "COST", "x"},
                                            std::vector<std::string_view>{"RECHARGE", "k", "1", "p"}}) {
    h.run({"MULTI"});
    h.run({"CHECK", "ip:1"});
    EXPECT_TRUE(h.run(bad).starts_with("-ERR")) << bad[0];
    EXPECT_TRUE(h.run({"EXEC"}).starts_with("-EXECABORT")) << bad[0];
  }
  EXPECT_EQ(h.remaining("ip:1"), "4");

  h.run({"MULTI"});
  h.run({"CHECK", "ip:1"});
  EXPECT_EQ(h.run({"DISCARD"}), "+OK\r\n");
  EXPECT_EQ(h.run({"EXEC"}), "-ERR EXEC without MULTI\r\n");
  EXPECT_EQ(h.remaining("ip:1"), "4");
  EXPECT_TRUE(h.run({"WATCH", "ip:1"}).starts_with("-ERR WATCH is not supported"));
  h.run({"MULTI"});
  EXPECT_EQ(h.run({"WATCH", "ip:1"}), "-ERR WATCH inside MULTI is not allowed\r\n");
  EXPECT_EQ(h.run({"UNWATCH"}), "+QUEUED\r\n");
  EXPECT_EQ(h.run({"EXEC"}), "*1\r\n+OK\r\n");  // WATCH's error did not fail the transaction
}

// Verifies the queue's bounds: one command past kMaxCommands (or kMaxBytes) is refused with a clear error and the
// transaction is discarded.
TEST(Transaction, QueueIsBounded) {
  Harness h;
  h.run({"MULTI"});
  for (size_t i = 0; i < TransactionQueue::kMaxCommands; ++i) ASSERT_EQ(h.run({"PING"}), "+QUEUED\r\n") << i;
  EXPECT_TRUE(h.run({"PING"}).starts_with("-ERR transaction too large: at most 1024 commands"));
  EXPECT_TRUE(h.run({"EXEC"}).starts_with("-EXECABORT"));
  h.run({"MULTI"});
  const std::string big(100 * 1024, 'x');
  EXPECT_EQ(h.run({"ECHO", big}), "+QUEUED\r\n");
  EXPECT_EQ(h.run({"ECHO", big}), "+QUEUED\r\n");
  EXPECT_TRUE(h.run({"ECHO", big}).starts_with("-ERR transaction too large"));
  EXPECT_TRUE(h.run({"EXEC"}).starts_with("-EXECABORT"));
  // After EXEC the queue is empty again: a small transaction runs.
  h.run({"MULTI"});
  h.run({"PING"});
  EXPECT_EQ(h.run({"EXEC"}), "*1\r\n+PONG\r\n");
}

// Verifies the same key twice in one transaction costs twice, and a denial of the second gives back the first's.
TEST(Transaction, SameKeyTwice) {
  Harness h;
  h.run({"MULTI"});
  h.run({"CHECK", "partner:acme"});
  h.run({"CHECK", "partner:acme"});
  h.run({"CHECK", "partner:acme"});
  std::string reply = h.run({"EXEC"});
  EXPECT_TRUE(reply.starts_with("*3\r\n*7\r\n:0\r\n+ABORTED\r\n")) << reply;
  EXPECT_NE(reply.find("+QUOTA"), std::string::npos);
  h.run({"MULTI"});
  h.run({"CHECK", "partner:acme"});
  h.run({"CHECK", "partner:acme"});
  reply = h.run({"EXEC"});
  EXPECT_TRUE(reply.starts_with("*2\r\n")) << reply;
  EXPECT_NE(reply.find(":1\r\n+OK\r\n$5\r\ndaily\r\n:1\r\n"), std::string::npos) << reply;
  EXPECT_NE(reply.find(":1\r\n+OK\r\n$5\r\ndaily\r\n:0\r\n"), std::string::npos) << reply;
}

// Verifies AUTH: before it only AUTH, HELLO and QUIT run; a wrong password is WRONGPASS; the right one (alone or
// with the user "default") admits; a connection admitted before a password was set keeps working.
TEST(Auth, RequirePass) {
  Harness h;
  h.service->set_password("s3cret");
  EXPECT_EQ(h.run({"PING"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(h.run({"CHECK", "ip:1"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(h.run({"MULTI"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_TRUE(h.run({"HELLO", "3"}).starts_with("-NOAUTH HELLO must be called"));
  EXPECT_EQ(h.run({"AUTH", "wrong"}), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(h.run({"AUTH", "s3cre"}), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(h.run({"AUTH", "s3cret0"}), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(h.run({"AUTH", "root", "s3cret"}), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(h.service->total(&WorkerMetrics::auth_failures), 4u);
  EXPECT_EQ(h.run({"AUTH", "default", "s3cret"}), "+OK\r\n");
  EXPECT_EQ(h.run({"PING"}), "+PONG\r\n");

  Session other;
  EXPECT_EQ(testing::run_command(*h.service, other, {"AUTH", "s3cret"}), "+OK\r\n");
  Session via_hello;
  EXPECT_TRUE(testing::run_command(*h.service, via_hello, {"HELLO", "2", "AUTH", "default", "nope"})
                  .starts_with("-WRONGPASS"));
  EXPECT_EQ(via_hello.protocol, 2);
  EXPECT_TRUE(testing::run_command(*h.service, via_hello, {"HELLO", "3", "AUTH", "default", "s3cret"})
                  .starts_with("%7\r\n"));
  EXPECT_EQ(via_hello.protocol, 3);
  EXPECT_EQ(testing::run_command(*h.service, via_hello, {"PING"}), "+PONG\r\n");
  Session quitter;
  EXPECT_EQ(testing::run_command(*h.service, quitter, {"QUIT"}), "+OK\r\n");

  Harness open;  // no password: AUTH is an error, as in Redis; every connection is admitted
  EXPECT_TRUE(open.run({"AUTH", "x"}).starts_with("-ERR AUTH <password> called without any password"));
  EXPECT_EQ(open.run({"PING"}), "+PONG\r\n");
  open.service->set_password("later");
  EXPECT_EQ(open.run({"PING"}), "+PONG\r\n");  // admitted before the password was set
  Session fresh;
  EXPECT_EQ(testing::run_command(*open.service, fresh, {"PING"}), "-NOAUTH Authentication required.\r\n");
}

// Verifies HELLO 3 switches the connection to RESP3: HELLO and CONFIG GET answer maps, nulls are `_`, and CHECK keeps
// its 7-element array; HELLO 2 switches back.
TEST(Resp3, HelloAndReplies) {
  Harness h;
  std::string hello = h.run({"HELLO", "3", "SETNAME", "gw"});
  EXPECT_TRUE(hello.starts_with("%7\r\n$6\r\nserver\r\n$8\r\ntollgate\r\n")) << hello;
  EXPECT_NE(hello.find("$5\r\nproto\r\n:3\r\n"), std::string::npos);
  EXPECT_EQ(h.session.name, "gw");
  EXPECT_TRUE(h.run({"CHECK", "ip:1"}).starts_with("*7\r\n:1\r\n+OK\r\n"));
  EXPECT_EQ(h.run({"CONFIG", "GET", "save"}), "%1\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(h.run({"CLIENT", "SETNAME", ""}), "+OK\r\n");
  EXPECT_EQ(h.run({"CLIENT", "GETNAME"}), "_\r\n");
  EXPECT_TRUE(h.run({"HELLO", "2"}).starts_with("*14\r\n"));
  EXPECT_EQ(h.run({"CLIENT", "GETNAME"}), "$-1\r\n");
  EXPECT_EQ(h.run({"CONFIG", "GET", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_TRUE(h.run({"HELLO", "4"}).starts_with("-NOPROTO"));
  EXPECT_EQ(h.session.protocol, 2);
}

// Verifies SELECT 0, CONFIG GET with globs, CLIENT SETINFO / INFO — what clients send on connect.
TEST(ConnectionCommands, WhatClientsSend) {
  Harness h;
  h.service->set_max_clients(500);
  EXPECT_EQ(h.run({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(h.run({"SELECT", "1"}), "-ERR DB index is out of range (tollgate has one database, 0)\r\n");
  EXPECT_EQ(h.run({"CONFIG", "GET", "appendonly"}), "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  EXPECT_EQ(h.run({"CONFIG", "GET", "MAXCLIENTS"}), "*2\r\n$10\r\nmaxclients\r\n$3\r\n500\r\n");
  EXPECT_EQ(h.run({"CONFIG", "GET", "*"}).substr(0, 4), "*8\r\n");
  EXPECT_EQ(h.run({"CONFIG", "GET", "save", "append*"}).substr(0, 4), "*4\r\n");
  EXPECT_EQ(h.run({"CONFIG", "GET", "nothing"}), "*0\r\n");
  EXPECT_TRUE(h.run({"CONFIG", "SET", "save", ""}).starts_with("-ERR CONFIG SET is not supported"));
  EXPECT_EQ(h.run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(h.run({"CLIENT", "SETINFO", "lib-ver", "5.0.1"}), "+OK\r\n");
  EXPECT_TRUE(h.run({"CLIENT", "SETINFO", "LIB-NAME", "a b"}).starts_with("-ERR"));
  EXPECT_TRUE(h.run({"CLIENT", "SETINFO", "COLOR", "x"}).starts_with("-ERR Unrecognized option"));
  const std::string info = h.run({"CLIENT", "INFO"});
  EXPECT_NE(info.find("lib-name=redis-py lib-ver=5.0.1"), std::string::npos) << info;
  EXPECT_NE(info.find("resp=2"), std::string::npos) << info;
  EXPECT_EQ(h.service->total(&WorkerMetrics::unknown_commands), 0u);
}

// Verifies AUTH's comparison: equal only for the exact password, whatever the lengths.
TEST(Auth, PasswordMatches) {
  Harness h;
  EXPECT_FALSE(h.service->password_matches(""));  // no password set: nothing matches
  h.service->set_password("abc");
  EXPECT_TRUE(h.service->password_matches("abc"));
  for (std::string_view wrong : std::vector<std::string_view>{"", "ab", "abd", "abcd", "ABC", std::string_view("abc\0", 4)})
    EXPECT_FALSE(h.service->password_matches(wrong)) << wrong;
}

}  // namespace
}  // namespace tollgate
