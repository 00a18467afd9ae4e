// The call log's config generations (calllog/call_log.h, "Generations"):
// new record kinds round-trip beside the old ones, and every record lands
// after the mark of the generation that decided it, also while workers
// append across reloads under the Reclaimer's grace periods.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "calllog/block_codec.h"
#include "calllog/call_log.h"
#include "calllog/segment.h"
#include "engine/reclaimer.h"
#include "support/faulty_file_system.h"

namespace tollgate::calllog {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;

struct GenerationsDir {
  std::string path;
  GenerationsDir() {
    std::string pattern = ::testing::TempDir() + "calllog-gen-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path = pattern;
  }
  ~GenerationsDir() { std::filesystem::remove_all(path); }
};

std::vector<CallRecord> read_log(const std::string& dir, std::vector<DecodedBlock>& keep) {
  std::vector<CallRecord> out;
  std::vector<SegmentProblem> problems;
  auto segments = list_segments(dir);
  EXPECT_TRUE(segments.has_value());
  keep.reserve(100000);
  for (const std::string& path : *segments) {
    auto reader = SegmentReader::open(path);
    EXPECT_TRUE(reader.has_value());
    if (!reader) continue;
    for (;;) {
      keep.emplace_back();
      if (!reader->next(keep.back(), problems)) break;
      out.insert(out.end(), keep.back().records.begin(), keep.back().records.end());
    }
  }
  EXPECT_TRUE(problems.empty()) << problems.front().text();
  return out;
}

// Verifies the extended kinds (generation mark with its YAML, status, reset,
// monitor action, hold expiry) round-trip in one block with a CHECK, and
// that the old kinds keep their encoding (a CHECK block's first flag byte).
TEST(CallLogGenerations, NewKindsRoundTripBesideOldOnes) {
  std::vector<CallRecord> in(6);
  in[0].kind = RecordKind::kGeneration;
  in[0].key = "/etc/tollgate/tollgate.yaml";
  in[0].text = std::string_view("contracts:\n  acme: {}\n");
  in[0].cost = 3;
  in[0].allowed = true;
  in[1].kind = RecordKind::kCheck;
  in[1].key = "acme";
  in[1].allowed = true;
  in[2].kind = RecordKind::kStatus;
  in[2].key = "acme";
  in[2].cost = 1;
  in[3].kind = RecordKind::kReset;
  in[3].key = "acme";
  in[3].limit = "daily";
  in[4].kind = RecordKind::kAction;
  in[4].key = "acme";
  in[4].cost = 1;
  in[4].limit = "resale";
  in[4].channel = "web";
  in[4].allowed = true;
  in[5].kind = RecordKind::kExpire;
  in[5].cost = 2;
  for (size_t i = 0; i < in.size(); ++i) in[i].time = kStart + static_cast<Nanos>(5 - i) * kNanosPerMilli;
  BlockEncoder encoder;
  for (const CallRecord& r : in) encoder.add(r);
  EXPECT_EQ(encoder.first_time(), kStart);  // the earliest, not the first added
  EXPECT_EQ(encoder.last_time(), kStart + 5 * kNanosPerMilli);
  std::string raw;
  encoder.finish(raw);
  DecodedBlock out;
  ASSERT_TRUE(decode_block(raw, out).has_value());
  ASSERT_EQ(out.records.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const CallRecord& a = in[i];
    const CallRecord& b = out.records[i];
    EXPECT_EQ(a.kind, b.kind) << i;
    EXPECT_EQ(a.time, b.time) << i;
    EXPECT_EQ(a.key, b.key) << i;
    EXPECT_EQ(a.cost, b.cost) << i;
    EXPECT_EQ(a.allowed, b.allowed) << i;
    EXPECT_EQ(a.limit, b.limit) << i;
    EXPECT_EQ(a.channel, b.channel) << i;
    EXPECT_EQ(a.text, b.text) << i;
  }
  // A block of kinds 1-3 only is encoded as before: the kind in flag bits 0-1.
  BlockEncoder old;
  old.add(in[1]);
  old.finish(raw);
  const size_t flags_at = raw.size() - 1 /* code */ - 3 /* channel, purpose, limit */ - 1 /* key */ - 1 /* time */ - 1;
  EXPECT_EQ(static_cast<uint8_t>(raw[flags_at]) & 0x03, 1);
}

// Verifies a mark waits for its generation to drain: records of the new
// generation collected before generation_drained() are held, and once it
// runs the mark comes first, then them; records of the old generation that
// arrive late still land before the mark.
TEST(CallLogGenerations, MarkWaitsForDrainAndHeldRecordsFollowIt) {
  GenerationsDir dir;
  CallLogOptions options;
  options.dir = dir.path;
  CallLog log(options, 2, files::default_file_system());
  ASSERT_TRUE(log.open().has_value());
  log.mark_generation(0, kStart, "t.yaml", "a: 0\n");
  log.generation_drained(0);
  auto rec = [](uint32_t generation, Nanos time, std::string_view key) {
    CallRecord r;
    r.time = time;
    r.key = key;
    r.cost = generation;  // what the reader checks
    r.generation = generation;
    return r;
  };
  log.record(0, rec(0, kStart + 1, "a"));
  EXPECT_EQ(log.flush(kStart), 2u);  // mark 0 and the record
  log.mark_generation(1, kStart + 10, "t.yaml", "a: 1\n");
  log.record(1, rec(1, kStart + 5, "new-early"));  // decided under 1, time before the mark
  log.record(0, rec(0, kStart + 20, "old-late"));  // decided under 0 after the switch
  EXPECT_EQ(log.flush(kStart), 1u);                // old-late; new-early is held
  log.record(0, rec(0, kStart + 21, "old-later"));
  log.record(0, rec(1, kStart + 22, "new"));
  EXPECT_EQ(log.flush(kStart), 1u);  // old-later
  log.generation_drained(1);
  EXPECT_EQ(log.flush(kStart), 3u);  // the mark, new-early, new
  log.stop(kStart);
  std::vector<DecodedBlock> keep;
  const auto all = read_log(dir.path, keep);
  std::vector<std::string> order;
  for (const CallRecord& r : all)
    order.push_back(r.kind == RecordKind::kGeneration ? "mark" + std::to_string(r.cost) : std::string(r.key));
  EXPECT_EQ(order, (std::vector<std::string>{"mark0", "a", "old-late", "old-later", "mark1", "new-early", "new"}));
  EXPECT_EQ(all[4].text, "a: 1\n");
}

// Verifies a mark whose block could not be written (a full disk) is written
// again with the next block, ahead of its generation's records: the records
// lost with it are counted, the generation is not.
TEST(CallLogGenerations, MarkInALostBlockIsWrittenAgain) {
  GenerationsDir dir;
  files::FaultyFileSystem fs;
  CallLogOptions options;
  options.dir = dir.path;
  CallLog log(options, 1, fs);
  ASSERT_TRUE(log.open().has_value());
  CallRecord r;
  r.time = kStart;
  r.key = "acme";
  r.generation = 3;
  log.mark_generation(3, kStart, "t.yaml", "g: 3\n");
  log.generation_drained(3);
  log.record(0, r);
  EXPECT_EQ(log.flush(kStart), 2u);
  log.mark_generation(4, kStart + 1, "t.yaml", "g: 4\n");
  log.generation_drained(4);
  fs.add_fault({.op = files::FileOp::kWrite, .error = ENOSPC, .sticky = true});
  r.time = kStart + 2;
  r.key = "lost";
  r.generation = 4;
  log.record(0, r);
  EXPECT_EQ(log.flush(kStart), 0u);
  EXPECT_EQ(log.stats().dropped_write, 2u);  // the mark and the record
  fs.clear_faults();
  r.time = kStart + 3;
  r.key = "globex";
  log.record(0, r);
  EXPECT_EQ(log.flush(kStart), 2u);
  log.stop(kStart);
  std::vector<DecodedBlock> keep;
  const auto all = read_log(dir.path, keep);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].kind, RecordKind::kGeneration);
  EXPECT_EQ(all[0].cost, 3);
  EXPECT_EQ(all[1].key, "acme");
  EXPECT_EQ(all[2].kind, RecordKind::kGeneration);
  EXPECT_EQ(all[2].cost, 4);
  EXPECT_EQ(all[3].key, "globex");
}

// Verifies the race the header reasons about: two workers record under
// whatever engine generation they load inside a Reclaimer section, while
// the control thread "reloads" 100 times (mark, publish, retire a drain
// callback, collect) and the writer flushes on its own thread. Every record
// must come after its own generation's mark and before the next one.
TEST(CallLogGenerations, RecordsStayBetweenTheirMarksUnderReloads) {
  constexpr uint32_t kReloads = 100;
  GenerationsDir dir;
  CallLogOptions options;
  options.dir = dir.path;
  options.flush_interval = kNanosPerMilli;
  CallLog log(options, 2, files::default_file_system());
  ASSERT_TRUE(log.open().has_value());
  Reclaimer reclaimer(8);
  std::atomic<uint32_t> current{0};
  log.mark_generation(0, kStart, "t.yaml", "g: 0\n");
  log.generation_drained(0);
  SystemClock clock;
  log.start(clock);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> recorded{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      const int slot = reclaimer.register_reader();
      Nanos t = kStart;
      while (!stop.load(std::memory_order_relaxed)) {
        std::this_thread::yield();  // a batch at a time, as a worker between reads
        ReadGuard guard(reclaimer, slot);
        const uint32_t g = current.load(std::memory_order_acquire);  // "the engine"
        std::this_thread::yield();  // deciding: a reload often lands here, between the load and the record
        for (int k = 0; k < 8; ++k) {
          CallRecord r;
          r.time = ++t;
          r.key = w == 0 ? "w0" : "w1";
          r.cost = g;
          r.generation = g;
          log.record(w, r);
          recorded.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (uint32_t g = 1; g <= kReloads; ++g) {
    // As the daemon reloads: the mark is queued before the engine is published.
    log.mark_generation(g, kStart + g, "t.yaml", "g: " + std::to_string(g) + "\n");
    current.store(g, std::memory_order_release);
    reclaimer.retire([&log, g] { log.generation_drained(g); });
    reclaimer.collect();
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the workers and the writer run between reloads
  }
  stop = true;
  for (auto& t : workers) t.join();
  while (reclaimer.pending() > 0) reclaimer.collect();
  log.stop(kStart);
  const CallLogStats stats = log.stats();
  std::vector<DecodedBlock> keep;
  const auto all = read_log(dir.path, keep);
  int64_t mark = -1;
  uint64_t checks = 0, marks = 0, misplaced = 0;
  for (const CallRecord& r : all) {
    if (r.kind == RecordKind::kGeneration) {
      EXPECT_EQ(r.cost, mark + 1) << "marks in order";
      mark = r.cost;
      ++marks;
      continue;
    }
    ++checks;
    if (r.cost != mark) ++misplaced;
  }
  EXPECT_EQ(marks, kReloads + 1);
  EXPECT_EQ(misplaced, 0u);
  EXPECT_EQ(checks + stats.dropped_buffer, recorded.load());
  EXPECT_GT(checks, 0u);
}

}  // namespace
}  // namespace tollgate::calllog
