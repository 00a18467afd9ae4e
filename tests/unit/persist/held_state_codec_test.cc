// state_codec's records for open holds, remembered ID replies and
// distinct-subject members: round trips, and damaged payloads (truncated,
// extended, wrong version, flipped bytes, garbage) are errors, never crashes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "persist/state_codec.h"

namespace tollgate::persist {
namespace {

HoldImage sample_hold(uint64_t hash) {
  HoldImage h;
  h.hash = hash;
  h.contract = "acme";
  h.cost = 3;
  h.charged_at = 1'700'000'000'000'000'000;
  h.expires_at = h.charged_at + 30'000'000'000;
  h.limits = {"daily", "burst"};
  h.takes_slot = true;
  h.commit_on_expiry = true;
  h.spans = {DebitSpan{0, 2}, DebitSpan{1, 1}};
  return h;
}

// A hold set in the layout of version 1 (written by daemons before holds
// could span more than 4 lots): exactly what that version's encode_holds
// wrote — u8 span count.
std::string encode_holds_v1(const HoldSet& set) {
  Encoder out;
  out.u8(1);
  out.u64(set.ledger_seq);
  out.u32(static_cast<uint32_t>(set.holds.size()));
  for (const HoldImage& h : set.holds) {
    out.u64(h.hash);
    out.str(h.contract);
    out.i64(h.cost);
    out.i64(h.charged_at);
    out.i64(h.expires_at);
    out.u8(static_cast<uint8_t>((h.takes_slot ? 1 : 0) | (h.commit_on_expiry ? 2 : 0)));
    out.u8(static_cast<uint8_t>(h.limits.size()));
    for (const std::string& name : h.limits) out.str(name);
    out.u8(static_cast<uint8_t>(h.spans.size()));
    for (const DebitSpan& span : h.spans) {
      out.u32(span.lot);
      out.i64(span.credits);
    }
  }
  return std::move(out.bytes());
}

HoldImage many_lots_hold(uint64_t hash, uint32_t lots) {
  HoldImage h = sample_hold(hash);
  h.spans.clear();
  h.cost = 0;
  for (uint32_t i = 0; i < lots; ++i) {
    h.spans.push_back(DebitSpan{i, 1 + i % 5});
    h.cost += 1 + i % 5;
  }
  return h;
}

// Every proper prefix and the payload plus one byte fail; a wrong version
// fails; flipping any single byte and pure garbage never crash.
template <typename Decode>
void expect_rejects_damage(const std::string& bytes, Decode decode) {
  ASSERT_TRUE(decode(bytes).has_value());
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decode(std::string_view(bytes).substr(0, n)).has_value()) << "prefix of " << n << " bytes";
  EXPECT_FALSE(decode(bytes + '\0').has_value());
  std::string wrong_version = bytes;
  wrong_version[0] = static_cast<char>(bytes[0] + 1);  // the next version is not known yet
  EXPECT_FALSE(decode(wrong_version).has_value());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0xff);
    (void)decode(flipped);  // may decode to other values; must not crash or over-allocate
  }
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int round = 0; round < 200; ++round) {
    std::string garbage(static_cast<size_t>(round % 64), '\0');
    for (char& c : garbage) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    if (!garbage.empty()) garbage[0] = bytes[0];
    (void)decode(garbage);
  }
}

// Verifies a hold set survives encoding whole, including an empty set.
TEST(HeldStateCodec, HoldsRoundTrip) {
  HoldSet set{1234, {sample_hold(7), sample_hold(9)}};
  set.holds[1].limits.clear();
  set.holds[1].spans.clear();
  set.holds[1].takes_slot = false;
  auto decoded = decode_holds(encode_holds(set));
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(*decoded, set);
  auto empty = decode_holds(encode_holds(HoldSet{}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->holds.empty());
}

// Verifies holds over any number of lots (past the 4 a hold-pool slot keeps
// inline: 5, 7, 300) survive encoding with every span.
TEST(HeldStateCodec, HoldsOverManyLotsRoundTrip) {
  HoldSet set{77, {many_lots_hold(1, 5), sample_hold(2), many_lots_hold(3, 7), many_lots_hold(4, 300)}};
  const std::string bytes = encode_holds(set);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kHoldsPayloadVersion);
  auto decoded = decode_holds(bytes);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(*decoded, set);
  EXPECT_EQ(decoded->holds[3].spans.size(), 300u);
}

// Verifies a hold set written in version 1 (by the previous daemon, at most 4
// spans a hold, u8 count) still decodes to the same holds; a set whose holds
// all fit version 1 is still written byte for byte as the previous daemon
// wrote it (so it can read the store back), one with a hold over more lots in
// version 2; a version-1 record with more than 4 spans was never written and
// is refused.
TEST(HeldStateCodec, Version1HoldsStillDecode) {
  HoldSet set{1234, {sample_hold(7), many_lots_hold(9, 4)}};
  set.holds[0].limits.clear();
  const std::string old_bytes = encode_holds_v1(set);
  ASSERT_EQ(old_bytes[0], 1);
  auto decoded = decode_holds(old_bytes);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(*decoded, set);
  EXPECT_EQ(encode_holds(set), old_bytes);
  EXPECT_EQ(encode_holds(HoldSet{5, {}}), encode_holds_v1(HoldSet{5, {}}));
  expect_rejects_damage(old_bytes, [](std::string_view b) { return decode_holds(b); });
  HoldSet five{1, {many_lots_hold(1, 5)}};
  EXPECT_FALSE(decode_holds(encode_holds_v1(five)).has_value());
  set.holds.push_back(many_lots_hold(11, 5));
  const std::string new_bytes = encode_holds(set);
  EXPECT_EQ(static_cast<uint8_t>(new_bytes[0]), kHoldsPayloadVersion);
  EXPECT_EQ(decode_holds(new_bytes).value_or(HoldSet{}), set);
}

// Verifies damaged hold payloads are rejected.
TEST(HeldStateCodec, HoldsRejectDamage) {
  HoldSet set{99, {sample_hold(7), sample_hold(9), many_lots_hold(11, 6)}};
  expect_rejects_damage(encode_holds(set), [](std::string_view b) { return decode_holds(b); });
}

// Verifies a hold with negative credits or cost is rejected rather than
// trusted.
TEST(HeldStateCodec, HoldsRejectImpossibleValues) {
  HoldSet set{1, {sample_hold(1)}};
  set.holds[0].spans = {DebitSpan{0, -5}};
  EXPECT_FALSE(decode_holds(encode_holds(set)).has_value());
  set.holds[0] = sample_hold(1);
  set.holds[0].cost = -1;
  EXPECT_FALSE(decode_holds(encode_holds(set)).has_value());
}

// Verifies ID replies round-trip, limit index -1 included, and damage is rejected.
TEST(HeldStateCodec, IdRecords) {
  std::vector<DedupTable::Record> records(2);
  records[0] = {42, 1'000, {5, 60'000, 9'700, 2}};
  records[1] = {UINT64_MAX, 2'000, {0, 0, -1, -1}};
  const std::string bytes = encode_id_records(records);
  auto decoded = decode_id_records(bytes);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  ASSERT_EQ(decoded->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*decoded)[i].hash, records[i].hash);
    EXPECT_EQ((*decoded)[i].expires_at, records[i].expires_at);
    EXPECT_EQ((*decoded)[i].stored.remaining, records[i].stored.remaining);
    EXPECT_EQ((*decoded)[i].stored.reset_after_ms, records[i].stored.reset_after_ms);
    EXPECT_EQ((*decoded)[i].stored.balance, records[i].stored.balance);
    EXPECT_EQ((*decoded)[i].stored.limit_index, records[i].stored.limit_index);
  }
  expect_rejects_damage(bytes, [](std::string_view b) { return decode_id_records(b); });
}

// Verifies distinct-subject members round-trip and damage is rejected.
TEST(HeldStateCodec, SubjectMembers) {
  SubjectMembers m{"acme", "subjects", 1'699'920'000'000'000'000, {2, 3, 0xffffffffffffffffULL}};
  const std::string bytes = encode_subjects(m);
  auto decoded = decode_subjects(bytes);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(*decoded, m);
  expect_rejects_damage(bytes, [](std::string_view b) { return decode_subjects(b); });
}

// Verifies estimate registers round-trip and damage (a register index or
// precision out of range included) is rejected.
TEST(HeldStateCodec, SubjectEstimate) {
  EstimateWords e{"acme", {1'699'920'000'000'000'000, 14, {{0, 0x0102030405060708ULL}, {2047, 1}}}};
  const std::string bytes = encode_subject_estimate(e);
  auto decoded = decode_subject_estimate(bytes);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(decoded->contract, "acme");
  EXPECT_EQ(decoded->registers.period_start, e.registers.period_start);
  EXPECT_EQ(decoded->registers.precision, 14);
  EXPECT_EQ(decoded->registers.words, e.registers.words);
  expect_rejects_damage(bytes, [](std::string_view b) { return decode_subject_estimate(b); });
  e.registers.words = {{2048, 1}};  // 2^14 registers are 2048 words
  EXPECT_FALSE(decode_subject_estimate(encode_subject_estimate(e)).has_value());
  e.registers.words.clear();
  e.registers.precision = 30;
  EXPECT_FALSE(decode_subject_estimate(encode_subject_estimate(e)).has_value());
}

// Verifies a count far beyond the bytes present is rejected before any
// allocation sized by it.
TEST(HeldStateCodec, HugeCountsAreRejected) {
  Encoder holds;
  holds.u8(kPayloadVersion);
  holds.u64(0);
  holds.u32(UINT32_MAX);
  EXPECT_FALSE(decode_holds(holds.bytes()).has_value());
  // One hold whose span count is far beyond the bytes present.
  std::string one = encode_holds(HoldSet{0, {many_lots_hold(1, 5)}});
  const size_t count_at = one.size() - 5 * (4 + 8) - 4;
  ASSERT_EQ(one.substr(count_at, 4), std::string("\x05\0\0\0", 4));
  one.replace(count_at, 4, std::string("\xff\xff\xff\x7f", 4));
  EXPECT_FALSE(decode_holds(one).has_value());
  Encoder e;
  e.u8(kPayloadVersion);
  e.u32(UINT32_MAX);
  EXPECT_FALSE(decode_id_records(e.bytes()).has_value());
  Encoder s;
  s.u8(kPayloadVersion);
  s.str("acme");
  s.str("subjects");
  s.i64(0);
  s.u32(UINT32_MAX);
  EXPECT_FALSE(decode_subjects(s.bytes()).has_value());
}

}  // namespace
}  // namespace tollgate::persist
