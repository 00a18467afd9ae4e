// The call log's pieces: the worker ring, the block codec, segments on disk
// (rotation, retention, damaged and truncated frames) and a failing disk.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <fstream>
#include <string>
#include <vector>

#include "calllog/block_codec.h"
#include "calllog/call_log.h"
#include "calllog/check_hook.h"
#include "calllog/segment.h"
#include "persist/files/little_endian.h"
#include "support/faulty_file_system.h"

namespace tollgate::calllog {
namespace {

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;

struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = ::testing::TempDir() + "calllog-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

CallRecord check(int i) {
  static const char* kKeys[] = {"acme", "globex", "ip:10.0.0.1"};
  CallRecord r;
  r.time = kT0 + i * kNanosPerMilli;
  r.key = kKeys[i % 3];
  r.channel = i % 2 ? "web" : "";
  r.purpose = i % 5 == 0 ? "search" : "";
  r.cost = 1 + i % 4;
  r.subject_hash = i % 7 == 0 ? 0 : log_hash("user" + std::to_string(i % 11));
  r.id_hash = i % 3 == 0 ? log_hash("id" + std::to_string(i)) : 0;
  r.hold_ms = i % 13 == 0 ? 5000 : -1;
  r.wait_ms = i % 17 == 0 ? 100 : -1;
  r.allowed = i % 4 != 0;
  r.code = r.allowed ? Code::kOk : Code::kQuota;
  r.limit = r.allowed ? "" : "daily";
  r.balance = r.key == std::string_view("acme") ? 100'000 - i * 7 : -1;
  return r;
}

void expect_same(const CallRecord& a, const CallRecord& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.channel, b.channel);
  EXPECT_EQ(a.purpose, b.purpose);
  EXPECT_EQ(a.cost, b.cost);
  EXPECT_EQ(a.subject_hash, b.subject_hash);
  EXPECT_EQ(a.id_hash, b.id_hash);
  EXPECT_EQ(a.hold_ms, b.hold_ms);
  EXPECT_EQ(a.wait_ms, b.wait_ms);
  EXPECT_EQ(a.allowed, b.allowed);
  EXPECT_EQ(a.code, b.code);
  EXPECT_EQ(a.limit, b.limit);
  EXPECT_EQ(a.balance, b.balance);
}

// Every record of every segment in `dir`, and the problems met.
std::vector<CallRecord> read_all(const std::string& dir, std::vector<SegmentProblem>& problems,
                                 std::vector<DecodedBlock>& keep) {
  std::vector<CallRecord> out;
  auto segments = list_segments(dir);
  EXPECT_TRUE(segments.has_value());
  for (const std::string& path : *segments) {
    auto reader = SegmentReader::open(path);
    if (!reader) {
      problems.push_back(reader.error());
      continue;
    }
    for (;;) {
      keep.emplace_back();
      if (!reader->next(keep.back(), problems)) break;
      out.insert(out.end(), keep.back().records.begin(), keep.back().records.end());
    }
  }
  return out;
}

// Verifies records survive the ring across many wrap-arounds, in order,
// and that a full ring refuses (and counts) instead of overwriting.
TEST(WorkerBuffer, WrapsAroundAndDropsWhenFull) {
  WorkerBuffer ring(4096);
  std::vector<CallRecord> seen;
  int next = 0;
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 7; ++k) ASSERT_TRUE(ring.append(check(next++)));
    std::vector<CallRecord> got;
    ring.release(ring.collect(got));
    ASSERT_EQ(got.size(), 7u);
    for (int k = 0; k < 7; ++k) expect_same(got[k], check(next - 7 + k));
  }
  int accepted = 0;
  while (ring.append(check(accepted))) ++accepted;
  EXPECT_GT(accepted, 10);
  EXPECT_EQ(ring.dropped(), 1u);
  std::vector<CallRecord> got;
  ring.release(ring.collect(got));
  EXPECT_EQ(got.size(), static_cast<size_t>(accepted));
  EXPECT_TRUE(ring.append(check(0)));
}

// Verifies the CHECK path's entry (raw SUBJECT and ID, optional words by
// flag) comes out of collect() as the very CallRecord the hook used to
// build — hashes taken by the writer, long SUBJECT/ID hashed on the way in,
// a cost past 32 bits, absent and present hold/wait/balance, long strings —
// across wrap-arounds of a small ring, between generic records.
TEST(WorkerBuffer, CheckEntryIsTheRecordItStandsFor) {
  WorkerBuffer ring(4096);
  const std::string long_subject(WorkerBuffer::kRawMax + 1, 's');
  const std::string long_id(300, 'i');
  const std::string long_key(200, 'k');
  std::vector<std::string> subjects, ids;
  for (int i = 0; i < 40; ++i) {
    subjects.push_back(i % 9 == 0 ? long_subject : i % 4 == 0 ? "" : "u" + std::string(static_cast<size_t>(i % 23), 'x'));
    ids.push_back(i % 10 == 0 ? long_id : i % 3 == 0 ? "id-" + std::to_string(i) : "");
  }
  auto request_of = [&](int i) {
    CheckRequest q;
    q.key = i % 11 == 0 ? std::string_view(long_key) : std::string_view(i % 2 ? "acme" : "ip:10.0.0.1");
    q.cost = i % 8 == 0 ? (int64_t{1} << 40) + i : i % 5 == 0 ? -3 : 1 + i % 4;
    q.channel = i % 3 ? "web" : "";
    q.purpose = i % 5 == 0 ? "search" : "";
    q.subject = subjects[static_cast<size_t>(i % 40)];
    q.id = ids[static_cast<size_t>(i % 40)];
    q.hold_ms = i % 6 == 0 ? 5000 : -1;
    q.wait_ms = i % 7 == 0 ? 0 : -1;
    return q;
  };
  auto decision_of = [](int i) {
    Decision d;
    d.allowed = i % 4 != 0;
    d.code = d.allowed ? Code::kOk : Code::kRate;
    d.limit = d.allowed ? "" : "burst";
    d.balance = i % 2 ? 100'000 - i : -1;
    return d;
  };
  auto expected_of = [&](int i) {
    const CheckRequest q = request_of(i);
    const Decision d = decision_of(i);
    CallRecord r;
    r.time = kT0 + i;
    r.key = q.key;
    r.channel = q.channel;
    r.purpose = q.purpose;
    r.cost = q.cost;
    r.subject_hash = q.subject.empty() ? 0 : log_hash(q.subject);
    r.id_hash = q.id.empty() ? 0 : log_hash(q.id);
    r.hold_ms = q.hold_ms;
    r.wait_ms = q.wait_ms;
    r.allowed = d.allowed;
    r.code = d.code;
    r.limit = d.limit;
    r.balance = d.balance;
    return r;
  };
  int next = 0;
  for (int round = 0; round < 300; ++round) {
    const int first = next;
    for (int k = 0; k < 5; ++k, ++next) {
      if (next % 13 == 12) {
        ASSERT_TRUE(ring.append(check(next)));  // a generic record between CHECKs
      } else {
        ASSERT_TRUE(ring.append_check(kT0 + next, request_of(next), decision_of(next), static_cast<uint32_t>(next)));
      }
    }
    std::vector<CallRecord> got;
    ring.release(ring.collect(got));
    ASSERT_EQ(got.size(), 5u);
    for (int k = 0; k < 5; ++k) {
      const int i = first + k;
      SCOPED_TRACE(i);
      expect_same(got[static_cast<size_t>(k)], i % 13 == 12 ? check(i) : expected_of(i));
      EXPECT_EQ(got[static_cast<size_t>(k)].generation, static_cast<uint8_t>(i % 13 == 12 ? 0 : i));
    }
  }
  EXPECT_EQ(ring.dropped(), 0u);
  EXPECT_TRUE(ring.empty());
}

// Verifies a block decodes to exactly what was encoded, and that damaged
// raw bytes are an error, never a crash.
TEST(BlockCodec, RoundTripsAndRejectsDamage) {
  BlockEncoder encoder;
  std::vector<CallRecord> in;
  for (int i = 0; i < 500; ++i) in.push_back(check(i));
  CallRecord settle;
  settle.kind = RecordKind::kSettle;
  settle.time = kT0 - 5;  // time may go backwards
  settle.key = "acme";
  settle.id_hash = log_hash("id3");
  settle.allowed = true;
  in.push_back(settle);
  CallRecord recharge;
  recharge.kind = RecordKind::kRecharge;
  recharge.time = kT0 + 1;
  recharge.key = "acme";
  recharge.cost = 5000;
  recharge.id_hash = log_hash("pay-1");
  in.push_back(recharge);
  for (const CallRecord& r : in) encoder.add(r);
  std::string raw;
  encoder.finish(raw);
  DecodedBlock out;
  ASSERT_TRUE(decode_block(raw, out).has_value());
  ASSERT_EQ(out.records.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) expect_same(out.records[i], in[i]);
  for (size_t cut = 0; cut < raw.size(); cut += 7) {
    DecodedBlock partial;
    EXPECT_FALSE(decode_block(raw.substr(0, cut), partial).has_value()) << cut;
  }
}

// Verifies the log writes readable segments, rotates by size, and deletes
// the oldest segments past max_bytes.
TEST(CallLogSegments, RotatesAndKeepsMaxBytes) {
  TempDir dir;
  CallLogOptions options;
  options.dir = dir.path;
  options.segment_bytes = 2000;
  options.max_bytes = 1 << 30;
  CallLog log(options, 2, files::default_file_system());
  ASSERT_TRUE(log.open().has_value());
  int n = 0;
  for (int block = 0; block < 20; ++block) {
    for (int k = 0; k < 50; ++k, ++n) log.record(n % 2, check(n));
    EXPECT_EQ(log.flush(kT0), 50u);
  }
  log.stop(kT0);
  std::vector<SegmentProblem> problems;
  std::vector<DecodedBlock> keep;
  auto all = read_all(dir.path, problems, keep);
  EXPECT_TRUE(problems.empty()) << problems.front().text();
  ASSERT_EQ(all.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) expect_same(all[i], check(i));
  const CallLogStats stats = log.stats();
  EXPECT_GT(stats.segments, 3u);
  EXPECT_EQ(stats.recorded, static_cast<uint64_t>(n));

  // A second log on the same directory continues the sequence and, with a
  // small max_bytes, deletes the oldest segments first.
  options.max_bytes = 3000;
  CallLog second(options, 1, files::default_file_system());
  ASSERT_TRUE(second.open().has_value());
  for (int k = 0; k < 50; ++k) second.record(0, check(n + k));
  EXPECT_EQ(second.flush(kT0), 50u);
  second.stop(kT0);
  EXPECT_GT(second.stats().segments_deleted, 0u);
  EXPECT_LE(second.stats().disk_bytes, 3000u + 2000u);
  auto left = list_segments(dir.path);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->size(), second.stats().segments);
  problems.clear();
  keep.clear();
  auto tail = read_all(dir.path, problems, keep);
  ASSERT_FALSE(tail.empty());
  expect_same(tail.back(), check(n + 49));
}

// Verifies a damaged frame is reported with its segment and offset and
// skipped (the frames after it are read), and a truncated tail ends the
// segment with a report, keeping the frames before it.
TEST(CallLogSegments, DamagedFrameSkippedTruncatedTailReported) {
  TempDir dir;
  CallLogOptions options;
  options.dir = dir.path;
  CallLog log(options, 1, files::default_file_system());
  ASSERT_TRUE(log.open().has_value());
  for (int block = 0; block < 3; ++block) {
    for (int k = 0; k < 10; ++k) log.record(0, check(block * 10 + k));
    ASSERT_EQ(log.flush(kT0), 10u);
  }
  log.stop(kT0);
  auto segments = list_segments(dir.path);
  ASSERT_EQ(segments->size(), 1u);
  const std::string path = segments->front();
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Frame offsets: after the header, each frame is 40 + its compressed length.
  std::vector<size_t> frames;
  for (size_t at = kSegmentHeader.size(); at < bytes.size();) {
    frames.push_back(at);
    at += kFrameHeaderBytes + files::get_u32(bytes.data() + at + 4);
  }
  ASSERT_EQ(frames.size(), 3u);
  std::string damaged = bytes;
  damaged[frames[1] + kFrameHeaderBytes + 2] ^= 0x5a;  // inside the second block
  damaged.resize(damaged.size() - 5);                  // and the third cut short
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << damaged;
  }
  std::vector<SegmentProblem> problems;
  std::vector<DecodedBlock> keep;
  auto all = read_all(dir.path, problems, keep);
  ASSERT_EQ(all.size(), 10u);
  for (int i = 0; i < 10; ++i) expect_same(all[i], check(i));
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].offset, frames[1]);
  EXPECT_NE(problems[0].reason.find("checksum"), std::string::npos) << problems[0].text();
  EXPECT_EQ(problems[1].offset, frames[2]);
  EXPECT_NE(problems[1].reason.find("truncated"), std::string::npos) << problems[1].text();
  EXPECT_NE(problems[1].text().find(path + " at byte " + std::to_string(frames[2])), std::string::npos);

  // Not a segment at all: a clear error naming the file.
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "hello";
  }
  auto reader = SegmentReader::open(path);
  ASSERT_FALSE(reader.has_value());
  EXPECT_NE(reader.error().text().find("not a call-log segment"), std::string::npos);
}

// Verifies a full disk drops the records and counts them while record()
// goes on accepting calls, the partial frame is cut off, and writing
// resumes (readably) once space is back.
TEST(CallLogSegments, FullDiskDropsAndCountsThenRecovers) {
  TempDir dir;
  files::FaultyFileSystem fs;
  CallLogOptions options;
  options.dir = dir.path;
  CallLog log(options, 1, fs);
  ASSERT_TRUE(log.open().has_value());
  for (int k = 0; k < 10; ++k) log.record(0, check(k));
  ASSERT_EQ(log.flush(kT0), 10u);
  fs.add_fault({.op = files::FileOp::kWrite, .error = ENOSPC, .sticky = true});
  for (int block = 0; block < 3; ++block) {
    for (int k = 0; k < 10; ++k) log.record(0, check(10 + block * 10 + k));
    EXPECT_EQ(log.flush(kT0), 0u);
  }
  CallLogStats stats = log.stats();
  EXPECT_EQ(stats.dropped_write, 30u);
  EXPECT_NE(stats.last_error.find("No space left"), std::string::npos) << stats.last_error;
  // A write that lands half a frame: cut back to the last whole frame.
  fs.clear_faults();
  fs.add_fault({.op = files::FileOp::kWrite, .error = ENOSPC, .sticky = false, .short_write_bytes = 7});
  fs.add_fault({.op = files::FileOp::kWrite, .nth = 2, .error = ENOSPC});
  for (int k = 0; k < 10; ++k) log.record(0, check(40 + k));
  EXPECT_EQ(log.flush(kT0), 0u);
  fs.clear_faults();
  for (int k = 0; k < 10; ++k) log.record(0, check(50 + k));
  EXPECT_EQ(log.flush(kT0), 10u);
  log.stop(kT0);
  stats = log.stats();
  EXPECT_EQ(stats.dropped_write, 40u);
  EXPECT_EQ(stats.recorded, 20u);
  std::vector<SegmentProblem> problems;
  std::vector<DecodedBlock> keep;
  auto all = read_all(dir.path, problems, keep);
  EXPECT_TRUE(problems.empty()) << problems.front().text();
  ASSERT_EQ(all.size(), 20u);
  expect_same(all[0], check(0));
  expect_same(all[10], check(50));
}

// Verifies the rings under contention: two workers append while the writer
// thread drains and writes; every record either reaches a segment, in its
// worker's order, or is counted as dropped — none is lost or torn.
TEST(CallLogSegments, WorkersAndWriterHammer) {
  TempDir dir;
  CallLogOptions options;
  options.dir = dir.path;
  options.buffer_bytes = 16 << 10;  // small: drops happen too
  options.flush_interval = kNanosPerMilli;
  CallLog log(options, 2, files::default_file_system());
  ASSERT_TRUE(log.open().has_value());
  ManualClock clock(kT0);
  log.start(clock);
  constexpr int kPerWorker = 20'000;
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&log, w] {
      for (int i = 0; i < kPerWorker; ++i) {
        CallRecord r = check(i);
        r.key = w == 0 ? "worker-0" : "worker-1";
        r.cost = i;  // the order within a worker
        if (w == 0) {
          log.record(w, r);
          continue;
        }
        // Worker 1 takes the CHECK path: a raw SUBJECT the writer hashes.
        const std::string subject = i % 7 == 0 ? "" : "user" + std::to_string(i % 11);
        CheckRequest q;
        q.key = r.key;
        q.cost = r.cost;
        q.channel = r.channel;
        q.purpose = r.purpose;
        q.subject = subject;
        q.hold_ms = r.hold_ms;
        q.wait_ms = r.wait_ms;
        Decision d;
        d.allowed = r.allowed;
        d.code = r.code;
        d.limit = r.limit;
        d.balance = r.balance;
        record_check(&log, w, r.time, q, d);
      }
    });
  }
  for (auto& t : workers) t.join();
  log.stop(kT0);
  const CallLogStats stats = log.stats();
  EXPECT_EQ(stats.recorded + stats.dropped_buffer, 2u * kPerWorker);
  EXPECT_EQ(stats.dropped_write, 0u);
  std::vector<SegmentProblem> problems;
  std::vector<DecodedBlock> keep;
  auto all = read_all(dir.path, problems, keep);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(all.size(), stats.recorded);
  int64_t last[2] = {-1, -1};
  for (const CallRecord& r : all) {
    const int w = r.key == "worker-0" ? 0 : 1;
    ASSERT_TRUE(r.key == "worker-0" || r.key == "worker-1") << r.key;
    // Intact (its fields are check(cost)'s) and in its worker's order (a
    // worker's times rise with its sequence; blocks are sorted stably by time).
    CallRecord expected = check(static_cast<int>(r.cost));
    EXPECT_EQ(r.time, expected.time);
    EXPECT_EQ(r.subject_hash, expected.subject_hash);
    EXPECT_EQ(r.channel, expected.channel);
    EXPECT_GT(r.cost, last[w]);
    last[w] = r.cost;
  }
}

}  // namespace
}  // namespace tollgate::calllog
