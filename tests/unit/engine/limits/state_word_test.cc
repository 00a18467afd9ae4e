// Each limiter's decode_word/encode_word (what persistence reads a state word
// as, instead of knowing the layout): the words a limiter really writes when
// it charges and seals decode to what was charged, and encode_word is
// decode_word's inverse.
#include <gtest/gtest.h>

#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"
#include "unit/engine/limits/test_words.h"

namespace tollgate {
namespace {

using testing::Words;

constexpr Nanos kSec = kNanosPerSecond;
constexpr Nanos kNow = 1'700'000'000 * kSec;

// Verifies a charged bucket's word decodes to its TAT (cost × emission
// interval ahead of now), a sealed one to sealed, and the TAT round-trips.
TEST(StateWord, TokenBucketDecodesItsTat) {
  auto bucket = *TokenBucket::make(10, kSec, 5);  // T = 100 ms
  Words w(1);
  bucket.init(w.get(), kNow);
  ASSERT_TRUE(bucket.try_charge(w.get(), 2, kNow).allowed);
  const TokenBucket::Word charged = TokenBucket::decode_word(w[0].load());
  EXPECT_FALSE(charged.sealed);
  EXPECT_EQ(charged.tat, kNow + 2 * kSec / 10);
  EXPECT_EQ(TokenBucket::encode_word(charged.tat), w[0].load());

  ASSERT_TRUE(bucket.try_seal(w.get(), kNow + kSec));  // full again
  EXPECT_TRUE(TokenBucket::decode_word(w[0].load()).sealed);
}

// Verifies a quota's word decodes to the units counted in the current
// period, that a later period has another id, and that sealed decodes as such.
TEST(StateWord, QuotaDecodesPeriodAndCount) {
  auto quota = *Quota::make(100, Period::kDay, "UTC");
  Words w(1);
  quota.init(w.get(), kNow);
  ASSERT_TRUE(quota.try_charge(w.get(), 3, kNow).allowed);
  ASSERT_TRUE(quota.try_charge(w.get(), 4, kNow).allowed);
  const Quota::Word today = Quota::decode_word(w[0].load());
  EXPECT_FALSE(today.sealed);
  EXPECT_EQ(today.count, 7);
  EXPECT_EQ(Quota::encode_word(today.period_id, today.count), w[0].load());

  ASSERT_TRUE(quota.try_charge(w.get(), 1, kNow + 24 * 3600 * kSec).allowed);
  const Quota::Word tomorrow = Quota::decode_word(w[0].load());
  EXPECT_NE(tomorrow.period_id, today.period_id);
  EXPECT_EQ(tomorrow.count, 1);

  Words idle(1);
  quota.init(idle.get(), kNow);
  ASSERT_TRUE(quota.try_seal(idle.get(), kNow));
  EXPECT_TRUE(Quota::decode_word(idle[0].load()).sealed);
}

// Verifies a window's slots decode to the units of their slices (their sum
// is what was charged, all in one window number), and sealed slot 0.
TEST(StateWord, SlidingWindowSlotsDecodeToTheirSlices) {
  auto window = *SlidingWindow::make(100, 10 * kSec, 10);
  Words w(window.words());
  window.init(w.get(), kNow);
  ASSERT_TRUE(window.try_charge(w.get(), 4, kNow).allowed);
  ASSERT_TRUE(window.try_charge(w.get(), 5, kNow + kSec).allowed);  // the next slice
  int64_t sum = 0;
  int used = 0;
  for (int i = 0; i < w.size(); ++i) {
    const SlidingWindow::SlotWord slot = SlidingWindow::decode_word(w[i].load());
    EXPECT_FALSE(slot.sealed);
    EXPECT_EQ(SlidingWindow::encode_word(slot.window, slot.count), w[i].load());
    sum += slot.count;
    used += slot.count > 0 ? 1 : 0;
  }
  EXPECT_EQ(sum, 9);
  EXPECT_EQ(used, 2);

  Words idle(window.words());
  window.init(idle.get(), kNow);
  ASSERT_TRUE(window.try_seal(idle.get(), kNow));
  EXPECT_TRUE(SlidingWindow::decode_word(idle[0].load()).sealed);
}

}  // namespace
}  // namespace tollgate
