// BlockDecoder (calllog/block_codec.h): a block decoded a chunk at a time,
// as tollgate-replay reads it, gives exactly what decode_block gives, with
// each record's key as its index among the block's strings; a damaged block
// is found before any record is handed out (SegmentReader::next_block).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "calllog/block_codec.h"
#include "calllog/segment.h"

namespace tollgate::calllog {
namespace {

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;

// A mix of kinds, keys, optional fields and balances (record i).
CallRecord record(int i) {
  static const char* kKeys[] = {"acme", "globex", "ip:10.0.0.1", "initech"};
  CallRecord r;
  r.kind = i % 29 == 0 ? RecordKind::kSettle : i % 31 == 0 ? RecordKind::kRecharge : RecordKind::kCheck;
  r.time = kT0 + i * kNanosPerMilli - (i % 5 == 0 ? 3 : 0);  // time may step back a little
  r.key = kKeys[i % 4];
  if (r.kind == RecordKind::kCheck) {
    r.channel = i % 2 ? "web" : "";
    r.purpose = i % 5 == 0 ? "search" : "";
    r.allowed = i % 4 != 0;
    r.code = r.allowed ? Code::kOk : Code::kQuota;
    r.limit = r.allowed ? "" : "daily";
    r.balance = r.key == std::string_view("acme") ? 100'000 - i * 7 : -1;
    r.subject_hash = i % 7 == 0 ? 0 : log_hash("user" + std::to_string(i % 11));
    r.hold_ms = i % 13 == 0 ? 5000 : -1;
    r.wait_ms = i % 17 == 0 ? 100 : -1;
  }
  r.cost = 1 + i % 4;
  r.id_hash = i % 3 == 0 ? log_hash("id" + std::to_string(i)) : 0;
  return r;
}

void expect_same(const CallRecord& a, const CallRecord& b, size_t i) {
  EXPECT_EQ(a.kind, b.kind) << i;
  EXPECT_EQ(a.time, b.time) << i;
  EXPECT_EQ(a.key, b.key) << i;
  EXPECT_EQ(a.channel, b.channel) << i;
  EXPECT_EQ(a.purpose, b.purpose) << i;
  EXPECT_EQ(a.cost, b.cost) << i;
  EXPECT_EQ(a.subject_hash, b.subject_hash) << i;
  EXPECT_EQ(a.id_hash, b.id_hash) << i;
  EXPECT_EQ(a.hold_ms, b.hold_ms) << i;
  EXPECT_EQ(a.wait_ms, b.wait_ms) << i;
  EXPECT_EQ(a.allowed, b.allowed) << i;
  EXPECT_EQ(a.code, b.code) << i;
  EXPECT_EQ(a.limit, b.limit) << i;
  EXPECT_EQ(a.balance, b.balance) << i;
}

std::string encoded(int n) {
  BlockEncoder encoder;
  for (int i = 0; i < n; ++i) encoder.add(record(i));
  std::string raw;
  encoder.finish(raw);
  return raw;
}

// Verifies chunks of every size (1, 7, 256, all) decode to the records
// encoded, in order, each with its key's string index, and that
// check_rest() in the middle of a block decodes the rest without moving the
// decoder (balances, which run per key across the block, included).
TEST(BlockDecoder, ChunksDecodeWhatWasEncodedWithKeyIndices) {
  const int n = 1000;
  const std::string raw = encoded(n);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{256}, size_t{n}}) {
    BlockDecoder decoder;
    ASSERT_TRUE(decoder.start(raw).has_value());
    ASSERT_EQ(decoder.remaining(), static_cast<uint64_t>(n));
    std::vector<CallRecord> out;
    std::vector<uint32_t> keys;
    size_t i = 0;
    while (decoder.remaining() > 0) {
      if (i == 500) {
        ASSERT_TRUE(decoder.check_rest().has_value());
      }
      ASSERT_TRUE(decoder.next(chunk, out, keys).has_value());
      ASSERT_EQ(keys.size(), out.size());
      ASSERT_LE(out.size(), chunk);
      for (size_t k = 0; k < out.size(); ++k, ++i) {
        expect_same(out[k], record(static_cast<int>(i)), i);
        ASSERT_LT(keys[k], decoder.strings().size());
        EXPECT_EQ(decoder.strings()[keys[k]], out[k].key) << i;
      }
    }
    EXPECT_EQ(i, static_cast<size_t>(n)) << chunk;
  }
}

// Verifies a cut block is an error from check_rest() (before any record is
// handed out), never a crash; and that next() past the damage errors too
// and then decodes nothing more.
TEST(BlockDecoder, CutBlockIsFoundByCheckRest) {
  const std::string raw = encoded(300);
  for (size_t cut = 1; cut < raw.size(); cut += 5) {
    const std::string part = raw.substr(0, cut);
    BlockDecoder decoder;
    if (!decoder.start(part)) continue;  // the tables themselves are cut
    EXPECT_FALSE(decoder.check_rest().has_value()) << cut;
    std::vector<CallRecord> out;
    std::vector<uint32_t> keys;
    EXPECT_FALSE(decoder.next(1000, out, keys).has_value()) << cut;
    EXPECT_EQ(decoder.remaining(), 0u) << cut;
  }
}

// Verifies check_rest() accepts exactly what next() decodes: every byte of
// the records of a block, set to each of a few values (a bad kind, a string
// or subject index out of range, an unknown code, a varint running on),
// is either accepted by both with the same records or rejected by both with
// the same error. check_rest() is what keeps a damaged block from being
// half replayed (it runs before any record is handed out): a damage it
// missed would surface in the middle of the block.
TEST(BlockDecoder, CheckRestAcceptsExactlyWhatNextDecodes) {
  const std::string raw = encoded(120);
  std::vector<std::string> seen_errors;
  size_t rejected = 0, accepted = 0;
  for (size_t at = 0; at < raw.size(); ++at) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0x03}, uint8_t{0x7f}, uint8_t{0x80}, uint8_t{0xff},
                          static_cast<uint8_t>(raw[at] ^ 0x40)}) {
      std::string damaged = raw;
      damaged[at] = static_cast<char>(value);
      BlockDecoder checker, reader;
      if (!checker.start(damaged) || !reader.start(damaged)) continue;  // the tables themselves
      const auto checked = checker.check_rest();
      std::vector<CallRecord> out;
      std::vector<uint32_t> keys;
      const auto decoded = reader.next(reader.remaining(), out, keys);
      ASSERT_EQ(checked.has_value(), decoded.has_value()) << "byte " << at << " = " << int{value};
      if (!checked) {
        ++rejected;
        EXPECT_EQ(checked.error(), decoded.error()) << at;
        EXPECT_NE(checked.error().find(" at byte "), std::string::npos) << checked.error();
        EXPECT_TRUE(out.empty());
        seen_errors.push_back(checked.error());
        continue;
      }
      ++accepted;
      // Accepted: the checker decodes the same records after its check.
      std::vector<CallRecord> again;
      ASSERT_TRUE(checker.next(checker.remaining(), again, keys).has_value()) << at;
      ASSERT_EQ(again.size(), out.size());
      for (size_t i = 0; i < out.size(); ++i) expect_same(again[i], out[i], i);
    }
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, 0u);
  // A damaged code byte shows as a bad lot split state: its Code takes
  // bits 0-3, and with 16 codes every value of them is a code.
  for (const char* kind : {"unknown record kind", "string index", "bad lot split state", "subject index",
                           "runs past the end"}) {
    bool found = false;
    for (const std::string& e : seen_errors) found = found || e.find(kind) != std::string::npos;
    EXPECT_TRUE(found) << "no damage gave \"" << kind << "\"";
  }
}

// Verifies SegmentReader::next_block hands out the blocks next() does (same
// records), and skips a frame whose block passes its checksum but does not
// decode, reporting it with its offset, exactly as next() does.
TEST(BlockDecoder, NextBlockReadsWhatNextReadsAndSkipsUndecodableBlocks) {
  std::string pattern = ::testing::TempDir() + "blockdecoder-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::string path = pattern + "/" + segment_name(1);
  std::string bytes(kSegmentHeader);
  const std::string good = encoded(200);
  const std::string bad = encoded(200).substr(0, good.size() / 2);  // checksummed as it is: decodes short
  ASSERT_TRUE(append_frame(good, 200, kT0, kT0 + kNanosPerSecond, 1, bytes).has_value());
  const size_t bad_offset = bytes.size();
  ASSERT_TRUE(append_frame(bad, 200, kT0, kT0 + kNanosPerSecond, 1, bytes).has_value());
  ASSERT_TRUE(append_frame(good, 200, kT0, kT0 + kNanosPerSecond, 1, bytes).has_value());
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
  auto whole = SegmentReader::open(path);
  auto chunked = SegmentReader::open(path);
  ASSERT_TRUE(whole.has_value());
  ASSERT_TRUE(chunked.has_value());
  std::vector<SegmentProblem> whole_problems, chunked_problems;
  DecodedBlock block;
  std::string raw;
  BlockDecoder decoder;
  int blocks = 0;
  while (whole->next(block, whole_problems)) {
    ASSERT_TRUE(chunked->next_block(raw, decoder, chunked_problems));
    std::vector<CallRecord> out;
    std::vector<uint32_t> keys;
    ASSERT_TRUE(decoder.next(1000, out, keys).has_value());
    ASSERT_EQ(out.size(), block.records.size());
    for (size_t i = 0; i < out.size(); ++i) expect_same(out[i], block.records[i], i);
    ++blocks;
  }
  EXPECT_FALSE(chunked->next_block(raw, decoder, chunked_problems));
  EXPECT_EQ(blocks, 2);
  ASSERT_EQ(whole_problems.size(), 1u);
  ASSERT_EQ(chunked_problems.size(), 1u);
  EXPECT_EQ(chunked_problems[0].offset, bad_offset);
  EXPECT_EQ(chunked_problems[0].text(), whole_problems[0].text());
  EXPECT_NE(chunked_problems[0].reason.find("does not decode"), std::string::npos) << chunked_problems[0].reason;
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace tollgate::calllog
