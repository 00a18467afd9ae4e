#include "net/output_barriers.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tollgate {
namespace {

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;

TEST(OutputBarriers, EmptyWritesEverything) {
  // Verifies no barrier means every byte is writable and nothing is pending.
  OutputBarriers b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.writable(123, kT0), 123u);
  EXPECT_EQ(b.next_release(), OutputBarriers::kNone);
  EXPECT_EQ(b.held(123), 0u);
}

TEST(OutputBarriers, HoldsBytesUntilTheInstant) {
  // Verifies bytes before a barrier go out, bytes from it on wait until
  // release_at (not a nanosecond earlier), then all go out.
  OutputBarriers b;
  b.mark(10, kT0 + 100);
  EXPECT_EQ(b.next_release(), kT0 + 100);
  EXPECT_EQ(b.writable(30, kT0), 10u);
  EXPECT_EQ(b.held(30), 20u);
  b.consumed(10);
  EXPECT_EQ(b.writable(20, kT0 + 99), 0u);
  EXPECT_EQ(b.writable(20, kT0 + 100), 20u);
  EXPECT_TRUE(b.empty());
}

TEST(OutputBarriers, LaterRepliesQueueBehindInOrder) {
  // Verifies successive barriers release in order, each exposing exactly the
  // bytes up to the next pending one, with offsets shifting as bytes leave.
  OutputBarriers b;
  b.mark(0, kT0 + 10);   // reply A (delayed) at [0, 5)
  b.mark(5, kT0 + 20);   // reply B (delayed more) at [5, 9)
  // reply C (not delayed) at [9, 12) waits behind B
  EXPECT_EQ(b.writable(12, kT0), 0u);
  EXPECT_EQ(b.writable(12, kT0 + 10), 5u);
  EXPECT_EQ(b.next_release(), kT0 + 20);
  b.consumed(3);  // a partial write of A
  EXPECT_EQ(b.writable(9, kT0 + 15), 2u);
  b.consumed(2);
  EXPECT_EQ(b.writable(7, kT0 + 15), 0u);
  EXPECT_EQ(b.writable(7, kT0 + 20), 7u);
  EXPECT_TRUE(b.empty());
}

TEST(OutputBarriers, CommitTicketsHoldUntilDurable) {
  // Verifies a reply waiting for a commit ticket goes out only once that
  // ticket is durable, whatever the time; the time dimension still applies
  // to barriers behind it; a lower ticket behind a higher one adds nothing.
  OutputBarriers b;
  b.mark(4, 0, 7);         // reply at [4, 8) needs ticket 7
  b.mark(8, 0, 6);         // absorbed: released with ticket 7 anyway
  b.mark(12, kT0 + 50, 7); // paced reply at [12, 16) behind it
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.writable(16, kT0, 6), 4u);
  EXPECT_TRUE(b.waits_for_commit(6));
  EXPECT_EQ(b.next_release(6), OutputBarriers::kNone);  // a durability notice wakes it, not a timer
  b.consumed(4);
  EXPECT_EQ(b.writable(12, kT0, 7), 8u);  // ticket 7 durable: up to the paced reply
  EXPECT_FALSE(b.waits_for_commit(7));
  EXPECT_EQ(b.next_release(7), kT0 + 50);
  b.consumed(8);
  EXPECT_EQ(b.writable(4, kT0 + 50, 7), 4u);
  EXPECT_TRUE(b.empty());
}

TEST(OutputBarriers, EarlierInstantBehindALaterOneAddsNothing) {
  // Verifies a barrier due no later than the previous one is absorbed (its
  // bytes wait behind the previous barrier anyway), and one at the same
  // offset takes the later instant.
  OutputBarriers b;
  b.mark(4, kT0 + 50);
  b.mark(8, kT0 + 30);
  b.mark(8, kT0 + 50);
  EXPECT_EQ(b.size(), 1u);
  b.mark(4, kT0 + 70);  // same bytes, later instant
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.next_release(), kT0 + 70);
  EXPECT_EQ(b.writable(10, kT0 + 60), 4u);
  EXPECT_EQ(b.writable(10, kT0 + 70), 10u);
}

TEST(OutputBarriers, DueBarriersAllReleaseAtOnce) {
  // Verifies several barriers due by `now` release together.
  OutputBarriers b;
  for (int i = 0; i < 5; ++i) b.mark(static_cast<size_t>(i) * 3, kT0 + i);
  EXPECT_EQ(b.writable(20, kT0 + 3), 12u);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.next_release(), kT0 + 4);
}

TEST(OutputBarriers, RingGrowsAndWrapsKeepingOrder) {
  // Verifies the ring wraps around and grows (from capacity 2) without
  // losing order, and stops allocating once large enough.
  OutputBarriers b(2);
  size_t total = 0;
  Nanos t = kT0;
  for (int round = 0; round < 50; ++round) {
    int n = 1 + round % 7;
    for (int i = 0; i < n; ++i) {
      b.mark(total, ++t);
      total += 10;
    }
    // Release all but the newest, one due instant at a time.
    for (int i = 0; i + 1 < n; ++i) {
      size_t w = b.writable(total, t - n + 1 + i);
      EXPECT_EQ(w, static_cast<size_t>(i + 1) * 10);
    }
    size_t w = b.writable(total, t - 1);
    b.consumed(w);
    total -= w;
    EXPECT_EQ(total, 10u);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_EQ(b.writable(total, t), total);
    b.consumed(total);
    total = 0;
  }
}

TEST(OutputBarriers, ModelCheckAgainstByteTimestamps) {
  // Verifies, against a model that stamps every byte with the instant it may
  // leave (the max of all earlier barriers), that writable() never exposes a
  // byte early and exposes every due byte, over random marks, writes and time.
  std::mt19937_64 rng(7);
  OutputBarriers b(1);
  std::vector<Nanos> stamps;  // per unwritten byte: earliest send instant
  Nanos now = kT0, hold = INT64_MIN;
  for (int step = 0; step < 20'000; ++step) {
    switch (rng() % 4) {
      case 0: {  // a delayed reply
        Nanos at = now + static_cast<Nanos>(rng() % 1000);
        b.mark(stamps.size(), at);
        hold = std::max(hold, at);
        [[fallthrough]];
      }
      case 1: {  // a reply of 1..20 bytes
        size_t len = 1 + rng() % 20;
        stamps.insert(stamps.end(), len, hold);
        break;
      }
      case 2:
        now += static_cast<Nanos>(rng() % 300);
        break;
      default: {  // a write of part of what may go
        size_t w = b.writable(stamps.size(), now);
        size_t due = 0;
        while (due < stamps.size() && stamps[due] <= now) ++due;
        ASSERT_EQ(w, due) << step;
        size_t n = rng() % (w + 1);
        b.consumed(n);
        stamps.erase(stamps.begin(), stamps.begin() + static_cast<std::ptrdiff_t>(n));
        break;
      }
    }
    if (stamps.empty()) hold = INT64_MIN;
    // Held bytes never exceed the buffer.
    ASSERT_LE(b.held(stamps.size()), stamps.size());
  }
}

}  // namespace
}  // namespace tollgate
