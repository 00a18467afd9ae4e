// A wall clock stepped forward by mistake (30 days) and then corrected must
// not lock keys out for 30 days, and a step backwards alone must not create
// capacity. For each limit type: use the key at the wrong time, step back,
// and check it is usable again within one refill / window / period; then
// the backward step alone. Time is simulated; PEEK is compared with CHECK
// in the stepped states (it must see the state as CHECK will).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/dedup_table.h"
#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kDay = 86400 * kNanosPerSecond;
// 2023-11-14T12:00:00Z: noon, so a quota day has 12 h left.
constexpr Nanos kNoon = (1'699'963'200) * kNanosPerSecond;
constexpr Nanos kStep = 30 * kDay;

LimitSpec limit(std::string name, LimitType type) {
  LimitSpec s;
  s.name = std::move(name);
  s.type = type;
  return s;
}

class ClockStep : public ::testing::Test {
 protected:
  void build(std::vector<LimitSpec> limits, std::vector<ConcurrencyLimit> concurrency = {}) {
    PolicySpec p;
    p.name = "c";
    p.limits = std::move(limits);
    p.rules = ContractRules{};
    p.rules->concurrency = std::move(concurrency);
    EngineOptions o;
    o.timezone = "UTC";
    o.contracts.push_back(p);
    auto e = Engine::create(o, reclaimer_, now_, state_);
    ASSERT_TRUE(e.has_value()) << e.error().front();
    engine_ = std::move(*e);
  }
  // CHECK at now_, after checking that PEEK answers the same.
  Decision check(std::string_view id = {}, int64_t hold_ms = -1, std::string_view subject = {}) {
    CheckRequest r;
    r.key = "c";
    r.id = id;
    r.hold_ms = hold_ms;
    r.subject = subject;
    const Decision p = engine_->peek(r, now_);
    const Decision d = engine_->check(r, now_, 0);
    EXPECT_EQ(p.allowed, d.allowed);
    EXPECT_EQ(p.code, d.code);
    EXPECT_EQ(p.remaining, d.remaining);
    EXPECT_EQ(p.retry_after_ms, d.retry_after_ms);
    EXPECT_EQ(p.reset_after_ms, d.reset_after_ms);
    return d;
  }
  int admit_all(int at_most) {
    int n = 0;
    while (n < at_most && check().allowed) ++n;
    return n;
  }

  Reclaimer reclaimer_;
  RuntimeState state_;
  Nanos now_ = kNoon;
  std::unique_ptr<Engine> engine_;
};

// Verifies a token bucket drained at +30 days is usable again one refill
// after the clock is corrected (not 30 days later), and that the correction
// itself admits nothing extra.
TEST_F(ClockStep, TokenBucketForwardThenBack) {
  LimitSpec b = limit("burst", LimitType::kTokenBucket);
  b.rate = 10;
  b.per = kNanosPerSecond;
  b.burst = 10;  // T = 100 ms, a full refill takes 1 s
  build({b});
  now_ = kNoon + kStep;
  EXPECT_EQ(admit_all(20), 10);
  now_ = kNoon + kNanosPerSecond;  // corrected
  Decision d = check();
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_LE(d.retry_after_ms, 1000);  // at most one full refill, not 30 days
  now_ += 999 * kNanosPerMilli;
  EXPECT_EQ(admit_all(20), 9);  // 999 ms of refill: 9 units, nothing more
  now_ += kNanosPerSecond;
  EXPECT_EQ(admit_all(20), 10);
}

// Verifies a step back alone creates no capacity: a drained bucket stays
// drained, a full one stays at most full, and over the next second no more
// is admitted than one refill.
TEST_F(ClockStep, TokenBucketBackwardCreatesNothing) {
  LimitSpec b = limit("burst", LimitType::kTokenBucket);
  b.rate = 10;
  b.per = kNanosPerSecond;
  b.burst = 10;
  build({b});
  EXPECT_EQ(admit_all(20), 10);
  now_ -= kStep;
  EXPECT_EQ(admit_all(20), 0);
  now_ += 500 * kNanosPerMilli;
  int admitted = admit_all(20);
  now_ += 500 * kNanosPerMilli;
  admitted += admit_all(20);
  EXPECT_LE(admitted, 10);  // one refill's worth in a second, as without the step
  // A small step back (within burst × T) is plain GCRA: no capacity either.
  now_ -= 300 * kNanosPerMilli;
  EXPECT_EQ(admit_all(20), 0);
}

// Verifies a sliding window filled at +30 days keeps its count for the
// current window after the correction (no capacity) and is usable again
// within one window.
TEST_F(ClockStep, SlidingWindowForwardThenBack) {
  LimitSpec w = limit("minute", LimitType::kSlidingWindow);
  w.limit = 5;
  w.window = 60 * kNanosPerSecond;
  w.sub_buckets = 6;
  build({w});
  now_ = kNoon + kStep;
  EXPECT_EQ(admit_all(10), 5);
  now_ = kNoon + kNanosPerSecond;
  Decision d = check();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kWindow);
  EXPECT_LE(d.retry_after_ms, 70'000);
  EXPECT_EQ(admit_all(10), 0);
  now_ += 30 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 0);  // the units stay for the current window
  now_ += 40 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 5);
}

// Verifies a step back alone keeps a full window full for a window, and a
// small step (a slice) counts as skew: no capacity either.
TEST_F(ClockStep, SlidingWindowBackwardCreatesNothing) {
  LimitSpec w = limit("minute", LimitType::kSlidingWindow);
  w.limit = 5;
  w.window = 60 * kNanosPerSecond;
  w.sub_buckets = 6;
  build({w});
  EXPECT_EQ(admit_all(10), 5);
  now_ -= kStep;
  EXPECT_EQ(admit_all(10), 0);
  now_ += 50 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 0);
  now_ += 20 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 5);  // a window later, as without the step
  now_ -= 10 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 0);
}

// Verifies a quota used up at +30 days keeps its count for the rest of the
// current (wall-clock) day and starts fresh at the next day, not 30 days on.
TEST_F(ClockStep, QuotaForwardThenBack) {
  LimitSpec q = limit("daily", LimitType::kQuota);
  q.limit = 5;
  q.period = Period::kDay;
  build({q});
  EXPECT_EQ(admit_all(2), 2);
  now_ = kNoon + kStep;
  EXPECT_EQ(admit_all(10), 5);
  now_ = kNoon + kNanosPerSecond;
  Decision d = check();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kQuota);
  EXPECT_LE(d.retry_after_ms, 12 * 3600 * 1000);  // the current day's end
  now_ += 6 * 3600 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 0);  // count kept within the current period
  now_ = kNoon + 12 * 3600 * kNanosPerSecond;  // next midnight
  EXPECT_EQ(admit_all(10), 5);
}

// Verifies a step back into an earlier day keeps counting what was used
// (no fresh quota within the current period); the next boundary of the
// wall clock starts a period as usual.
TEST_F(ClockStep, QuotaBackwardCreatesNothing) {
  LimitSpec q = limit("daily", LimitType::kQuota);
  q.limit = 5;
  q.period = Period::kDay;
  build({q});
  EXPECT_EQ(admit_all(10), 5);
  now_ -= 2 * kDay;
  EXPECT_EQ(admit_all(10), 0);
  now_ += 6 * 3600 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 0);
  now_ = kNoon - 2 * kDay + 12 * 3600 * kNanosPerSecond;
  EXPECT_EQ(admit_all(10), 5);
}

// Verifies a distinct-subject set filled at +30 days is taken over for the
// current day after the correction (members and count kept: a seen subject
// works, a new one is still denied) and empties at the next day, not in 30.
TEST_F(ClockStep, DistinctSubjectsForwardThenBack) {
  LimitSpec d = limit("users", LimitType::kDistinctSubjects);
  d.limit = 2;
  d.period = Period::kDay;
  build({d});
  now_ = kNoon + kStep;
  EXPECT_TRUE(check({}, -1, "a").allowed);
  EXPECT_TRUE(check({}, -1, "b").allowed);
  EXPECT_EQ(check({}, -1, "c").code, Code::kSubjects);
  now_ = kNoon + kNanosPerSecond;
  Decision denied = check({}, -1, "c");
  EXPECT_EQ(denied.code, Code::kSubjects);
  EXPECT_LE(denied.retry_after_ms, 12 * 3600 * 1000);  // the current day's end
  EXPECT_TRUE(check({}, -1, "a").allowed);
  now_ = kNoon + 12 * 3600 * kNanosPerSecond;  // next midnight
  EXPECT_TRUE(check({}, -1, "c").allowed);
  EXPECT_TRUE(check({}, -1, "d").allowed);
  EXPECT_EQ(check({}, -1, "e").code, Code::kSubjects);
}

// Verifies a step back alone keeps the set's members counted (no new room).
TEST_F(ClockStep, DistinctSubjectsBackwardCreatesNothing) {
  LimitSpec d = limit("users", LimitType::kDistinctSubjects);
  d.limit = 2;
  d.period = Period::kDay;
  build({d});
  EXPECT_TRUE(check({}, -1, "a").allowed);
  EXPECT_TRUE(check({}, -1, "b").allowed);
  now_ -= 2 * kDay;
  EXPECT_EQ(check({}, -1, "c").code, Code::kSubjects);
  EXPECT_TRUE(check({}, -1, "b").allowed);
}

// Verifies a hold made at +30 days does not pin its concurrency slot after
// the correction: it is due at once (by its hold_timeout) instead of in 30 days.
TEST_F(ClockStep, HoldMadeInTheFutureIsDueAfterTheCorrection) {
  build({}, {{"inflight", 1, false}});
  now_ = kNoon + kStep;
  EXPECT_TRUE(check("h1", 10'000).allowed);
  EXPECT_EQ(check().code, Code::kConcurrency);
  now_ = kNoon + kNanosPerSecond;
  EXPECT_EQ(check().code, Code::kConcurrency);
  EXPECT_EQ(engine_->next_hold_expiry(0, now_), now_);
  EXPECT_EQ(engine_->expire_holds(0, now_), 1u);
  EXPECT_TRUE(check().allowed);
  // A legitimate hold is not touched: due at its own expiry.
  EXPECT_TRUE(check("h2", 10'000).allowed);
  EXPECT_EQ(engine_->next_hold_expiry(0, now_), now_ + 10 * kNanosPerSecond);
  EXPECT_EQ(engine_->expire_holds(0, now_), 0u);
  // A step back alone (within a hold's span) keeps the hold open.
  now_ -= 3600 * kNanosPerSecond;
  EXPECT_EQ(engine_->expire_holds(0, now_), 0u);
  EXPECT_EQ(check().code, Code::kConcurrency);
}

// Verifies remembered IDs written at +30 days do not pin dedup slots after
// the correction (new IDs take them without early evictions), while such an
// ID, retried, still replays; a step back alone keeps replaying.
TEST_F(ClockStep, DedupRecordsFromTheFutureFreeTheirSlots) {
  constexpr Nanos kWindow = 600 * kNanosPerSecond;
  DedupTable table(DedupTable::kProbe, kWindow);  // one probe window: every ID competes
  DedupTable::Stored reply{1, 2, 3, -1};
  const Nanos wrong = kNoon + kStep;
  for (uint64_t h = 1; h <= DedupTable::kProbe; ++h) {
    auto c = table.begin(h * 0x9E3779B97F4A7C15ull, wrong);
    ASSERT_EQ(c.result, DedupTable::Lookup::kClaimed);
    table.finish(c.slot, h * 0x9E3779B97F4A7C15ull, true, reply, wrong);
  }
  EXPECT_EQ(table.begin(1 * 0x9E3779B97F4A7C15ull, kNoon).result, DedupTable::Lookup::kReplay);
  for (uint64_t h = 100; h < 100 + DedupTable::kProbe - 1; ++h) {
    auto c = table.begin(h * 0x9E3779B97F4A7C15ull, kNoon);
    ASSERT_EQ(c.result, DedupTable::Lookup::kClaimed);
    table.finish(c.slot, h * 0x9E3779B97F4A7C15ull, true, reply, kNoon);
  }
  EXPECT_EQ(table.early_evictions(), 0u);
  // Records made now are not taken for the step's: a step back of less
  // than a window leaves them live.
  EXPECT_EQ(table.begin(100 * 0x9E3779B97F4A7C15ull, kNoon - 60 * kNanosPerSecond).result,
            DedupTable::Lookup::kReplay);
}

}  // namespace
}  // namespace tollgate
