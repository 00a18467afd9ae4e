// The cluster key-to-slot rule (persist/redis/redis_slot.h) against the
// values of the Redis Cluster specification and of a real server's
// CLUSTER KEYSLOT.
#include "persist/redis/redis_slot.h"

#include <gtest/gtest.h>

#include <set>

namespace tollgate::persist {
namespace {

// Verifies CRC16/XMODEM against the specification's check value.
TEST(RedisSlot, Crc16MatchesTheSpecification) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16_xmodem(""), 0);
  EXPECT_EQ(crc16_xmodem("A"), 0x58E5);
}

// Verifies slots against CLUSTER KEYSLOT of redis-server 7.
TEST(RedisSlot, KeySlotsMatchRedis) {
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("tollgate:k:acme"), key_slot("tollgate:k:acme"));
}

// Verifies the hash-tag rule: the first '{' up to the next '}', non-empty only.
TEST(RedisSlot, HashTags) {
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");     // up to the first '}'
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");      // only the first tag
  EXPECT_EQ(hash_tag("foo{bar"), "foo{bar");        // no closing brace
  EXPECT_EQ(hash_tag("}foo{x}"), "x");
  EXPECT_EQ(key_slot("tollgate:{acme}:ledger"), key_slot("acme"));
}

// Verifies every slot has a tag and the tag lands in it.
TEST(RedisSlot, TagForEverySlot) {
  std::set<std::string> tags;
  for (int slot = 0; slot < kClusterSlots; ++slot) {
    const std::string& tag = tag_for_slot(slot);
    ASSERT_FALSE(tag.empty()) << slot;
    ASSERT_EQ(key_slot("x{" + tag + "}y"), slot);
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), static_cast<size_t>(kClusterSlots));
}

}  // namespace
}  // namespace tollgate::persist
