// A worker's share of the call log: a fixed ring of bytes that one worker
// appends records to on the CHECK path and the log's writer drains.
//
// Layout: each entry is a Header (fixed, 8-byte aligned) followed by the
// key, channel, purpose and limit bytes, padded to 8. An entry never wraps:
// when it does not fit before the end, a padding entry (kind 0) fills the
// rest and it starts at offset 0.
//
// Thread-safety: single producer, single consumer, lock-free. append() is
// called by the owning worker only; collect()/release() by the writer only. `head_` is
// written by the producer (release) and read by the consumer (acquire);
// `tail_` the other way round, so the consumer never reads bytes the
// producer has not finished, and the producer never overwrites bytes the
// consumer has not released. append() never blocks or allocates: a
// record that does not fit is dropped and counted (dropped()).
// Ownership: owns its bytes (allocated once in the constructor).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "calllog/call_record.h"

namespace tollgate::calllog {

class WorkerBuffer {
 public:
  // `capacity` bytes (rounded up to a power of two, at least 4 KiB).
  explicit WorkerBuffer(size_t capacity);

  // Copies `r` in; false (and counted in dropped()) when the ring is full or
  // an entry would exceed a quarter of it. Producer thread only.
  bool append(const CallRecord& r) {
    const size_t need = entry_size(r);
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_cache_;
    size_t offset = static_cast<size_t>(head) & mask_;
    const size_t to_end = capacity_ - offset;
    const size_t pad = need > to_end ? to_end : 0;
    if (need > capacity_ / 4 || head + pad + need - tail > capacity_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (need > capacity_ / 4 || head + pad + need - tail_cache_ > capacity_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    if (pad != 0) {
      Header filler{};
      filler.size = static_cast<uint32_t>(pad);
      std::memcpy(bytes_.get() + offset, &filler, kPrefix);  // size and kind 0; to_end is a multiple of 8
      offset = 0;
    }
    write_entry(bytes_.get() + offset, need, r);
    head_.store(head + pad + need, std::memory_order_release);
    return true;
  }

  // Appends to `out` a view of every record appended so far, oldest first,
  // and returns the position to pass to release() once they are no longer
  // needed: until then the views stay valid and their space stays taken.
  // Consumer thread only.
  uint64_t collect(std::vector<CallRecord>& out) const {
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    while (tail != head) {
      const char* p = bytes_.get() + (static_cast<size_t>(tail) & mask_);
      Header h;
      std::memcpy(static_cast<void*>(&h), p, kPrefix);
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

 private:
  struct Header {
    uint32_t size = 0;  // the whole entry, padded to 8
    uint8_t kind = 0;   // 0: padding
    uint8_t code = 0;
    uint8_t allowed = 0;
    uint8_t generation = 0;  // CallRecord::generation's low 8 bits (the writer widens it)
    uint16_t key_len = 0, channel_len = 0, purpose_len = 0, limit_len = 0;
    int64_t time = 0, cost = 0, hold_ms = 0, wait_ms = 0, balance = -1;
    uint64_t subject_hash = 0, id_hash = 0;
  };
  static_assert(sizeof(Header) % 8 == 0);
  static constexpr size_t kPrefix = 8;  // size, kind, code, allowed, generation

  static size_t clamp(size_t n) { return n > 0xffff ? 0xffff : n; }
  static size_t entry_size(const CallRecord& r) {
    const size_t body = clamp(r.key.size()) + clamp(r.channel.size()) + clamp(r.purpose.size()) +
                        clamp(r.limit.size());
    return (sizeof(Header) + body + 7) & ~size_t{7};
  }
  static void write_entry(char* p, size_t size, const CallRecord& r) {
    Header h;
    h.size = static_cast<uint32_t>(size);
    h.kind = static_cast<uint8_t>(r.kind);
    h.code = static_cast<uint8_t>(r.code);
    h.allowed = r.allowed ? 1 : 0;
    h.generation = static_cast<uint8_t>(r.generation);
    h.key_len = static_cast<uint16_t>(clamp(r.key.size()));
    h.channel_len = static_cast<uint16_t>(clamp(r.channel.size()));
    h.purpose_len = static_cast<uint16_t>(clamp(r.purpose.size()));
    h.limit_len = static_cast<uint16_t>(clamp(r.limit.size()));
    h.time = r.time;
    h.cost = r.cost;
    h.hold_ms = r.hold_ms;
    h.wait_ms = r.wait_ms;
    h.balance = r.balance;
    h.subject_hash = r.subject_hash;
    h.id_hash = r.id_hash;
    std::memcpy(p, &h, sizeof h);
    char* s = p + sizeof h;
    // An empty view may have a null data(): memcpy must not see it, even for 0 bytes.
    auto put = [&s](std::string_view text, size_t n) {
      if (n != 0) std::memcpy(s, text.data(), n);
      s += n;
    };
    put(r.key, h.key_len);
    put(r.channel, h.channel_len);
    put(r.purpose, h.purpose_len);
    put(r.limit, h.limit_len);
  }
  static CallRecord read_entry(const char* p, const Header& h) {
    CallRecord r;
    r.kind = static_cast<RecordKind>(h.kind);
    r.code = static_cast<Code>(h.code);
    r.allowed = h.allowed != 0;
    r.generation = h.generation;
    r.time = h.time;
    r.cost = h.cost;
    r.hold_ms = h.hold_ms;
    r.wait_ms = h.wait_ms;
    r.balance = h.balance;
    r.subject_hash = h.subject_hash;
    r.id_hash = h.id_hash;
    const char* s = p + sizeof(Header);
    r.key = {s, h.key_len};
    s += h.key_len;
    r.channel = {s, h.channel_len};
    s += h.channel_len;
    r.purpose = {s, h.purpose_len};
    s += h.purpose_len;
    r.limit = {s, h.limit_len};
    return r;
  }

  size_t capacity_;
  size_t mask_;
  std::unique_ptr<char[]> bytes_;
  alignas(64) std::atomic<uint64_t> head_{0};  // producer's: bytes ever appended (padding included)
  uint64_t tail_cache_ = 0;                    // producer's last view of tail_
  std::atomic<uint64_t> dropped_{0};           // producer's
  alignas(64) std::atomic<uint64_t> tail_{0};  // consumer's: bytes ever freed
};

}  // namespace tollgate::calllog
