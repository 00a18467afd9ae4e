#include "engine/subjects/period_generations.h"

#include <gtest/gtest.h>

#include <vector>

namespace tollgate::subjects_detail {
namespace {

using Status = PeriodGenerations::Live::Status;
using State = PeriodGenerations::State;

// Records which chunks were zeroed; optionally calls back into the
// generations while "zeroing" to simulate a thread caught mid-chunk.
struct Recorder {
  std::vector<std::pair<int, uint32_t>> cleared;
  PeriodGenerations* gens = nullptr;
  uint64_t reenter_id = 0;
  PeriodGenerations::Live reentered;
  static void clear(void* owner, int gen, uint32_t chunk) {
    auto* self = static_cast<Recorder*>(owner);
    self->cleared.emplace_back(gen, chunk);
    if (self->reenter_id != 0) {
      uint64_t id = self->reenter_id;
      self->reenter_id = 0;
      self->reentered = self->gens->acquire(id);
    }
  }
};

TEST(PeriodGenerations, SpareIsPreClearedOneChunkPerCall) {
  // Verifies that after a roll-over each call (the activating one included)
  // zeroes exactly one chunk of the superseded generation until it is clean,
  // and the next roll-over then goes live without zeroing anything more.
  Recorder rec;
  PeriodGenerations gens(2, 1, 4, &Recorder::clear, &rec);
  PeriodGenerations::Live a = gens.acquire(100);
  ASSERT_EQ(a.status, Status::kReady);
  EXPECT_TRUE(rec.cleared.empty());  // both start clean
  PeriodGenerations::Live b = gens.acquire(200);
  ASSERT_EQ(b.status, Status::kReady);
  EXPECT_NE(b.gen, a.gen);
  ASSERT_EQ(rec.cleared.size(), 1u);
  for (uint32_t call = 1; call < 4; ++call) {
    EXPECT_EQ(gens.acquire(200).gen, b.gen);
    ASSERT_EQ(rec.cleared.size(), call + 1);
    EXPECT_EQ(rec.cleared.back(), std::make_pair(a.gen, call));
  }
  EXPECT_EQ(gens.state(a.gen), State::kClean);
  gens.acquire(200);
  EXPECT_EQ(rec.cleared.size(), 4u);
  PeriodGenerations::Live c = gens.acquire(300);
  EXPECT_EQ(c.gen, a.gen);
  EXPECT_EQ(rec.cleared.size(), 5u);  // only b's first chunk, as b is superseded
  EXPECT_EQ(rec.cleared.back(), std::make_pair(b.gen, 0u));
}

TEST(PeriodGenerations, RollOverWithoutPreClearingZeroesFirst) {
  // Verifies a roll-over finding no clean generation zeroes one fully before
  // going live, and an older id never gets a generation of its own.
  Recorder rec;
  PeriodGenerations gens(2, 1, 3, &Recorder::clear, &rec);
  int g100 = gens.acquire(100).gen;
  int g200 = gens.acquire(200).gen;  // zeroes chunk 0 of g100 only
  ASSERT_EQ(gens.state(g100), State::kClearing);
  rec.cleared.clear();
  PeriodGenerations::Live live = gens.acquire(300);
  EXPECT_EQ(live.gen, g100);
  using Cleared = std::vector<std::pair<int, uint32_t>>;
  // The rest of g100 before going live, then one chunk of the superseded g200.
  EXPECT_EQ(rec.cleared, (Cleared{{g100, 1}, {g100, 2}, {g200, 0}}));
  PeriodGenerations::Live back = gens.acquire(250);  // time going backwards
  EXPECT_EQ(back.gen, live.gen);
  EXPECT_EQ(back.id, 300u);
}

TEST(PeriodGenerations, BusyOnlyWhileAnotherThreadHoldsTheLastChunk) {
  // Verifies kBusy when a roll-over needs a generation whose last chunk is
  // being zeroed by someone else, and that it goes live once that finishes.
  Recorder rec;
  PeriodGenerations gens(2, 1, 1, &Recorder::clear, &rec);
  rec.gens = &gens;
  gens.acquire(100);
  rec.reenter_id = 300;  // a call at 300 arrives while chunk 0 is in flight
  gens.acquire(200);     // goes live, then starts zeroing the superseded one
  EXPECT_EQ(rec.reentered.status, Status::kBusy);
  EXPECT_EQ(gens.acquire(300).status, Status::kReady);
}

TEST(PeriodGenerations, WritersBlockClearingAndCountsRespectTheLimit) {
  // Verifies enter_writer enforces the count limit, a superseded generation
  // with a writer inside is not zeroed, and leaving lets it be.
  Recorder rec;
  PeriodGenerations gens(2, 1, 1, &Recorder::clear, &rec);
  PeriodGenerations::Live a = gens.acquire(100);
  ASSERT_EQ(gens.enter_writer(a.gen, 100, 1, 1), PeriodGenerations::Enter::kEntered);
  EXPECT_EQ(gens.enter_writer(a.gen, 100, 1, 1), PeriodGenerations::Enter::kFull);
  EXPECT_EQ(gens.enter_writer(a.gen, 99, 0, 1), PeriodGenerations::Enter::kMoved);
  gens.acquire(200);
  gens.acquire(200);
  EXPECT_TRUE(rec.cleared.empty());
  EXPECT_EQ(gens.state(a.gen), State::kLive);
  gens.leave_writer(a.gen, 0);
  EXPECT_EQ(gens.count(a.gen), 1);
  gens.acquire(200);
  EXPECT_EQ(rec.cleared.size(), 1u);
  EXPECT_EQ(gens.state(a.gen), State::kClean);
}

TEST(PeriodGenerations, IdsCompareWrapAware) {
  // Verifies id distance across the 28-bit wrap.
  EXPECT_EQ(PeriodGenerations::id_distance(5, 3), 2);
  EXPECT_EQ(PeriodGenerations::id_distance(3, 5), -2);
  EXPECT_EQ(PeriodGenerations::id_distance(1, PeriodGenerations::kIdMask), 2);
  EXPECT_EQ(PeriodGenerations::period_id(-60'000'000'000), PeriodGenerations::kIdMask);
}

}  // namespace
}  // namespace tollgate::subjects_detail
