// A worker's share of the call log: a fixed ring of bytes that one worker
// appends entries to on the CHECK path and the log's writer drains.
//
// Layout: each entry is a 32-byte Header, then the optional 8-byte words its
// flags name (in this order: hold_ms, wait_ms, balance, a cost that does not
// fit 32 bits, the subject's hash, the ID's hash), then the lot split's
// words its code byte names (a priced call's charge by lot price: the price
// for LotPrices::kOne, price, credits and rest for kTwo/kMany; none
// otherwise, so an unpriced CHECK's entry is as before), then the key, channel,
// purpose, limit, subject and ID bytes, padded to 8. A CHECK with a channel,
// a subject and a deciding limit takes 64 bytes: one cache line. An entry
// never wraps: when it does not fit before the end, a padding entry (kind 0)
// fills the rest and it starts at offset 0.
//
// Hashing is the writer's: append_check() copies SUBJECT and ID as given
// (up to kRawMax bytes; a longer one is hashed here, so an entry stays
// small) and collect() hashes them (log_hash) into the CallRecord it hands
// the writer. Privacy is unchanged: the raw bytes only live in this ring, in
// the daemon's own memory beside the request they came from, until the
// writer's next flush; what reaches a block, and so the disk, is the hash
// (call_record.h).
//
// A priced CHECK's lot split adds one word (one price) or three: only for
// calls charged from lots; an unpriced entry is unchanged.
//
// Cost on the CHECK path (bench BM_CheckCallLog mode 0, README "Call log"):
// a few register stores of the header and small inline copies of the
// strings, no hash, no call; the measured cost was the first store into a
// ring line the writer (another core) read last, a cache miss, so each
// append prefetches for writing the lines kPrefetchAhead bytes ahead, and
// the constructor touches every byte so that no page fault is left for the
// first lap.
//
// Thread-safety: single producer, single consumer, lock-free. append() and
// append_check() are called by the owning worker only; collect()/release()
// by the writer only; empty() and dropped() by any thread. `head_` is
// written by the producer (release, once per entry, after its bytes) and
// read by the consumer (acquire); `tail_` the other way round, so the
// consumer never reads bytes the producer has not finished, and the producer
// never overwrites bytes the consumer has not released. Publishing head once
// per entry costs a plain store on x86 (release needs no fence) to a line
// the consumer reads only when it collects; batching it would save nothing
// measurable and would leave the last records of a batch unseen by a flush.
// The producer's line (head_, its cached tail, dropped_) and the consumer's
// (tail_) are apart, 64-byte aligned, so neither side's writes invalidate
// the other's line; the ring's bytes start on a line of their own.
// append*() never blocks or allocates: an entry that does not fit is
// dropped and counted (dropped()). A prefetch may touch a line the consumer
// has not released: it only moves the line, never changes its bytes.
// Ownership: owns its bytes (allocated once in the constructor).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "calllog/call_record.h"

namespace tollgate::calllog {

class WorkerBuffer {
 public:
  // `capacity` bytes (rounded up to a power of two, at least 4 KiB).
  explicit WorkerBuffer(size_t capacity);

  // SUBJECT and ID longer than this are hashed by append_check() itself.
  static constexpr size_t kRawMax = 64;

  // Copies `r` in (subject_hash and id_hash as they are); false (and counted
  // in dropped()) when the ring is full or an entry would exceed a quarter
  // of it. Producer thread only.
  bool append(const CallRecord& r) {
    uint8_t flags = r.allowed ? kAllowed : 0;
    if (r.subject_hash != 0) flags |= kSubjectHash;
    if (r.id_hash != 0) flags |= kIdHash;
    const Lengths len{clamp(r.key.size()), clamp(r.channel.size()), clamp(r.purpose.size()),
                      clamp(r.limit.size()), 0, 0};
    LotCharge lots;
    lots.price = r.lot_price;
    lots.credits = r.lot_credits;
    lots.rest = r.lot_rest;
    return write(static_cast<uint8_t>(r.kind), r.time, r.cost, r.hold_ms, r.wait_ms, r.balance, flags,
                 code_byte(r.code, r.lot_prices, r.lots_known), static_cast<uint8_t>(r.generation), len, r.key,
                 r.channel, r.purpose, r.limit, {}, {}, r.subject_hash, r.id_hash, lots);
  }

  // The CHECK path: a decided CHECK (a `request` with the fields of
  // engine/engine.h's CheckRequest — a template so that the ring does not
  // include the engine — and its decision), written straight into the ring
  // with the SUBJECT and ID raw (hashed by collect()). Same result as
  // append() of the CallRecord check_hook.h used to build. Producer only.
  template <typename Request>
  bool append_check(Nanos time, const Request& q, const Decision& d, uint32_t generation) {
    uint8_t flags = d.allowed ? kAllowed : 0;
    std::string_view subject = q.subject, id = q.id;
    uint64_t subject_hash = 0, id_hash = 0;
    if (subject.size() > kRawMax) [[unlikely]] {
      subject_hash = log_hash(subject);
      flags |= kSubjectHash;
      subject = {};
    }
    if (id.size() > kRawMax) [[unlikely]] {
      id_hash = log_hash(id);
      flags |= kIdHash;
      id = {};
    }
    const Lengths len{clamp(q.key.size()),   clamp(q.channel.size()), clamp(q.purpose.size()),
                      clamp(d.limit.size()), subject.size(),          id.size()};
    // d.lots is read only when d.lot_prices says it was set (decision.h).
    return write(static_cast<uint8_t>(RecordKind::kCheck), time, q.cost, q.hold_ms, q.wait_ms, d.balance, flags,
                 code_byte(d.code, d.lot_prices, true), static_cast<uint8_t>(generation), len, q.key, q.channel,
                 q.purpose, d.limit, subject, id, subject_hash, id_hash, d.lots);
  }

  // Appends to `out` a view of every record appended so far, oldest first
  // (a raw SUBJECT or ID hashed now), and returns the position to pass to
  // release() once they are no longer needed: until then the views stay
  // valid and their space stays taken. Consumer thread only.
  uint64_t collect(std::vector<CallRecord>& out) const {
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    while (tail != head) {
      const char* p = bytes_ + (static_cast<size_t>(tail) & mask_);
      Header h;
      std::memcpy(static_cast<void*>(&h), p, kPrefix);  // padding may be as short as this
      if (h.kind != 0) {  // kind 0: padding to the end of the ring
        std::memcpy(static_cast<void*>(&h), p, sizeof h);  // a real entry is whole
        out.push_back(read_entry(p, h));
      }
      tail += h.size;
    }
    return tail;
  }
  // Frees the space of the records collect() returned. Consumer thread only.
  void release(uint64_t position) { tail_.store(position, std::memory_order_release); }

  // Whether every appended record has been released. Any thread (acquire).
  bool empty() const { return tail_.load(std::memory_order_acquire) == head_.load(std::memory_order_acquire); }
  // Records refused because the ring was full. Any thread (relaxed).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }
  // The smallest entry (a bare header): the most records the ring can hold
  // is capacity() / kMinEntry.
  static constexpr size_t kMinEntry = 32;

 private:
  // The fixed part of an entry. Padding entries use only `size` and `kind`
  // (their first 8 bytes: padding can be as short as 8).
  struct Header {
    uint32_t size = 0;  // the whole entry, padded to 8
    uint8_t kind = 0;   // RecordKind; 0: padding
    uint8_t code = 0;        // code_byte(): the Code, the LotPrices and whether they were recorded
    uint8_t flags = 0;       // kAllowed and which optional words follow
    uint8_t generation = 0;  // CallRecord::generation's low 8 bits (the writer widens it)
    int64_t time = 0;
    uint16_t len[6] = {};  // key, channel, purpose, limit, subject, id
    int32_t cost = 0;      // kBigCost: in a word of its own
  };
  static_assert(sizeof(Header) == 32);
  static constexpr size_t kPrefix = 8;  // size, kind, code, flags, generation
  enum Flag : uint8_t {
    kAllowed = 1,
    kHold = 2,         // a hold_ms word follows (absent: -1)
    kWait = 4,         // a wait_ms word (absent: -1)
    kBalance = 8,      // a balance word (absent: -1)
    kBigCost = 16,     // a cost word (Header::cost is 0)
    kSubjectHash = 32, // a subject_hash word (absent: hash of the raw subject, or 0 when empty)
    kIdHash = 64,      // an id_hash word (absent: hash of the raw ID, or 0 when empty)
  };
  // Header::code: bits 0-3 the Code, 4-5 the LotPrices (its words follow
  // the flagged ones), 6 CallRecord::lots_known.
  static_assert(kCodeCount <= 16);
  static constexpr uint8_t kLotShift = 4;
  static constexpr uint8_t kLotsKnown = 64;
  static constexpr uint8_t code_byte(Code code, LotPrices prices, bool known) {
    return static_cast<uint8_t>(static_cast<uint8_t>(code) | static_cast<uint8_t>(prices) << kLotShift |
                                (known ? kLotsKnown : 0));
  }
  static constexpr size_t kPrefetchAhead = 512;  // bytes: ~8 CHECKs ahead of the head
  using Lengths = size_t[6];

  static size_t clamp(size_t n) { return n > 0xffff ? 0xffff : n; }

  // Copies n bytes with at most two pairs of (overlapping) loads and
  // stores for the short strings a CHECK carries, inline; memcpy beyond.
  static inline void copy_small(char* dst, const char* src, size_t n) {
    if (n >= 8) {
      if (n <= 16) {
        uint64_t a, b;
        std::memcpy(&a, src, 8);
        std::memcpy(&b, src + n - 8, 8);
        std::memcpy(dst, &a, 8);
        std::memcpy(dst + n - 8, &b, 8);
      } else if (n <= 32) {
        uint64_t a[2], b[2];
        std::memcpy(a, src, 16);
        std::memcpy(b, src + n - 16, 16);
        std::memcpy(dst, a, 16);
        std::memcpy(dst + n - 16, b, 16);
      } else {
        std::memcpy(dst, src, n);
      }
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, src, 4);
      std::memcpy(&b, src + n - 4, 4);
      std::memcpy(dst, &a, 4);
      std::memcpy(dst + n - 4, &b, 4);
    } else if (n != 0) {  // 1..3 (an empty view's data() may be null: not read)
      dst[0] = src[0];
      dst[n / 2] = src[n / 2];
      dst[n - 1] = src[n - 1];
    }
  }

  static inline void store_word(char* p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

  // Inlined into the caller: called, its eighteen arguments went through the stack.
  [[gnu::always_inline]] bool write(uint8_t kind, Nanos time, int64_t cost, int64_t hold_ms, int64_t wait_ms, int64_t balance,
             uint8_t flags, uint8_t code, uint8_t generation, const Lengths& len, std::string_view key,
             std::string_view channel, std::string_view purpose, std::string_view limit, std::string_view subject,
             std::string_view id, uint64_t subject_hash, uint64_t id_hash, const LotCharge& lots) {
    const bool big_cost = cost != static_cast<int32_t>(cost);
    flags |= (hold_ms != -1 ? kHold : 0) | (wait_ms != -1 ? kWait : 0) | (balance != -1 ? kBalance : 0) |
             (big_cost ? kBigCost : 0);
    // (no popcount: without -mpopcnt it is a libgcc call)
    const size_t words = size_t{(flags & kHold) != 0} + size_t{(flags & kWait) != 0} +
                         size_t{(flags & kBalance) != 0} + size_t{big_cost} + size_t{(flags & kSubjectHash) != 0} +
                         size_t{(flags & kIdHash) != 0};
    const uint8_t prices = (code >> kLotShift) & 3;  // 0 (kNone): no words; kOne: 1; kTwo, kMany: 3
    const size_t lot_words = prices == 0 ? 0 : prices == 1 ? 1 : 3;
    const size_t body = len[0] + len[1] + len[2] + len[3] + len[4] + len[5];
    const size_t need = (sizeof(Header) + 8 * (words + lot_words) + body + 7) & ~size_t{7};
    const uint64_t head = head_.load(std::memory_order_relaxed);
    size_t offset = static_cast<size_t>(head) & mask_;
    const size_t to_end = capacity_ - offset;
    const size_t pad = need > to_end ? to_end : 0;
    if (need > capacity_ / 4 || head + pad + need - tail_cache_ > capacity_) [[unlikely]] {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (need > capacity_ / 4 || head + pad + need - tail_cache_ > capacity_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    if (pad != 0) [[unlikely]] {
      const uint64_t filler = static_cast<uint32_t>(pad);  // size; kind 0. to_end is a multiple of 8
      std::memcpy(bytes_ + offset, &filler, 8);
      offset = 0;
    }
    char* p = bytes_ + offset;
    __builtin_prefetch(bytes_ + ((offset + kPrefetchAhead) & mask_), 1, 3);
    __builtin_prefetch(bytes_ + ((offset + kPrefetchAhead + need - 1) & mask_), 1, 3);
    // The header as four words (little-endian, as Header lays it out).
    const uint64_t w0 = static_cast<uint64_t>(need) | uint64_t{kind} << 32 | uint64_t{code} << 40 |
                        uint64_t{flags} << 48 | uint64_t{generation} << 56;
    const uint64_t w2 = static_cast<uint64_t>(len[0]) | static_cast<uint64_t>(len[1]) << 16 |
                        static_cast<uint64_t>(len[2]) << 32 | static_cast<uint64_t>(len[3]) << 48;
    const uint64_t w3 = static_cast<uint64_t>(len[4]) | static_cast<uint64_t>(len[5]) << 16 |
                        static_cast<uint64_t>(static_cast<uint32_t>(big_cost ? 0 : cost)) << 32;
    // One 8-byte store each, straight from registers: gathered into an
    // array first, GCC loaded it back as 16-byte vectors, a store-forwarding
    // stall that was half of this function's time.
    store_word(p, w0);
    store_word(p + 8, static_cast<uint64_t>(time));
    store_word(p + 16, w2);
    store_word(p + 24, w3);
    char* s = p + sizeof(Header);
    auto word = [&s](int64_t v) {
      store_word(s, static_cast<uint64_t>(v));
      s += 8;
    };
    if (flags & kHold) word(hold_ms);
    if (flags & kWait) word(wait_ms);
    if (flags & kBalance) word(balance);
    if (flags & kBigCost) word(cost);
    if (flags & kSubjectHash) word(static_cast<int64_t>(subject_hash));
    if (flags & kIdHash) word(static_cast<int64_t>(id_hash));
    if (lot_words != 0) {  // a priced call's charge (lots is set only then)
      word(lots.price);
      if (lot_words == 3) {
        word(lots.credits);
        word(lots.rest);
      }
    }
    auto put = [&s](std::string_view text, size_t n) {
      copy_small(s, text.data(), n);
      s += n;
    };
    put(key, len[0]);
    put(channel, len[1]);
    put(purpose, len[2]);
    put(limit, len[3]);
    put(subject, len[4]);
    put(id, len[5]);
    head_.store(head + pad + need, std::memory_order_release);
    return true;
  }

  static CallRecord read_entry(const char* p, const Header& h) {
    CallRecord r;
    r.kind = static_cast<RecordKind>(h.kind);
    r.code = static_cast<Code>(h.code & 15);
    r.lot_prices = static_cast<LotPrices>((h.code >> kLotShift) & 3);
    r.lots_known = (h.code & kLotsKnown) != 0;
    r.allowed = (h.flags & kAllowed) != 0;
    r.generation = h.generation;
    r.time = h.time;
    r.cost = h.cost;
    const char* s = p + sizeof(Header);
    auto word = [&s] {
      int64_t v;
      std::memcpy(&v, s, 8);
      s += 8;
      return v;
    };
    if (h.flags & kHold) r.hold_ms = word();
    if (h.flags & kWait) r.wait_ms = word();
    if (h.flags & kBalance) r.balance = word();
    if (h.flags & kBigCost) r.cost = word();
    if (h.flags & kSubjectHash) r.subject_hash = static_cast<uint64_t>(word());
    if (h.flags & kIdHash) r.id_hash = static_cast<uint64_t>(word());
    if (r.lot_prices != LotPrices::kNone) {
      r.lot_price = word();
      if (r.lot_prices == LotPrices::kOne) {
        r.lot_credits = r.cost;
      } else {
        r.lot_credits = word();
        r.lot_rest = word();
      }
    }
    auto take = [&s](uint16_t n) {
      std::string_view v(s, n);
      s += n;
      return v;
    };
    r.key = take(h.len[0]);
    r.channel = take(h.len[1]);
    r.purpose = take(h.len[2]);
    r.limit = take(h.len[3]);
    const std::string_view subject = take(h.len[4]), id = take(h.len[5]);
    if (!subject.empty()) r.subject_hash = log_hash(subject);
    if (!id.empty()) r.id_hash = log_hash(id);
    return r;
  }

  size_t capacity_;
  size_t mask_;
  std::unique_ptr<char[]> storage_;  // capacity_ + 64 bytes
  char* bytes_;                      // the ring: storage_ from its first 64-byte boundary on
  alignas(64) std::atomic<uint64_t> head_{0};  // producer's: bytes ever appended (padding included)
  uint64_t tail_cache_ = 0;                    // producer's last view of tail_
  std::atomic<uint64_t> dropped_{0};           // producer's
  alignas(64) std::atomic<uint64_t> tail_{0};  // consumer's: bytes ever freed
};

}  // namespace tollgate::calllog
