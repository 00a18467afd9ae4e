// A block of the call log: records as bytes, before compression (the
// segment format, calllog/segment.h, compresses and frames blocks).
//
// Raw block layout (varint = LEB128, zz = zigzag varint):
//   varint S; S × (varint length, bytes)   the interned strings: keys,
//                                           channels, purposes, limit names
//   varint H; H × u64 (little-endian)      the interned subject hashes
//   varint N; zz base_time                 N records follow
//   per record:
//     u8 flags    bits 0-1 kind (0: extended, see below), 2 allowed/commit,
//                 3 subject, 4 id, 5 hold, 6 wait, 7 cost != 1
//     extended only: varint kind (4 and up: kGeneration, kStatus, ...)
//     zz time - previous record's time (the first: - base_time)
//     varint key (string index)
//     kCheck only: varint channel+1, purpose+1, limit+1 (0: none),
//                  u8 code: bits 0-3 the Code; bit 7: a balance follows, as
//                  zz change from the key's previous balance in the block,
//                  from 0 first; bits 4-6 (only with a balance) the lot
//                  split L: 0 not recorded (blocks written before it was),
//                  1 + LotPrices (tollgate/decision.h) otherwise
//     extended only: varint channel+1, limit+1 (0: none), varint text
//                  length, text bytes (not interned: a config's YAML)
//     [zz cost] [varint subject index] [u64 id hash] [zz hold_ms] [zz wait_ms]
//     kCheck with L = 2 (kOne): varint price (its credits: the cost);
//                L = 3, 4 (kTwo, kMany): varint price, credits, rest
//                (kTwo: the other credits' unit price; kMany: their minor
//                units). Checked on decoding: price, rest > 0 and
//                0 < credits < cost (kTwo: rest != price).
// Kinds 1-3 fit the two flag bits; later kinds are extended, so blocks
// written before they existed decode unchanged (a reader older than a kind
// reports the block holding it as damaged: "unknown record kind 0"). The lot
// split is added the same way: blocks written before it have L = 0 and
// decode unchanged (lots_known false); a reader older than it reports a
// block with a priced check as damaged ("unknown decision code").
// Strings are interned per block, so every block decodes on its own: a
// damaged block costs its own records only.
// Thread-safety: BlockEncoder and DecodedBlock are not thread-safe (one owner).
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "calllog/call_record.h"

namespace tollgate::calllog {

class BlockEncoder {
 public:
  // Appends one record (its strings are copied into the table). Allocates:
  // the writer's side, never a worker's.
  void add(const CallRecord& r);
  size_t count() const { return count_; }
  // The earliest and latest time added (a block is in time order within
  // each config generation, not across a generation's mark).
  Nanos first_time() const { return first_time_; }
  Nanos last_time() const { return last_time_; }
  // The raw block of every record added since clear(), into `out`.
  void finish(std::string& out) const;
  void clear();

 private:
  uint32_t intern(std::string_view s);
  uint32_t intern_subject(uint64_t hash);

  std::vector<std::string_view> strings_;  // views into the map's keys
  std::unordered_map<std::string, uint32_t> string_index_;
  std::vector<int64_t> last_balance_;  // by string index (the key's)
  std::vector<uint64_t> subjects_;
  std::unordered_map<uint64_t, uint32_t> subject_index_;
  std::string body_;
  size_t count_ = 0;
  Nanos base_time_ = 0;
  Nanos previous_time_ = 0;
  Nanos first_time_ = 0;
  Nanos last_time_ = 0;
};

// A decoded block: owns the raw bytes its records' views point into.
struct DecodedBlock {
  std::string raw;
  std::vector<CallRecord> records;
};

// Decodes `raw` (moved into `out`). An error says what is wrong and where
// (byte offset inside the raw block); `out.records` is then unspecified.
std::expected<void, std::string> decode_block(std::string raw, DecodedBlock& out);

// Decodes a raw block a chunk of records at a time (decode_block is this,
// all at once). For tollgate-replay: a block of 200,000 calls is ~30 MB as
// CallRecords, which streams through memory twice; a chunk of a few
// hundred stays in cache. It also tells each record's key as its index in
// the block's strings (strings()), so that a reader can resolve each
// distinct key once per block. Records' views point into the raw block
// given to start(), which must outlive them.
class BlockDecoder {
 public:
  // Reads the block's tables (strings, subject hashes, record count).
  // Errors: as decode_block's.
  std::expected<void, std::string> start(std::string_view raw);
  // Records not decoded yet.
  uint64_t remaining() const { return count_ - decoded_; }
  const std::vector<std::string_view>& strings() const { return strings_; }
  // Decodes up to `max` next records into `out` and their keys' string
  // indices into `keys` (both hold exactly those records after it; their
  // storage is reused from the last call, so pass the same vectors each
  // time). An error leaves the decoder at the end of the block (nothing
  // more decodes) and `out` empty.
  std::expected<void, std::string> next(size_t max, std::vector<CallRecord>& out, std::vector<uint32_t>& keys);
  // Decodes every remaining record, keeping none: true when they all
  // decode (what next() would then decode without error). Moves nothing:
  // next() decodes them after it. The same decoding as next() without
  // storing anything (no record, no balance), so it costs a fraction of it:
  // the pass that keeps a damaged block from being half replayed.
  std::expected<void, std::string> check_rest();

 private:
  // next() (kKeep: `n` records into `out` and their keys into `keys`) and
  // check_rest() (nothing stored or moved): one definition, so that they
  // accept exactly the same bytes.
  template <bool kKeep>
  std::expected<void, std::string> decode(size_t n, CallRecord* out, uint32_t* keys);

  std::string_view raw_;
  size_t body_ = 0;     // offset of the first undecoded record
  Nanos time_ = 0;      // the previous record's time (base_time first)
  uint64_t count_ = 0;  // records in the block
  uint64_t decoded_ = 0;
  std::vector<std::string_view> strings_;
  std::vector<uint64_t> subjects_;
  std::vector<int64_t> last_balance_;  // by string index (the key's)
};

}  // namespace tollgate::calllog
