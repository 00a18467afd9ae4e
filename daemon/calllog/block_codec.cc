#include "calllog/block_codec.h"

#include <xxhash.h>

#include <algorithm>

#include "persist/files/little_endian.h"

namespace tollgate::calllog {
namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_zigzag(std::string& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void put_u64(std::string& out, uint64_t v) {
  char b[8];
  files::put_u64(b, v);
  out.append(b, 8);
}

enum Flag : uint8_t {
  kKindMask = 0x03,
  kAllowed = 0x04,
  kSubject = 0x08,
  kId = 0x10,
  kHold = 0x20,
  kWait = 0x40,
  kCost = 0x80,
};
// A check's code byte: bits 0-3 the Code, 4-6 its lot split's state
// (kLotsUnknown: not recorded; else kLotsKnown + LotPrices), 7 a balance follows.
constexpr uint8_t kBalanceBit = 0x80;
constexpr uint8_t kCodeMask = 0x0f;
constexpr uint8_t kLotShift = 4;
constexpr uint8_t kLotsUnknown = 0;
constexpr uint8_t kLotsKnown = 1;
constexpr uint8_t kLotStates = kLotsKnown + static_cast<uint8_t>(LotPrices::kMany) + 1;
static_assert(kCodeCount <= kCodeMask + 1);

}  // namespace

// Named, not anonymous: BlockDecoder's member template uses it.
namespace block_cursor {

// Reads the raw block front to back. The first error is kept (what and
// where) and moves the cursor to the end, so that every later read fails at
// once and returns 0: a caller tests ok() once per record, not per field.
// Everything is inline and nothing takes the cursor's address (an error is
// kept as a message's parts; error() makes the text), so that the compiler
// keeps the position in a register through the decoding loop instead of
// loading and storing it at every byte.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes, size_t at = 0)
      : begin_(reinterpret_cast<const uint8_t*>(bytes.data())), p_(begin_ + at), end_(begin_ + bytes.size()) {}
  size_t at() const { return static_cast<size_t>(p_ - begin_); }
  bool ok() const { return why_ == nullptr; }
  // Inlined for one and two bytes (indices, small time deltas): no loop.
  [[gnu::always_inline]] uint64_t varint() {
    if (end_ - p_ >= 2) [[likely]] {
      const uint64_t b0 = p_[0];
      if (b0 < 0x80) {
        p_ += 1;
        return b0;
      }
      const uint64_t b1 = p_[1];
      if (b1 < 0x80) {
        p_ += 2;
        return (b0 & 0x7f) | (b1 << 7);
      }
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) [[unlikely]]
        return fail("varint runs past the end");
      const uint8_t b = *p_++;
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail("varint longer than 10 bytes");
  }
  [[gnu::always_inline]] int64_t zigzag() {
    const uint64_t v = varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  [[gnu::always_inline]] uint8_t byte() {
    if (p_ < end_) [[likely]]
      return *p_++;
    return static_cast<uint8_t>(fail("record runs past the end"));
  }
  uint64_t u64() {
    if (end_ - p_ < 8) [[unlikely]]
      return fail("u64 runs past the end");
    const uint64_t v = files::get_u64(reinterpret_cast<const char*>(p_));
    p_ += 8;
    return v;
  }
  std::string_view bytes(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) [[unlikely]] {
      fail("string runs past the end");
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  // `v` when it is below `count` (an index into a table of `count`), else
  // an error ("<what> <v> out of range") and 0.
  [[gnu::always_inline]] uint64_t index(uint64_t v, uint64_t count, const char* what) {
    if (v < count) [[likely]]
      return v;
    return fail(what, v, " out of range");
  }
  // An optional string of the `count` in `strings`: varint 0 is none, i + 1
  // the i-th. Empty on an error (an index out of range is one).
  [[gnu::always_inline]] std::string_view optional_string(const std::string_view* strings, uint64_t count) {
    const uint64_t v = varint();
    if (v == 0) return {};
    if (v - 1 < count) [[likely]]
      return strings[v - 1];
    fail("string index ", v - 1, " out of range");
    return {};
  }
  // An error: "<why>[<value><after>] at byte <offset>" (the first one kept).
  uint64_t fail(const char* why, uint64_t value = 0, const char* after = nullptr) {
    if (why_ == nullptr) {
      why_ = why;
      value_ = value;
      after_ = after;
      error_at_ = at();
    }
    p_ = end_;
    return 0;
  }
  std::string error() const { return error_text(why_, value_, after_, error_at_); }

 private:
  [[gnu::noinline, gnu::cold]] static std::string error_text(const char* why, uint64_t value, const char* after,
                                                             size_t at) {
    std::string text(why);
    if (after != nullptr) text += std::to_string(value) + after;
    return text + " at byte " + std::to_string(at);
  }

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  const char* why_ = nullptr;  // null: no error
  const char* after_ = nullptr;
  uint64_t value_ = 0;
  size_t error_at_ = 0;
};

}  // namespace block_cursor

using block_cursor::Cursor;

namespace {

// The lot split of a priced check, after its other fields (`cost` is
// known). Every value is checked, so that a damaged split is reported, never
// summed; `r` gets the values (a scratch record when nothing is kept).
[[gnu::noinline]] void decode_lots(Cursor& c, CallRecord& r, LotPrices prices, int64_t cost) {
  const uint64_t limit = static_cast<uint64_t>(INT64_MAX);
  const uint64_t price = c.varint();
  if (price == 0 || price > limit) {
    c.fail("lot price ", price, " out of range");
    return;
  }
  r.lot_price = static_cast<int64_t>(price);
  if (prices == LotPrices::kOne) {
    if (cost <= 0) c.fail("lot split of a call whose cost is not positive");
    r.lot_credits = cost;
    return;
  }
  const uint64_t credits = c.varint();
  const uint64_t rest = c.varint();
  if (!c.ok()) return;
  if (credits == 0 || cost <= 0 || credits >= static_cast<uint64_t>(cost))
    c.fail("lot split of ", credits, " credits, not a part of the call's cost");
  else if (rest == 0 || rest > limit || (prices == LotPrices::kTwo && rest == price))
    c.fail("lot split rest ", rest, " out of range");
  r.lot_credits = static_cast<int64_t>(credits);
  r.lot_rest = static_cast<int64_t>(rest);
}

}  // namespace

uint64_t log_hash(std::string_view text) {
  const uint64_t h = XXH3_64bits(text.data(), text.size());
  return h == 0 ? 1 : h;
}

uint32_t BlockEncoder::intern(std::string_view s) {
  auto [it, fresh] = string_index_.try_emplace(std::string(s), static_cast<uint32_t>(strings_.size()));
  if (fresh) strings_.push_back(it->first);
  return it->second;
}

uint32_t BlockEncoder::intern_subject(uint64_t hash) {
  auto [it, fresh] = subject_index_.try_emplace(hash, static_cast<uint32_t>(subjects_.size()));
  if (fresh) subjects_.push_back(hash);
  return it->second;
}

void BlockEncoder::add(const CallRecord& r) {
  if (count_ == 0) base_time_ = previous_time_ = first_time_ = last_time_ = r.time;
  const auto kind = static_cast<uint8_t>(r.kind);
  const bool extended = kind > kKindMask;
  uint8_t flags = extended ? 0 : kind;
  if (r.allowed) flags |= kAllowed;
  if (r.subject_hash != 0) flags |= kSubject;
  if (r.id_hash != 0) flags |= kId;
  if (r.hold_ms != -1) flags |= kHold;
  if (r.wait_ms != -1) flags |= kWait;
  if (r.cost != 1) flags |= kCost;
  body_.push_back(static_cast<char>(flags));
  if (extended) put_varint(body_, kind);
  put_zigzag(body_, r.time - previous_time_);
  previous_time_ = r.time;
  const uint32_t key = intern(r.key);
  put_varint(body_, key);
  LotPrices lot_prices = LotPrices::kNone;
  if (r.kind == RecordKind::kCheck) {
    put_varint(body_, r.channel.empty() ? 0 : intern(r.channel) + 1);
    put_varint(body_, r.purpose.empty() ? 0 : intern(r.purpose) + 1);
    put_varint(body_, r.limit.empty() ? 0 : intern(r.limit) + 1);
    const bool priced = r.balance >= 0;
    const uint8_t lots =
        priced && r.lots_known ? static_cast<uint8_t>(kLotsKnown + static_cast<uint8_t>(r.lot_prices)) : kLotsUnknown;
    body_.push_back(static_cast<char>(static_cast<uint8_t>(r.code) | lots << kLotShift | (priced ? kBalanceBit : 0)));
    lot_prices = lots == kLotsUnknown ? LotPrices::kNone : r.lot_prices;
    if (priced) {
      if (last_balance_.size() <= key) last_balance_.resize(key + 1, 0);
      put_zigzag(body_, r.balance - last_balance_[key]);
      last_balance_[key] = r.balance;
    }
  } else if (extended) {
    put_varint(body_, r.channel.empty() ? 0 : intern(r.channel) + 1);
    put_varint(body_, r.limit.empty() ? 0 : intern(r.limit) + 1);
    put_varint(body_, r.text.size());
    body_.append(r.text);
  }
  if (flags & kCost) put_zigzag(body_, r.cost);
  if (flags & kSubject) put_varint(body_, intern_subject(r.subject_hash));
  if (flags & kId) put_u64(body_, r.id_hash);
  if (flags & kHold) put_zigzag(body_, r.hold_ms);
  if (flags & kWait) put_zigzag(body_, r.wait_ms);
  if (lot_prices != LotPrices::kNone) {  // the lot split: what a priced call was charged, by lot price
    put_varint(body_, static_cast<uint64_t>(r.lot_price));
    if (lot_prices != LotPrices::kOne) {
      put_varint(body_, static_cast<uint64_t>(r.lot_credits));
      put_varint(body_, static_cast<uint64_t>(r.lot_rest));
    }
  }
  ++count_;
  first_time_ = std::min(first_time_, r.time);
  last_time_ = std::max(last_time_, r.time);
}

void BlockEncoder::finish(std::string& out) const {
  out.clear();
  put_varint(out, strings_.size());
  for (std::string_view s : strings_) {
    put_varint(out, s.size());
    out.append(s);
  }
  put_varint(out, subjects_.size());
  for (uint64_t h : subjects_) put_u64(out, h);
  put_varint(out, count_);
  put_zigzag(out, base_time_);
  out.append(body_);
}

void BlockEncoder::clear() {
  strings_.clear();
  string_index_.clear();
  last_balance_.clear();
  subjects_.clear();
  subject_index_.clear();
  body_.clear();
  count_ = 0;
}

std::expected<void, std::string> BlockDecoder::start(std::string_view raw) {
  raw_ = raw;
  body_ = 0;
  count_ = decoded_ = 0;
  strings_.clear();
  subjects_.clear();
  Cursor c(raw);
  const uint64_t string_count = c.varint();
  if (string_count > raw.size()) return std::unexpected("string count " + std::to_string(string_count) + " is larger than the block");
  strings_.reserve(string_count);
  for (uint64_t i = 0; i < string_count && c.ok(); ++i) strings_.push_back(c.bytes(c.varint()));
  const uint64_t subject_count = c.varint();
  if (subject_count > raw.size()) return std::unexpected("subject count is larger than the block");
  subjects_.reserve(subject_count);
  for (uint64_t i = 0; i < subject_count && c.ok(); ++i) subjects_.push_back(c.u64());
  const uint64_t n = c.varint();
  if (n > raw.size()) return std::unexpected("record count " + std::to_string(n) + " is larger than the block");
  time_ = c.zigzag();
  if (!c.ok()) return std::unexpected(c.error());
  last_balance_.assign(strings_.size(), 0);
  count_ = n;
  body_ = c.at();
  return {};
}

std::expected<void, std::string> BlockDecoder::next(size_t max, std::vector<CallRecord>& out,
                                                    std::vector<uint32_t>& keys) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(max, count_ - decoded_));
  // Grown, never shrunk below what was decoded before: a chunk's records
  // are written over the last chunk's (each is reset as it is decoded), so
  // a reader's chunk buffer is not constructed again for every chunk.
  if (out.size() < n) out.resize(n);
  if (keys.size() < n) keys.resize(n);
  auto decoded = decode<true>(n, out.data(), keys.data());
  out.resize(decoded.has_value() ? n : 0);
  keys.resize(out.size());
  return decoded;
}

std::expected<void, std::string> BlockDecoder::check_rest() {
  // No record kept and nothing of the decoder's moved (its balances
  // included): the check decodes from its own copy of the position.
  return decode<false>(static_cast<size_t>(count_ - decoded_), nullptr, nullptr);
}

// One pass for both next() (kKeep: every field into `out`, keys into `keys`)
// and check_rest() (nothing stored, nothing of the decoder moved), so that
// what the check accepts is exactly what next() then decodes without error.
// Every record is reset and then written field by field: a field added to
// the format is decoded in this one place.
template <bool kKeep>
std::expected<void, std::string> BlockDecoder::decode(size_t n, CallRecord* out, uint32_t* keys) {
  Cursor c(raw_, body_);
  const std::string_view* const strings = strings_.data();
  const uint64_t string_count = strings_.size();
  const uint64_t subject_count = subjects_.size();
  const uint64_t* const subjects = subjects_.data();
  Nanos time = time_;
  size_t i = 0;
  for (; i < n; ++i) {
    CallRecord scratch;
    CallRecord& r = kKeep ? out[i] : scratch;
    if constexpr (kKeep) r = CallRecord{};
    const uint8_t flags = c.byte();
    uint64_t kind = flags & kKindMask;
    const bool extended = kind == 0;
    if (extended) kind = c.varint();
    if (kind < 1 || kind > kLastRecordKind || (extended && kind <= kKindMask)) [[unlikely]] {
      c.fail("unknown record kind ", kind, "");
      break;
    }
    time += c.zigzag();
    const uint64_t key = c.index(c.varint(), string_count, "string index ");
    if (!c.ok()) break;  // the key indexes the tables below
    if constexpr (kKeep) {
      r.kind = static_cast<RecordKind>(kind);
      r.allowed = (flags & kAllowed) != 0;
      r.time = time;
      r.key = strings[key];
      keys[i] = static_cast<uint32_t>(key);
    }
    if (kind == static_cast<uint64_t>(RecordKind::kCheck)) {
      const std::string_view channel = c.optional_string(strings, string_count);
      const std::string_view purpose = c.optional_string(strings, string_count);
      const std::string_view limit = c.optional_string(strings, string_count);
      if constexpr (kKeep) {
        r.channel = channel;
        r.purpose = purpose;
        r.limit = limit;
      }
      const uint8_t code_byte = c.byte();
      const uint8_t code = code_byte & kCodeMask;
      if (code >= kCodeCount) [[unlikely]]
        c.fail("unknown decision code ", code, "");
      if constexpr (kKeep) r.code = static_cast<Code>(code);
      const uint8_t lots = (code_byte & ~kBalanceBit) >> kLotShift;
      if (lots != kLotsUnknown) {
        if (lots >= kLotStates || (code_byte & kBalanceBit) == 0) [[unlikely]]
          c.fail("bad lot split state ", lots, "");
        r.lots_known = true;  // also in a scratch record: its words are checked below
        r.lot_prices = static_cast<LotPrices>(lots - kLotsKnown);
      }
      if ((code_byte & kBalanceBit) != 0) {
        const int64_t change = c.zigzag();
        if constexpr (kKeep) {
          if (c.ok()) {
            r.balance = last_balance_[key] + change;
            last_balance_[key] = r.balance;
          }
        }
      }
    } else if (extended) {
      const std::string_view channel = c.optional_string(strings, string_count);
      const std::string_view limit = c.optional_string(strings, string_count);
      if constexpr (kKeep) {
        r.channel = channel;
        r.limit = limit;
      }
      const std::string_view text = c.bytes(c.varint());
      if constexpr (kKeep) r.text = text;
    }
    const int64_t cost = (flags & kCost) ? c.zigzag() : 1;
    if constexpr (kKeep) r.cost = cost;
    if (flags & kSubject) {
      const uint64_t s = c.varint();
      if (s >= subject_count) [[unlikely]]
        c.fail("subject index out of range");
      else if constexpr (kKeep)
        r.subject_hash = subjects[s];  // a random read in a large table: only when kept
    }
    if (flags & kId) {
      const uint64_t id = c.u64();
      if constexpr (kKeep) r.id_hash = id;
    }
    if (flags & kHold) {
      const int64_t hold = c.zigzag();
      if constexpr (kKeep) r.hold_ms = hold;
    }
    if (flags & kWait) {
      const int64_t wait = c.zigzag();
      if constexpr (kKeep) r.wait_ms = wait;
    }
    if (r.lot_prices != LotPrices::kNone && c.ok()) decode_lots(c, r, r.lot_prices, cost);
    if (!c.ok()) break;
  }
  if (!c.ok()) {
    if constexpr (kKeep) {
      decoded_ = count_;  // nothing more decodes
      body_ = raw_.size();
    }
    return std::unexpected(c.error());
  }
  if constexpr (kKeep) {
    time_ = time;
    body_ = c.at();
    decoded_ += i;
  }
  return {};
}

std::expected<void, std::string> decode_block(std::string raw, DecodedBlock& out) {
  out.raw = std::move(raw);
  out.records.clear();
  BlockDecoder decoder;
  if (auto started = decoder.start(out.raw); !started) return started;
  std::vector<uint32_t> keys;
  return decoder.next(decoder.remaining(), out.records, keys);
}

}  // namespace tollgate::calllog
