// Reading out and putting back the state the embedded store persists from
// the engine's lock-free structures: open holds (HoldTable), remembered ID
// replies (DedupTable) and distinct-subject members (DistinctSubjects),
// including a reader racing with writers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "engine/contract.h"
#include "engine/dedup_table.h"
#include "engine/hold_table.h"
#include "engine/subjects/distinct_set.h"
#include "engine/subjects/hyperloglog.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kWindow = 600 * kNanosPerSecond;

HoldCharge charge_of(ContractState* contract, int64_t cost) {
  HoldCharge c;
  c.contract = contract;
  c.cost = cost;
  c.charged_at = kNow + cost;
  c.limit_mask = static_cast<uint32_t>(cost) & 0xff;
  c.takes_slot = true;
  c.commit_on_expiry = (cost & 1) != 0;
  // 1..7 lots: past kInlineDebitSpans the spans spill to the slot's
  // out-of-line record, which copies and settles must carry whole too.
  std::vector<DebitSpan> spans;
  for (uint32_t k = 0; k < 1 + static_cast<uint32_t>(cost % 7); ++k) spans.push_back({k, (k + 1) * cost});
  c.set_spans(spans);
  return c;
}

struct Seen {
  uint64_t hash;
  Nanos expires_at;
  HoldCharge charge;
};

std::vector<Seen> open_holds(const HoldTable& t) {
  std::vector<Seen> out;
  t.for_each_open([&](uint64_t hash, Nanos expires_at, const HoldCharge& c) { out.push_back({hash, expires_at, c}); });
  std::sort(out.begin(), out.end(), [](const Seen& a, const Seen& b) { return a.hash < b.hash; });
  return out;
}

// Verifies every open hold is visited with its exact hash, expiry and
// charge, a settled one is not, and holds put back into a fresh table (as
// recovery does) expire from their worker's heap at their original time.
TEST(HoldTableExport, VisitsOpenHoldsAndRestores) {
  ContractState acme("acme");
  HoldTable t(64, 2);
  ASSERT_TRUE(t.create(101, charge_of(&acme, 3), kNow + 10, 0));
  ASSERT_TRUE(t.create(202, charge_of(&acme, 4), kNow + 20, 1));
  ASSERT_TRUE(t.create(303, charge_of(&acme, 5), kNow + 30, 1));
  HoldCharge taken;
  ASSERT_TRUE(t.take(202, taken));
  EXPECT_EQ(taken, charge_of(&acme, 4));
  EXPECT_EQ(taken.taken().size(), 5u);  // spilled: every span back from the record
  std::vector<Seen> seen = open_holds(t);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].hash, 101u);
  EXPECT_EQ(seen[0].expires_at, kNow + 10);
  EXPECT_EQ(seen[0].charge, charge_of(&acme, 3));
  EXPECT_EQ(seen[0].charge.taken().size(), 4u);  // inline
  EXPECT_EQ(seen[1].hash, 303u);
  EXPECT_EQ(seen[1].charge, charge_of(&acme, 5));
  EXPECT_EQ(seen[1].charge.taken().size(), 6u);
  // t is destroyed with 101 and 303 open: ~HoldTable frees 303's record (LSan).

  HoldTable restored(64, 2);
  for (const Seen& s : seen) ASSERT_TRUE(restored.create(s.hash, s.charge, s.expires_at, 0));
  EXPECT_EQ(restored.open(), 2u);
  EXPECT_EQ(restored.next_expiry(0), kNow + 10);
  HoldCharge expired;
  ASSERT_TRUE(restored.pop_expired(0, kNow + 30, expired));
  EXPECT_EQ(expired, charge_of(&acme, 3));
  ASSERT_TRUE(restored.pop_expired(0, kNow + 30, expired));
  EXPECT_EQ(expired, charge_of(&acme, 5));
  EXPECT_EQ(restored.open(), 0u);
}

// Verifies changes() moves on every create and settle and only then.
TEST(HoldTableExport, ChangesCountsCreatesAndSettles) {
  ContractState acme("acme");
  HoldTable t(64, 1);
  const uint64_t c0 = t.changes();
  ASSERT_TRUE(t.create(1, charge_of(&acme, 1), kNow, 0));
  EXPECT_FALSE(t.create(1, charge_of(&acme, 1), kNow, 0));  // refused: no change
  EXPECT_EQ(t.changes(), c0 + 1);
  HoldCharge out;
  ASSERT_TRUE(t.take(1, out));
  EXPECT_FALSE(t.take(1, out));
  EXPECT_EQ(t.changes(), c0 + 2);
}

// Verifies a reader copying holds while a writer creates and settles them in
// the same slots never sees a torn hold: every field of a copy comes from
// one create (the writer derives them all from one number), the spans of
// holds over more than kInlineDebitSpans lots included (their out-of-line
// record is freed by the settling writer while the reader may be copying
// it: ASan/TSan builds check that the reader never touches a freed one).
TEST(HoldTableExport, ConcurrentReaderSeesWholeHolds) {
  ContractState acme("acme");
  HoldTable t(32, 1);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    HoldCharge out;
    for (int64_t i = 1; !stop.load(std::memory_order_relaxed); ++i) {
      const uint64_t hash = static_cast<uint64_t>(i % 8 + 1) * 8;
      if (!t.create(hash, charge_of(&acme, i), kNow + i, 0)) (void)t.take(hash, out);
    }
  });
  int64_t copies = 0;
  for (int round = 0; round < 20000 || copies == 0; ++round) {
    t.for_each_open([&](uint64_t, Nanos expires_at, const HoldCharge& c) {
      ++copies;
      EXPECT_EQ(c, charge_of(&acme, c.cost));
      EXPECT_EQ(expires_at, kNow + c.cost);
    });
  }
  stop = true;
  writer.join();
  EXPECT_GT(copies, 0);
}

// Verifies drain_dirty yields each allowed reply once (denied calls never),
// for_each_live yields every live one, and expired replies neither.
TEST(DedupTableExport, DrainsNewRepliesAndVisitsLiveOnes) {
  DedupTable t(1024, kWindow);
  auto remember = [&](uint64_t hash, bool allowed, Nanos now) {
    auto c = t.begin(hash, now);
    ASSERT_EQ(c.result, DedupTable::Lookup::kClaimed);
    t.finish(c.slot, hash, allowed, {.remaining = int64_t(hash), .reset_after_ms = 9, .balance = 40, .limit_index = 1}, now);
  };
  remember(11, true, kNow);
  remember(22, true, kNow);
  remember(33, false, kNow);
  std::vector<uint64_t> drained;
  EXPECT_EQ(t.drain_dirty(kNow, [&](const DedupTable::Record& r) { drained.push_back(r.hash); }), 2u);
  std::sort(drained.begin(), drained.end());
  EXPECT_EQ(drained, (std::vector<uint64_t>{11, 22}));
  EXPECT_EQ(t.drain_dirty(kNow, [](const DedupTable::Record&) {}), 0u);
  remember(44, true, kNow + kNanosPerSecond);
  std::vector<DedupTable::Record> fresh;
  t.drain_dirty(kNow, [&](const DedupTable::Record& r) { fresh.push_back(r); });
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].hash, 44u);
  EXPECT_EQ(fresh[0].expires_at, kNow + kNanosPerSecond + kWindow);
  EXPECT_EQ(fresh[0].stored.remaining, 44);
  size_t live = 0;
  t.for_each_live(kNow, [&](const DedupTable::Record&) { ++live; });
  EXPECT_EQ(live, 3u);
  live = 0;
  t.for_each_live(kNow + kWindow, [&](const DedupTable::Record&) { ++live; });
  EXPECT_EQ(live, 1u);  // only 44 is still inside its window
}

// Verifies a checkpoint draining replies while a worker keeps claiming,
// finishing and forgetting them reads only whole records (every field is
// derived from the hash), and never a denied call.
TEST(DedupTableExport, ConcurrentDrainSeesWholeRecords) {
  DedupTable t(64, kWindow);
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    for (uint64_t h = 8; !stop.load(std::memory_order_relaxed); h += 8) {
      auto c = t.begin(h, kNow);
      if (c.result != DedupTable::Lookup::kClaimed) continue;
      const int64_t v = static_cast<int64_t>(h);
      t.finish(c.slot, h, (h & 8) != 0, {.remaining = v, .reset_after_ms = v + 1, .balance = v + 2, .limit_index = 3}, kNow);
    }
  });
  uint64_t drained = 0;
  auto check = [&](const DedupTable::Record& r) {
    ++drained;
    EXPECT_EQ(r.stored.remaining, static_cast<int64_t>(r.hash));
    EXPECT_EQ(r.stored.reset_after_ms, static_cast<int64_t>(r.hash) + 1);
    EXPECT_EQ(r.stored.balance, static_cast<int64_t>(r.hash) + 2);
    EXPECT_EQ(r.expires_at, kNow + kWindow);
    EXPECT_NE(r.hash & 8, 0u);  // denied calls are never remembered
  };
  for (int round = 0; round < 20000 || drained == 0; ++round) t.drain_dirty(kNow, check);
  stop = true;
  worker.join();
  t.drain_dirty(kNow, check);
}

// Verifies restored replies are replayed with their stored values until
// their original expiry, and an expired one is not restored.
TEST(DedupTableExport, RestoredRepliesReplay) {
  DedupTable t(1024, kWindow);
  DedupTable::Record r{77, kNow + 5 * kNanosPerSecond, {.remaining = 5, .reset_after_ms = 9, .balance = 40, .limit_index = 1}};
  ASSERT_TRUE(t.restore(r, kNow));
  EXPECT_FALSE(t.restore(r, kNow));  // already remembered
  auto replay = t.begin(77, kNow + kNanosPerSecond);
  ASSERT_EQ(replay.result, DedupTable::Lookup::kReplay);
  EXPECT_EQ(replay.stored.remaining, 5);
  EXPECT_EQ(replay.stored.balance, 40);
  EXPECT_EQ(replay.stored.limit_index, 1);
  EXPECT_EQ(t.begin(77, kNow + 5 * kNanosPerSecond).result, DedupTable::Lookup::kClaimed);
  DedupTable::Record old{88, kNow, {}};
  EXPECT_FALSE(t.restore(old, kNow));
  EXPECT_EQ(t.drain_dirty(kNow, [](const DedupTable::Record&) {}), 0u);  // restored ones are not new
}

std::vector<uint64_t> sorted(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Verifies members() copies the live period's members, drain_new() only
// those inserted since its previous call, and forget() removes a member.
TEST(DistinctSubjectsExport, MembersAndNewMembers) {
  auto made = DistinctSubjects::make(10, Period::kDay, "UTC");
  ASSERT_TRUE(made.has_value());
  DistinctSubjects& set = *made;
  const Nanos start = set.calendar().bounds(kNow).start;
  ASSERT_EQ(set.try_admit(100, kNow).verdict, SubjectVerdict::kAdmitted);
  ASSERT_EQ(set.try_admit(200, kNow).verdict, SubjectVerdict::kAdmitted);
  PeriodMembers all = set.members(kNow);
  EXPECT_EQ(all.period_start, start);
  EXPECT_EQ(sorted(all.hashes), (std::vector<uint64_t>{100, 200}));
  EXPECT_EQ(sorted(set.drain_new(kNow).hashes), (std::vector<uint64_t>{100, 200}));
  EXPECT_TRUE(set.drain_new(kNow).hashes.empty());
  ASSERT_EQ(set.try_admit(300, kNow).verdict, SubjectVerdict::kAdmitted);
  ASSERT_EQ(set.try_admit(100, kNow).verdict, SubjectVerdict::kSeen);
  PeriodMembers fresh = set.drain_new(kNow);
  EXPECT_EQ(fresh.hashes, (std::vector<uint64_t>{300}));
  EXPECT_EQ(fresh.period_start, start);
  set.forget(300, kNow);
  EXPECT_EQ(sorted(set.members(kNow).hashes), (std::vector<uint64_t>{100, 200}));
}

// Verifies restored members count against the cap in their period, and
// members of a period that has ended are not restored.
TEST(DistinctSubjectsExport, RestoreCountsAgainstTheCap) {
  auto saved_from = DistinctSubjects::make(3, Period::kDay, "UTC");
  ASSERT_TRUE(saved_from.has_value());
  for (uint64_t h : {11, 22, 33}) ASSERT_TRUE(saved_from->try_admit(h, kNow).allowed());
  const PeriodMembers saved = saved_from->members(kNow);

  auto made = DistinctSubjects::make(3, Period::kDay, "UTC");
  ASSERT_TRUE(made.has_value());
  EXPECT_EQ(made->restore(saved, kNow + kNanosPerSecond), 3);
  EXPECT_EQ(made->count(kNow), 3);
  EXPECT_EQ(made->try_admit(22, kNow).verdict, SubjectVerdict::kSeen);
  EXPECT_EQ(made->try_admit(44, kNow).verdict, SubjectVerdict::kOverCap);

  auto next_day = DistinctSubjects::make(3, Period::kDay, "UTC");
  ASSERT_TRUE(next_day.has_value());
  const Nanos tomorrow = next_day->calendar().bounds(kNow).end + kNanosPerSecond;
  EXPECT_EQ(next_day->restore(saved, tomorrow), 0);
  EXPECT_EQ(next_day->count(tomorrow), 0);
}

// Verifies the estimate's registers round-trip into a fresh sketch (same
// estimate), drain_changed() reports only words raised since its previous
// call, restored words are not reported as new, and registers of a period
// that has ended are not restored.
TEST(PeriodHllExport, RegistersRoundTrip) {
  auto made = PeriodHll::make(Period::kDay, "UTC");
  ASSERT_TRUE(made.has_value());
  PeriodHll& hll = *made;
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(hll.add(next(), kNow));
  const HllWords all = hll.registers(kNow);
  EXPECT_EQ(all.period_start, hll.calendar().bounds(kNow).start);
  EXPECT_EQ(all.precision, hll.precision());
  EXPECT_FALSE(all.words.empty());
  EXPECT_EQ(hll.drain_changed(kNow).words.size(), all.words.size());
  EXPECT_TRUE(hll.drain_changed(kNow).words.empty());

  auto fresh = PeriodHll::make(Period::kDay, "UTC");
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->restore(all, kNow), all.words.size());
  EXPECT_DOUBLE_EQ(fresh->estimate(kNow).current, hll.estimate(kNow).current);
  EXPECT_TRUE(fresh->drain_changed(kNow).words.empty());

  auto tomorrow = PeriodHll::make(Period::kDay, "UTC");
  ASSERT_TRUE(tomorrow.has_value());
  const Nanos later = tomorrow->calendar().bounds(kNow).end + kNanosPerSecond;
  EXPECT_EQ(tomorrow->restore(all, later), 0u);
  EXPECT_EQ(tomorrow->estimate(later).current, 0);
}

}  // namespace
}  // namespace tollgate
