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
constexpr uint8_t kBalanceBit = 0x80;  // in a check's code byte

// Reads the raw block front to back; any overrun sets `error` once.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes, size_t at = 0) : bytes_(bytes), at_(at) {}
  size_t at() const { return at_; }
  uint64_t varint() {
    // Most values (indices, small deltas) are one byte: no loop for them.
    if (at_ < bytes_.size()) [[likely]] {
      const auto b = static_cast<uint8_t>(bytes_[at_]);
      if (b < 0x80) {
        ++at_;
        return b;
      }
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= bytes_.size()) return fail("varint runs past the end");
      const auto b = static_cast<uint8_t>(bytes_[at_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail("varint longer than 10 bytes");
  }
  int64_t zigzag() {
    const uint64_t v = varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  uint8_t byte() {
    if (at_ >= bytes_.size()) return static_cast<uint8_t>(fail("record runs past the end"));
    return static_cast<uint8_t>(bytes_[at_++]);
  }
  uint64_t u64() {
    if (bytes_.size() - at_ < 8) return fail("u64 runs past the end");
    const uint64_t v = files::get_u64(bytes_.data() + at_);
    at_ += 8;
    return v;
  }
  std::string_view bytes(uint64_t n) {
    if (bytes_.size() - at_ < n) {
      fail("string runs past the end");
      return {};
    }
    std::string_view s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }
  uint64_t fail(std::string_view why) {
    if (error.empty()) error = std::string(why) + " at byte " + std::to_string(at_);
    at_ = bytes_.size();
    return 0;
  }
  std::string error;

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

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
  if (r.kind == RecordKind::kCheck) {
    put_varint(body_, r.channel.empty() ? 0 : intern(r.channel) + 1);
    put_varint(body_, r.purpose.empty() ? 0 : intern(r.purpose) + 1);
    put_varint(body_, r.limit.empty() ? 0 : intern(r.limit) + 1);
    const bool priced = r.balance >= 0;
    body_.push_back(static_cast<char>(static_cast<uint8_t>(r.code) | (priced ? kBalanceBit : 0)));
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
  for (uint64_t i = 0; i < string_count && c.error.empty(); ++i) strings_.push_back(c.bytes(c.varint()));
  const uint64_t subject_count = c.varint();
  if (subject_count > raw.size()) return std::unexpected("subject count is larger than the block");
  subjects_.reserve(subject_count);
  for (uint64_t i = 0; i < subject_count && c.error.empty(); ++i) subjects_.push_back(c.u64());
  const uint64_t n = c.varint();
  if (n > raw.size()) return std::unexpected("record count " + std::to_string(n) + " is larger than the block");
  time_ = c.zigzag();
  if (!c.error.empty()) return std::unexpected(c.error);
  last_balance_.assign(strings_.size(), 0);
  count_ = n;
  body_ = c.at();
  return {};
}

std::expected<void, std::string> BlockDecoder::next(size_t max, std::vector<CallRecord>& out,
                                                    std::vector<uint32_t>& keys) {
  return decode(max, &out, &keys);
}

// next(), and without `out` check_rest()'s pass, which decodes every
// record the same way but keeps none (no vector written: a cheap pass).
std::expected<void, std::string> BlockDecoder::decode(size_t max, std::vector<CallRecord>* out,
                                                      std::vector<uint32_t>* keys) {
  const bool keep = out != nullptr;
  if (keep) {
    out->clear();
    keys->clear();
  }
  Cursor c(raw_, body_);
  auto string_at = [&](uint64_t index) -> std::string_view {
    if (index >= strings_.size()) {
      c.fail("string index " + std::to_string(index) + " out of range");
      return {};
    }
    return strings_[index];
  };
  auto optional_string = [&]() -> std::string_view {
    const uint64_t v = c.varint();
    return v == 0 ? std::string_view() : string_at(v - 1);
  };
  const uint64_t until = decoded_ + std::min<uint64_t>(max, count_ - decoded_);
  if (keep) {
    out->reserve(until - decoded_);
    keys->reserve(until - decoded_);
  }
  Nanos time = time_;
  CallRecord scratch;
  for (; decoded_ < until && c.error.empty(); ++decoded_) {
    CallRecord* record = &scratch;
    if (keep) record = &out->emplace_back();
    else scratch = CallRecord{};
    CallRecord& r = *record;
    const uint8_t flags = c.byte();
    uint64_t kind = flags & kKindMask;
    const bool extended = kind == 0;
    if (extended) kind = c.varint();
    if (kind < 1 || kind > kLastRecordKind || (extended && kind <= kKindMask)) {
      c.fail("unknown record kind " + std::to_string(kind));
      break;
    }
    r.kind = static_cast<RecordKind>(kind);
    r.allowed = (flags & kAllowed) != 0;
    time += c.zigzag();
    r.time = time;
    const uint64_t key = c.varint();
    r.key = string_at(key);
    if (keep) keys->push_back(static_cast<uint32_t>(key));
    if (r.kind == RecordKind::kCheck) {
      r.channel = optional_string();
      r.purpose = optional_string();
      r.limit = optional_string();
      const uint8_t code_byte = c.byte();
      const uint8_t code = code_byte & ~kBalanceBit;
      if (code >= kCodeCount) c.fail("unknown decision code " + std::to_string(code));
      r.code = static_cast<Code>(code);
      if ((code_byte & kBalanceBit) != 0 && c.error.empty()) {
        r.balance = last_balance_[key] + c.zigzag();
        last_balance_[key] = r.balance;
      }
    } else if (extended) {
      r.channel = optional_string();
      r.limit = optional_string();
      r.text = c.bytes(c.varint());
    }
    r.cost = (flags & kCost) ? c.zigzag() : 1;
    if (flags & kSubject) {
      const uint64_t s = c.varint();
      if (s >= subjects_.size()) c.fail("subject index out of range");
      else if (keep) r.subject_hash = subjects_[s];  // a random read in a large table: only when kept
    }
    if (flags & kId) r.id_hash = c.u64();
    if (flags & kHold) r.hold_ms = c.zigzag();
    if (flags & kWait) r.wait_ms = c.zigzag();
  }
  time_ = time;
  body_ = c.at();
  if (!c.error.empty()) {
    decoded_ = count_;  // nothing more decodes
    return std::unexpected(c.error);
  }
  return {};
}

std::expected<void, std::string> BlockDecoder::check_rest() {
  const size_t body = body_;
  const Nanos time = time_;
  const uint64_t decoded = decoded_;
  const std::vector<int64_t> last_balance = last_balance_;
  const std::expected<void, std::string> result = decode(remaining(), nullptr, nullptr);
  body_ = body;
  time_ = time;
  decoded_ = decoded;
  last_balance_ = last_balance;
  return result;
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
