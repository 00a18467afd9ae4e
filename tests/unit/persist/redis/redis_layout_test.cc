// The Redis store's pure logic: key names, deltas between two observations
// of a limit's words, coalescing, TAT advances, and words rebuilt from fields.
#include "persist/redis/redis_layout.h"
#include "persist/redis/redis_slot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"

namespace tollgate::persist {
namespace {

constexpr Nanos kNow = 1'795'000'000 * kNanosPerSecond;

uint64_t quota_word(uint64_t id, uint64_t count) { return id << Quota::kCountBits | count; }
uint64_t window_word(uint64_t window, uint64_t count) { return window << 32 | count; }

std::vector<FieldDelta> deltas(LimitType type, std::vector<uint64_t> before, std::vector<uint64_t> after) {
  std::vector<FieldDelta> out;
  limit_deltas(type, "daily", before, after, 0, out);
  return out;
}

// Verifies key names carry the prefix and glob characters are escaped for SCAN.
TEST(RedisLayout, KeyNames) {
  RedisKeys keys("tg*:");
  EXPECT_EQ(keys.counters("acme"), "tg*:k:acme");
  EXPECT_EQ(keys.lots("acme"), "tg*:lots:acme");
  EXPECT_EQ(keys.applied(3), "tg*:applied:3");
  EXPECT_EQ(keys.counters_pattern(), "tg\\*:k:*");
  EXPECT_EQ(keys.lots_pattern(), "tg\\*:lots:*");
}

// Verifies a monitor action's field: one per contract and target, every
// name written after its length, so names holding the separators never
// collide, and the hash sits with the other admin state.
TEST(RedisLayout, ActionFieldIsOnePerTargetAndUnambiguous) {
  EXPECT_EQ(RedisKeys("p:").actions(), "p:actions");
  EXPECT_EQ(RedisKeys("p:", true).actions(), "p:{g}actions");
  EXPECT_EQ(RedisKeys::action_field("acme", 1, "vol", "web", ""), "4:acme|1|3:vol|3:web|0:");
  EXPECT_EQ(RedisKeys::action_field("acme", 4, "m", "", "daily"), "4:acme|4|1:m|0:|5:daily");
  EXPECT_NE(RedisKeys::action_field("a|1|1:b", 1, "c", "", ""), RedisKeys::action_field("a", 1, "b|1|1:c", "", ""));
  EXPECT_NE(RedisKeys::action_field("acme", 1, "vol", "web", ""), RedisKeys::action_field("acme", 3, "vol", "web", ""));
}

// Verifies the cluster layout: every money key shares one hash tag (one slot,
// so each admin script is single-slot), counters keep their names, and a
// run's applied mark per slot lands in that slot.
TEST(RedisLayout, ClusterKeyNamesShareOneSlot) {
  RedisKeys keys("tollgate:", true);
  const int slot = key_slot(keys.ledger());
  for (const std::string& k : {keys.lots("acme"), keys.wallets(), keys.status(), keys.payments(), keys.payment_lots(),
                               keys.ledger_seq(), keys.lot_seq(), keys.runs()})
    EXPECT_EQ(key_slot(k), slot) << k;
  EXPECT_EQ(keys.ledger(), "tollgate:{g}ledger");
  EXPECT_EQ(keys.counters("acme"), "tollgate:k:acme");
  EXPECT_EQ(keys.lots_pattern(), "tollgate:{g}lots:*");
  for (int s : {0, 777, 16383}) EXPECT_EQ(key_slot(keys.applied(9, s)), s);
}

// Verifies a quota's delta within one period is the unit difference (a
// refund makes it negative), and nothing changes gives nothing.
TEST(RedisLayout, QuotaDeltaWithinAPeriod) {
  auto d = deltas(LimitType::kQuota, {quota_word(100, 5)}, {quota_word(100, 12)});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].op, FieldDelta::Op::kIncr);
  EXPECT_EQ(d[0].field, "daily|q|100");
  EXPECT_EQ(d[0].value, 7);
  d = deltas(LimitType::kQuota, {quota_word(100, 12)}, {quota_word(100, 10)});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].value, -2);
  EXPECT_TRUE(deltas(LimitType::kQuota, {quota_word(100, 12)}, {quota_word(100, 12)}).empty());
}

// Verifies a new period sends its whole count and prunes older periods; a
// never-flushed key (zero baseline) sends its count; sealed words send nothing.
TEST(RedisLayout, QuotaDeltaAcrossPeriods) {
  auto d = deltas(LimitType::kQuota, {quota_word(100, 50)}, {quota_word(160, 3)});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].field, "daily|q|160");
  EXPECT_EQ(d[0].value, 3);
  EXPECT_EQ(d[1].op, FieldDelta::Op::kPrune);
  EXPECT_EQ(d[1].field, "daily|q|");
  EXPECT_EQ(d[1].value, 160);
  d = deltas(LimitType::kQuota, {0}, {quota_word(160, 4)});
  ASSERT_EQ(d.size(), 1u) << "a never-flushed key has nothing to prune";
  EXPECT_EQ(d[0].value, 4);
  EXPECT_TRUE(deltas(LimitType::kQuota, {quota_word(100, 50)}, {quota_word(160, 0)}).empty());
  EXPECT_TRUE(deltas(LimitType::kQuota, {quota_word(100, 50)}, {Quota::kSealed}).empty());
}

// Verifies sliding-window deltas are per slice: same window → difference,
// a slot now holding a newer window → its whole count, plus a prune.
TEST(RedisLayout, WindowDeltasPerSlice) {
  auto d =
      deltas(LimitType::kSlidingWindow, {window_word(7, 2), window_word(7, 1)}, {window_word(7, 5), window_word(8, 4)});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].field, "daily|w|7|0");
  EXPECT_EQ(d[0].value, 3);
  EXPECT_EQ(d[1].field, "daily|w|8|1");
  EXPECT_EQ(d[1].value, 4);
  EXPECT_EQ(d[2].op, FieldDelta::Op::kPrune);
  EXPECT_EQ(d[2].value, 7);
  EXPECT_TRUE(deltas(LimitType::kSlidingWindow, {window_word(7, 2)}, {SlidingWindow::kSealed}).empty());
}

// Verifies the TAT advance: for one daemon Redis ends at exactly its TAT,
// whether or not the bucket drained in between; a full bucket sends nothing.
TEST(RedisLayout, TatAdvanceIsExactForOneDaemon) {
  const int64_t now = 1'000'000;
  // Redis holds base; Redis' result is max(base, now) + advance.
  for (int64_t base : {now - 500, now + 300}) {
    const int64_t tat = now + 800;
    const int64_t advance = tat_advance(base, tat, now);
    EXPECT_EQ(std::max(base, now) + advance, tat) << base;
  }
  EXPECT_EQ(tat_advance(now - 10, now - 5, now), 0) << "a full bucket";
  // Two daemons each debiting 100 µs of a bucket at `now`: Redis holds both debts.
  const int64_t stored = std::max<int64_t>(0, now) + tat_advance(0, now + 100, now);
  EXPECT_EQ(std::max(stored, now) + tat_advance(0, now + 100, now), now + 200);
}

// Verifies a token bucket's delta carries its TAT in µs (rounded up) and the
// baseline it starts from; a sealed word sends nothing.
TEST(RedisLayout, TokenBucketDelta) {
  auto d = deltas(LimitType::kTokenBucket, {5'000}, {9'001});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].op, FieldDelta::Op::kTat);
  EXPECT_EQ(d[0].field, "daily|t");
  EXPECT_EQ(d[0].value, 10);
  EXPECT_EQ(d[0].tat_base, 5);
  EXPECT_TRUE(deltas(LimitType::kTokenBucket, {5'000}, {TokenBucket::kSealed}).empty());
  std::vector<FieldDelta> full;
  limit_deltas(LimitType::kTokenBucket, "b", std::vector<uint64_t>{0}, std::vector<uint64_t>{9'000}, 10'000, full);
  EXPECT_TRUE(full.empty()) << "a bucket full at now (TAT <= now) has nothing for Redis";
}

// Verifies coalescing keeps one pending delta per field: increments add up,
// a TAT keeps the base Redis has and takes the newest TAT, a prune the highest bound.
TEST(RedisLayout, Coalesce) {
  FieldDelta incr{FieldDelta::Op::kIncr, "f", 3, 0};
  coalesce(incr, FieldDelta{FieldDelta::Op::kIncr, "f", -1, 0});
  EXPECT_EQ(incr.value, 2);
  FieldDelta tat{FieldDelta::Op::kTat, "t", 100, 40};
  coalesce(tat, FieldDelta{FieldDelta::Op::kTat, "t", 150, 100});
  EXPECT_EQ(tat.value, 150);
  EXPECT_EQ(tat.tat_base, 40);
  FieldDelta prune{FieldDelta::Op::kPrune, "p", 7, 0};
  coalesce(prune, FieldDelta{FieldDelta::Op::kPrune, "p", 5, 0});
  EXPECT_EQ(prune.value, 7);
}

// Verifies words rebuilt from a counters hash: the newest quota period, the
// newest window per slot (counts clamped), TAT µs → ns, nothing → nullopt.
TEST(RedisLayout, WordsFromFields) {
  std::unordered_map<std::string, int64_t> fields{{"daily|q|100", 9}, {"daily|q|160", 4},  {"daily|w|7|0", 2},
                                                  {"daily|w|8|0", 6}, {"daily|w|8|1", -3}, {"daily|w|9|5", 1},
                                                  {"daily|t", 12345}, {"other|q|999", 1}};
  auto q = limit_words(LimitType::kQuota, "daily", fields, std::vector<uint64_t>{0});
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)[0], quota_word(160, 4));
  auto w = limit_words(LimitType::kSlidingWindow, "daily", fields, std::vector<uint64_t>{11, 22});
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)[0], window_word(8, 6));
  EXPECT_EQ((*w)[1], window_word(8, 0)) << "negative counts clamp to 0; slot 5 is out of range";
  auto t = limit_words(LimitType::kTokenBucket, "daily", fields, std::vector<uint64_t>{0});
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)[0], 12'345'000u);
  EXPECT_FALSE(limit_words(LimitType::kQuota, "missing", fields, std::vector<uint64_t>{0}));
}

// Verifies a quota's words survive the round trip through Redis fields:
// deltas of a fresh key, applied as HINCRBY, rebuild the same word.
TEST(RedisLayout, QuotaRoundTrip) {
  auto q = Quota::make(1000, Period::kDay, "UTC");
  ASSERT_TRUE(q);
  std::atomic<uint64_t> word{0};
  q->init(&word, kNow);
  const uint64_t fresh = word.load();
  ASSERT_TRUE(q->try_charge(&word, 7, kNow).allowed);
  std::vector<FieldDelta> out;
  limit_deltas(LimitType::kQuota, "daily", std::vector<uint64_t>{fresh}, std::vector<uint64_t>{word.load()}, kNow, out);
  std::unordered_map<std::string, int64_t> redis;
  for (const auto& d : out)
    if (d.op == FieldDelta::Op::kIncr) redis[d.field] += d.value;
  auto rebuilt = limit_words(LimitType::kQuota, "daily", redis, std::vector<uint64_t>{fresh});
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ((*rebuilt)[0], word.load());
}

// Verifies counters hashes live as long as their state matters.
TEST(RedisLayout, CountersTtl) {
  LimitSpec bucket;
  bucket.type = LimitType::kTokenBucket;
  bucket.rate = 10;
  bucket.per = kNanosPerSecond;
  bucket.burst = 100;
  EXPECT_EQ(counters_ttl_ms(bucket), 10'000 + 60'000);
  LimitSpec window;
  window.type = LimitType::kSlidingWindow;
  window.limit = 5;
  window.window = 60 * kNanosPerSecond;
  EXPECT_EQ(counters_ttl_ms(window), 120'000 + 60'000);
  LimitSpec quota;
  quota.type = LimitType::kQuota;
  EXPECT_GE(counters_ttl_ms(quota), 31LL * 24 * 3600 * 1000);
}

}  // namespace
}  // namespace tollgate::persist
