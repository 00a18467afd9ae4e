#include "engine/limits/sliding_window.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "unit/engine/limits/test_words.h"

namespace tollgate {
namespace {

using testing::Words;

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;  // a slice boundary
constexpr Nanos kMs = kNanosPerMilli;

// 10 per second, 10 slices of 100 ms.
SlidingWindow ten_per_second() { return *SlidingWindow::make(10, kNanosPerSecond, 0); }

TEST(SlidingWindow, MakeValidates) {
  // Verifies limits, default and bounds of sub_buckets, and whole-ns slices.
  auto sw = SlidingWindow::make(10, kNanosPerSecond, 0);
  ASSERT_TRUE(sw.has_value());
  EXPECT_EQ(sw->words(), 10);
  EXPECT_EQ(sw->slice_length(), 100 * kMs);
  EXPECT_EQ(SlidingWindow::make(10, 3600 * kNanosPerSecond, 3600)->words(), 3600);
  EXPECT_FALSE(SlidingWindow::make(10, kNanosPerSecond, 3600).has_value());  // 277777.7 ns
  EXPECT_FALSE(SlidingWindow::make(10, kNanosPerSecond, 3601).has_value());
  EXPECT_FALSE(SlidingWindow::make(10, kNanosPerSecond, -1).has_value());
  EXPECT_FALSE(SlidingWindow::make(10, 1001, 10).has_value());  // 100.1 ns slices
  EXPECT_FALSE(SlidingWindow::make(0, kNanosPerSecond, 10).has_value());
  EXPECT_FALSE(SlidingWindow::make(0x1'0000'0000, kNanosPerSecond, 10).has_value());
  EXPECT_TRUE(SlidingWindow::make(SlidingWindow::kMaxLimit, kNanosPerSecond, 10).has_value());
  EXPECT_FALSE(SlidingWindow::make(10, 0, 1).has_value());
}

TEST(SlidingWindow, ExactSliceBoundaries) {
  // Verifies units leave the window exactly at the start of slice j+n, with
  // exact remaining / retry_after / reset_after values.
  SlidingWindow sw = ten_per_second();
  Words w(sw.words());
  sw.init(w.get(), kT0);
  LimitResult r = sw.try_charge(w.get(), 10, kT0);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset_after, kNanosPerSecond);
  EXPECT_EQ(r.recorded_at, kT0);
  LimitResult d = sw.try_charge(w.get(), 1, kT0 + kNanosPerSecond - 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 1);
  EXPECT_EQ(d.reset_after, 1);
  EXPECT_EQ(d.remaining, 0);

  LimitResult a = sw.try_charge(w.get(), 3, kT0 + kNanosPerSecond + 50 * kMs);  // slice 10
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(a.remaining, 7);
  LimitResult b = sw.try_charge(w.get(), 7, kT0 + kNanosPerSecond + 950 * kMs);  // slice 19
  ASSERT_TRUE(b.allowed);
  EXPECT_EQ(b.remaining, 0);
  EXPECT_EQ(b.reset_after, 950 * kMs);  // until slice 29 starts
  // At slice 20 the 3 of slice 10 are gone, the 7 of slice 19 stay.
  Nanos t20 = kT0 + 2 * kNanosPerSecond;
  LimitResult c = sw.peek(w.get(), 3, t20 - 1);
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.retry_after, 1);
  EXPECT_EQ(sw.peek(w.get(), 4, t20 - 1).retry_after, 900 * kMs + 1);
  EXPECT_TRUE(sw.peek(w.get(), 3, t20).allowed);
  LimitResult e = sw.peek(w.get(), 4, t20);
  EXPECT_FALSE(e.allowed);
  EXPECT_EQ(e.remaining, 3);
  EXPECT_EQ(e.retry_after, 900 * kMs);  // until slice 29 starts
  EXPECT_EQ(e.reset_after, 900 * kMs);
  LimitResult too_big = sw.peek(w.get(), 11, t20);
  EXPECT_EQ(too_big.retry_after, -1);
  EXPECT_FALSE(sw.try_charge(w.get(), 11, t20).allowed);
  EXPECT_TRUE(sw.try_charge(w.get(), 0, t20).allowed);
}

// A reference model: every admitted unit by slice index.
struct Trace {
  std::map<int64_t, int64_t> by_slice;
  int64_t window_sum(int64_t top, int n) const {
    int64_t s = 0;
    for (auto it = by_slice.lower_bound(top - n + 1); it != by_slice.end() && it->first <= top; ++it)
      s += it->second;
    return s;
  }
};

TEST(SlidingWindow, AlignedWindowsNeverExceedLimitRandomTrace) {
  // Verifies by brute force over a random trace that every window aligned to
  // slice boundaries holds at most `limit`, that single-threaded decisions
  // match the exact model, and that retry_after / reset_after are exact.
  constexpr int kN = 10;
  constexpr int64_t kLimit = 17;
  SlidingWindow sw = *SlidingWindow::make(kLimit, kNanosPerSecond, kN);
  const Nanos slice = sw.slice_length();
  Words w(kN);
  sw.init(w.get(), kT0);
  std::mt19937_64 rng(12345);
  Trace trace;
  Nanos now = kT0 + 7;
  int allowed = 0, denied = 0;
  for (int i = 0; i < 20000; ++i) {
    now += static_cast<Nanos>(rng() % (60 * kMs));
    int64_t cost = 1 + static_cast<int64_t>(rng() % 5);
    int64_t top = (now - 0) / slice;
    int64_t before = trace.window_sum(top, kN);
    LimitResult r = sw.try_charge(w.get(), cost, now);
    ASSERT_EQ(r.allowed, before + cost <= kLimit) << i;
    if (r.allowed) {
      ++allowed;
      trace.by_slice[top] += cost;
      EXPECT_EQ(r.remaining, kLimit - before - cost);
      continue;
    }
    ++denied;
    EXPECT_EQ(r.remaining, kLimit - before);
    ASSERT_GT(r.retry_after, 0);
    // Exact: denied 1 ns before retry_after, allowed at it.
    EXPECT_FALSE(sw.peek(w.get(), cost, now + r.retry_after - 1).allowed) << i;
    EXPECT_TRUE(sw.peek(w.get(), cost, now + r.retry_after).allowed) << i;
    if (r.reset_after > 0) {
      EXPECT_LT(sw.peek(w.get(), 0, now + r.reset_after - 1).remaining, kLimit);
      EXPECT_EQ(sw.peek(w.get(), 0, now + r.reset_after).remaining, kLimit);
    }
  }
  EXPECT_GT(allowed, 1000);
  EXPECT_GT(denied, 1000);
  // Brute force over every aligned window of the trace.
  int64_t first = trace.by_slice.begin()->first, last = trace.by_slice.rbegin()->first;
  for (int64_t end = first; end <= last + kN; ++end) {
    ASSERT_LE(trace.window_sum(end, kN), kLimit) << end;
  }
}

TEST(SlidingWindow, TimeGoingBackwardsCountsAgainstTheLaterSlice) {
  // Verifies a caller whose clock is behind the state (by less than
  // max(window, 1 s): another thread's clock) is counted in the state's
  // newest slice, so no window gets more than `limit`. (Farther behind is a
  // clock step's: engine/clock_step_test.cc.)
  SlidingWindow sw = ten_per_second();
  Words w(sw.words());
  sw.init(w.get(), kT0);
  Nanos later = kT0 + 800 * kMs + 30 * kMs;
  ASSERT_TRUE(sw.try_charge(w.get(), 6, later).allowed);
  LimitResult back = sw.try_charge(w.get(), 4, kT0);
  ASSERT_TRUE(back.allowed);
  EXPECT_EQ(back.remaining, 0);
  EXPECT_EQ(back.recorded_at, kT0 + 800 * kMs);  // start of the later slice
  EXPECT_FALSE(sw.try_charge(w.get(), 1, kT0).allowed);
  EXPECT_FALSE(sw.try_charge(w.get(), 1, later).allowed);
  // The rollback of that charge finds it where it was counted.
  sw.refund(w.get(), 4, back.recorded_at, kT0);
  EXPECT_EQ(sw.peek(w.get(), 0, later).remaining, 4);
  // Everything expires one window after the later slice.
  EXPECT_EQ(sw.peek(w.get(), 0, kT0 + 1800 * kMs - 1).remaining, 4);
  EXPECT_EQ(sw.peek(w.get(), 0, kT0 + 1800 * kMs).remaining, 10);
}

TEST(SlidingWindow, Refund) {
  // Verifies a refund returns units to their slice, never below zero, and
  // does nothing once the slice's slot has been reused.
  SlidingWindow sw = ten_per_second();
  Words w(sw.words());
  sw.init(w.get(), kT0);
  LimitResult r = sw.try_charge(w.get(), 10, kT0 + 5);
  ASSERT_TRUE(r.allowed);
  sw.refund(w.get(), 4, r.recorded_at, kT0 + 5);
  EXPECT_EQ(sw.peek(w.get(), 0, kT0 + 5).remaining, 4);
  sw.refund(w.get(), 100, r.recorded_at, kT0 + 5);
  EXPECT_EQ(sw.peek(w.get(), 0, kT0 + 5).remaining, 10);
  // Slot reused one window later: an old refund must not touch new units.
  LimitResult old = sw.try_charge(w.get(), 5, kT0);
  ASSERT_TRUE(old.allowed);
  ASSERT_TRUE(sw.try_charge(w.get(), 10, kT0 + kNanosPerSecond).allowed);
  sw.refund(w.get(), 5, old.recorded_at, kT0 + kNanosPerSecond);
  EXPECT_EQ(sw.peek(w.get(), 0, kT0 + kNanosPerSecond).remaining, 0);
}

TEST(SlidingWindow, SealOnlyAtRest) {
  // Verifies sealing needs every slot empty or expired, and a sealed state
  // rejects charges, peeks and refunds without changing.
  SlidingWindow sw = ten_per_second();
  Words w(sw.words());
  sw.init(w.get(), kT0);
  EXPECT_TRUE(sw.try_seal(w.get(), kT0));
  EXPECT_TRUE(sw.try_charge(w.get(), 1, kT0).sealed);
  EXPECT_TRUE(sw.peek(w.get(), 1, kT0).sealed);
  EXPECT_FALSE(sw.try_seal(w.get(), kT0));

  sw.init(w.get(), kT0);
  ASSERT_TRUE(sw.try_charge(w.get(), 1, kT0 + 350 * kMs).allowed);  // slot 3
  EXPECT_FALSE(sw.try_seal(w.get(), kT0 + 350 * kMs));
  EXPECT_FALSE(sw.try_seal(w.get(), kT0 + 1300 * kMs - 1));
  EXPECT_FALSE(sw.try_seal(w.get(), kT0));  // units ahead of the caller's clock
  EXPECT_TRUE(sw.try_seal(w.get(), kT0 + 1300 * kMs));
  std::vector<uint64_t> sealed_state;
  for (int i = 0; i < w.size(); ++i) sealed_state.push_back(w[i].load());
  EXPECT_EQ(sealed_state[0], SlidingWindow::kSealed);
  EXPECT_TRUE(sw.try_charge(w.get(), 1, kT0 + 5 * kNanosPerSecond).sealed);
  sw.refund(w.get(), 1, kT0 + 350 * kMs, kT0 + 5 * kNanosPerSecond);
  sw.reset(w.get(), kT0 + 5 * kNanosPerSecond);
  for (int i = 0; i < w.size(); ++i) EXPECT_EQ(w[i].load(), sealed_state[i]) << i;
}

TEST(SlidingWindow, ResetEmptiesTheWindow) {
  // Verifies admin reset frees the whole limit and leaves the state at rest.
  SlidingWindow sw = ten_per_second();
  Words w(sw.words());
  sw.init(w.get(), kT0);
  ASSERT_TRUE(sw.try_charge(w.get(), 4, kT0).allowed);
  ASSERT_TRUE(sw.try_charge(w.get(), 6, kT0 + 500 * kMs).allowed);
  sw.reset(w.get(), kT0 + 500 * kMs);
  EXPECT_EQ(sw.peek(w.get(), 0, kT0 + 500 * kMs).remaining, 10);
  EXPECT_TRUE(sw.try_charge(w.get(), 10, kT0 + 500 * kMs).allowed);
}

TEST(SlidingWindow, OneSliceIsAFixedWindow) {
  // Verifies sub_buckets = 1 behaves as a fixed window, and negative instants work.
  SlidingWindow sw = *SlidingWindow::make(2, kNanosPerSecond, 1);
  Words w(1);
  Nanos t = -5 * kNanosPerSecond + 10;
  sw.init(w.get(), t);
  EXPECT_TRUE(sw.try_charge(w.get(), 2, t).allowed);
  LimitResult d = sw.try_charge(w.get(), 1, t);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kNanosPerSecond - 10);
  EXPECT_TRUE(sw.try_charge(w.get(), 2, -4 * kNanosPerSecond).allowed);
}

}  // namespace
}  // namespace tollgate
