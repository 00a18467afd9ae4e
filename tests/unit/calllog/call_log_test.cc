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
  // A priced call's lot split, recorded in some (a log written before the
  // split was has none), of every kind.
  r.lots_known = r.balance >= 0 && i % 8 != 3;
  if (r.lots_known && r.allowed) {
    r.lot_price = 10 + i % 3;
    r.lot_credits = r.cost == 1 ? 1 : r.cost - 1;
    r.lot_prices = r.cost == 1 ? LotPrices::kOne : i % 5 == 0 ? LotPrices::kMany : LotPrices::kTwo;
    if (r.lot_prices != LotPrices::kOne) r.lot_rest = r.lot_prices == LotPrices::kTwo ? r.lot_price - 1 : 1234 + i;
  }
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
  // lots_known means something for a priced CHECK only.
  EXPECT_EQ(a.balance >= 0 && a.lots_known, b.balance >= 0 && b.lots_known);
  EXPECT_EQ(a.lot_prices, b.lot_prices);
  if (a.lot_prices != LotPrices::kNone) {
    EXPECT_EQ(a.lot_price, b.lot_price);
    EXPECT_EQ(a.lot_credits, b.lot_credits);
    if (a.lot_prices != LotPrices::kOne) {
      EXPECT_EQ(a.lot_rest, b.lot_rest);
    }
  }
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
    if (d.allowed && d.balance >= 0 && i % 8 != 0) {  // charged from lots of one, two or more prices
      d.lot_prices = static_cast<LotPrices>(1 + i % 3);
      d.lots.price = 7 + i % 5;
      d.lots.credits = d.lot_prices == LotPrices::kOne ? 1 + i % 4 : 1;
      d.lots.rest = d.lot_prices == LotPrices::kTwo ? 3 : 999'999'999'999 + i;
    }
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
    r.lots_known = true;
    r.lot_prices = d.lot_prices;
    if (d.lot_prices != LotPrices::kNone) {
      r.lot_price = d.lots.price;
      r.lot_credits = d.lot_prices == LotPrices::kOne ? q.cost : d.lots.credits;
      r.lot_rest = d.lots.rest;
    }
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

// Verifies a damaged lot split is reported as an error naming it, never
// decoded into money: a price or rest of 0, credits that are not a strict
// part of the cost, kTwo's rest equal to its price, a split on a call of
// cost 0, a lot state past the last, and a state on an unpriced check.
TEST(BlockCodec, RejectsDamagedLotSplits) {
  auto priced = [](LotPrices prices, int64_t cost, int64_t price, int64_t credits, int64_t rest) {
    CallRecord r;
    r.time = kT0;
    r.key = "acme";
    r.cost = cost;
    r.allowed = true;
    r.code = Code::kOk;
    r.balance = 500;
    r.lots_known = true;
    r.lot_prices = prices;
    r.lot_price = price;
    r.lot_credits = credits;
    r.lot_rest = rest;
    return r;
  };
  auto decode_one = [](const CallRecord& r) {
    BlockEncoder encoder;
    encoder.add(r);
    std::string raw;
    encoder.finish(raw);
    DecodedBlock out;
    return decode_block(raw, out);
  };
  ASSERT_TRUE(decode_one(priced(LotPrices::kTwo, 3, 10, 1, 9)).has_value());
  ASSERT_TRUE(decode_one(priced(LotPrices::kMany, 3, 10, 2, 17)).has_value());
  const struct {
    CallRecord r;
    std::string_view error;
  } bad[] = {
      {priced(LotPrices::kOne, 3, 0, 3, 0), "lot price 0 out of range"},
      {priced(LotPrices::kOne, 0, 10, 0, 0), "lot split of a call whose cost is not positive"},
      {priced(LotPrices::kTwo, 3, 10, 3, 9), "lot split of 3 credits, not a part of the call's cost"},
      {priced(LotPrices::kTwo, 3, 10, 0, 9), "lot split of 0 credits"},
      {priced(LotPrices::kMany, 3, 10, 1, 0), "lot split rest 0 out of range"},
      {priced(LotPrices::kTwo, 3, 10, 1, 10), "lot split rest 10 out of range"},
  };
  for (const auto& b : bad) {
    const auto decoded = decode_one(b.r);
    ASSERT_FALSE(decoded.has_value()) << b.error;
    EXPECT_NE(decoded.error().find(b.error), std::string::npos) << decoded.error();
  }
  // The code byte's lot state bits: past the last state, or on a check
  // without a balance.
  BlockEncoder encoder;
  encoder.add(priced(LotPrices::kNone, 3, 0, 0, 0));
  std::string raw;
  encoder.finish(raw);
  const size_t code_at = raw.rfind('\x90');  // kOk | (1 + kNone) << 4 | balance bit
  ASSERT_NE(code_at, std::string::npos);
  for (const char code : {'\xd0', '\x10'}) {  // state 5; state 1 without the balance bit
    std::string damaged = raw;
    damaged[code_at] = code;
    DecodedBlock out;
    const auto decoded = decode_block(damaged, out);
    ASSERT_FALSE(decoded.has_value());
    EXPECT_NE(decoded.error().find("bad lot split state"), std::string::npos) << decoded.error();
  }
}

// A raw block written by the encoder before the lot split existed (commit
// 2217bd5): acme, priced, three allowed calls of cost 3 (balances 970, 940,
// 912) and one denied (BALANCE, 912); then an unpriced key's call.
constexpr std::string_view kBlockBeforeLotSplit(
    "\x03\x04\x61\x63\x6d\x65\x07\x62\x61\x6c\x61\x6e\x63\x65\x0b\x69\x70\x3a\x31\x30\x2e\x30"
    "\x2e\x30\x2e\x31\x00\x05\x80\x80\xd0\xe2\xc6\xbf\xce\x97\x2f\x85\x00\x00\x00\x00\x00\x80"
    "\x94\x0f\x06\x85\x80\x89\x7a\x00\x00\x00\x00\x80\x3b\x06\x85\x80\x89\x7a\x00\x00\x00\x00"
    "\x80\x37\x06\x81\x80\x89\x7a\x00\x00\x00\x02\x86\x00\x06\x05\x80\xb6\xdc\x05\x02\x00\x00"
    "\x00\x00",
    90);

// Verifies a block written before the lot split decodes as it did (no lot
// split: lots_known false, so replay infers it), and that the same records
// written now, with their splits, decode with them.
TEST(BlockCodec, ReadsBlocksFromBeforeTheLotSplit) {
  DecodedBlock old;
  ASSERT_TRUE(decode_block(std::string(kBlockBeforeLotSplit), old).has_value());
  ASSERT_EQ(old.records.size(), 5u);
  const int64_t balances[] = {970, 940, 912, 912};
  for (size_t i = 0; i < 4; ++i) {
    const CallRecord& r = old.records[i];
    EXPECT_EQ(r.key, "acme");
    EXPECT_EQ(r.cost, 3);
    EXPECT_EQ(r.balance, balances[i]);
    EXPECT_EQ(r.allowed, i < 3);
    EXPECT_EQ(r.code, i < 3 ? Code::kOk : Code::kBalance);
    EXPECT_FALSE(r.lots_known);
    EXPECT_EQ(r.lot_prices, LotPrices::kNone);
  }
  EXPECT_EQ(old.records[4].key, "ip:10.0.0.1");
  EXPECT_EQ(old.records[4].balance, -1);

  BlockEncoder encoder;
  for (CallRecord r : old.records) {
    if (r.balance >= 0) r.lots_known = true;
    if (r.allowed && r.balance >= 0) {
      r.lot_prices = LotPrices::kOne;
      r.lot_price = 10;
      r.lot_credits = 3;
    }
    if (r.balance == 912 && r.allowed) {  // the crossing call: 1 credit at 10, 2 at 9
      r.lot_prices = LotPrices::kTwo;
      r.lot_credits = 1;
      r.lot_rest = 9;
    }
    encoder.add(r);
  }
  std::string raw;
  encoder.finish(raw);
  DecodedBlock now;
  ASSERT_TRUE(decode_block(raw, now).has_value());
  ASSERT_EQ(now.records.size(), 5u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(now.records[i].lots_known);
    EXPECT_EQ(now.records[i].lot_prices, i < 2 ? LotPrices::kOne : i == 2 ? LotPrices::kTwo : LotPrices::kNone);
  }
  EXPECT_EQ(now.records[2].lot_price, 10);
  EXPECT_EQ(now.records[2].lot_credits, 1);
  EXPECT_EQ(now.records[2].lot_rest, 9);
  EXPECT_EQ(now.records[1].lot_credits, 3);
  EXPECT_FALSE(now.records[4].lots_known);
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
