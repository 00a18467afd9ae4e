// The RedisTarget helpers that need no server: the factory's choice of kind,
// reply copies (kept past hiredis' callback by send_replicated) and node
// addresses. The targets themselves run against real servers in
// tests/integration/redis_deployments_test.cc.
#include "persist/redis/redis_target.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>

namespace tollgate::persist {
namespace {

redisReply* leaf(int type, const char* str, long long integer = 0) {
  auto* r = static_cast<redisReply*>(std::calloc(1, sizeof(redisReply)));
  r->type = type;
  r->integer = integer;
  if (str != nullptr) {
    r->len = std::strlen(str);
    r->str = static_cast<char*>(std::malloc(r->len + 1));
    std::memcpy(r->str, str, r->len + 1);
  }
  return r;
}

// Verifies a deep copy of a nested reply is equal and independent (the
// original freed first), and an error reply carries its text.
TEST(RedisTarget, CopiedRepliesOutliveTheOriginal) {
  redisReply* original = leaf(REDIS_REPLY_ARRAY, nullptr);
  original->elements = 3;
  original->element = static_cast<redisReply**>(std::calloc(3, sizeof(redisReply*)));
  original->element[0] = leaf(REDIS_REPLY_STRING, "10.0.0.5");
  original->element[1] = leaf(REDIS_REPLY_INTEGER, nullptr, 6379);
  original->element[2] = leaf(REDIS_REPLY_NIL, nullptr);
  redisReply* copy = copy_reply(original);
  freeReplyObject(original);
  ASSERT_EQ(copy->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(copy->elements, 3u);
  EXPECT_EQ(std::string(copy->element[0]->str, copy->element[0]->len), "10.0.0.5");
  EXPECT_EQ(copy->element[1]->integer, 6379);
  EXPECT_EQ(copy->element[2]->type, REDIS_REPLY_NIL);
  freeReplyObject(copy);

  redisReply* error = make_error_reply("NOREPLICAS EVAL reached 0 of 1 replicas");
  EXPECT_EQ(error->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(error->str, error->len), "NOREPLICAS EVAL reached 0 of 1 replicas");
  freeReplyObject(error);
}

// Verifies node addresses become standalone configs (IPv6 brackets removed)
// that keep the password and timeouts.
TEST(RedisTarget, NodeConfigs) {
  RedisConfig base;
  base.password = "pw";
  base.cluster.nodes = {"a:1"};
  RedisConfig c = node_config(base, "10.0.0.7:7001");
  EXPECT_EQ(c.host, "10.0.0.7");
  EXPECT_EQ(c.port, 7001);
  EXPECT_EQ(c.password, "pw");
  EXPECT_EQ(c.kind(), RedisKind::kStandalone);
  EXPECT_EQ(node_config(base, "[::1]:6380").host, "::1");
  EXPECT_EQ(node_config(base, "[::1]:6380").port, 6380);
}

// Verifies the factory picks the kind the config names, and a target that
// was never started is not ready and answers at once with null.
TEST(RedisTarget, FactoryPicksTheKind) {
  const SystemClock clock;
  RedisConfig standalone;
  standalone.socket = "/nonexistent.sock";
  RedisConfig sentinel;
  sentinel.sentinel.master = "m";
  sentinel.sentinel.nodes = {"127.0.0.1:1"};
  RedisConfig cluster;
  cluster.cluster.nodes = {"127.0.0.1:1"};
  for (const RedisConfig& config : {standalone, sentinel, cluster}) {
    auto target = RedisTarget::make(config, clock, {});
    EXPECT_EQ(target->kind(), config.kind());
    EXPECT_FALSE(target->ready());
    EXPECT_FALSE(target->ever_ready());
    int answered = 0;
    target->send("k", {"PING"}, [&](const redisReply* reply, bool current) {
      EXPECT_EQ(reply, nullptr);
      EXPECT_FALSE(current);
      ++answered;
    });
    EXPECT_EQ(answered, 1) << target->describe();
    target->close();
  }
}

}  // namespace
}  // namespace tollgate::persist
