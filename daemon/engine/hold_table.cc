#include "engine/hold_table.h"

#include <algorithm>
#include <bit>

#include "engine/limits/limit_result.h"

namespace tollgate {
namespace {

struct Later {
  template <typename T>
  bool operator()(const T& a, const T& b) const { return a.expires_at > b.expires_at; }
};

constexpr uint64_t kSpilledFlag = uint64_t{1} << 34;

}  // namespace

void HoldCharge::set_spans(std::span<const DebitSpan> taken) {
  span_count = static_cast<uint32_t>(taken.size());
  spans = {};
  spilled.clear();
  if (taken.size() <= kInlineDebitSpans)
    std::copy(taken.begin(), taken.end(), spans.begin());
  else
    spilled.assign(taken.begin(), taken.end());
}

void HoldCharge::take_spans(DebitResult&& debit) {
  span_count = debit.span_count;
  spans = debit.spans;
  spilled = debit.spilled != nullptr ? std::move(*debit.spilled) : std::vector<DebitSpan>();
}

bool operator==(const HoldCharge& a, const HoldCharge& b) {
  return a.contract == b.contract && a.cost == b.cost && a.charged_at == b.charged_at &&
         a.limit_mask == b.limit_mask && a.takes_slot == b.takes_slot && a.commit_on_expiry == b.commit_on_expiry &&
         std::ranges::equal(a.taken(), b.taken());
}

HoldTable::HoldTable(size_t max_holds, int workers) : workers_(std::max(1, workers)) {
  size_t capacity = std::bit_ceil(std::max<size_t>(kProbe, max_holds * 2));
  slots_ = std::make_unique<Slot[]>(capacity);
  mask_ = capacity - 1;
  heaps_ = std::make_unique<Heap[]>(std::max(1, workers));
  heap_limit_ = capacity;
  for (int i = 0; i < std::max(1, workers); ++i) heaps_[i].items.reserve(heap_limit_);
  settle_log_ = std::make_unique<std::atomic<uint64_t>[]>(kSettleLog);
}

// No other thread runs: the records of holds still open are freed here.
HoldTable::~HoldTable() {
  for (size_t i = 0; i <= mask_; ++i) {
    const Slot& s = slots_[i];
    if ((s.key.load(std::memory_order_acquire) & 3) != kOpen) continue;
    if ((s.charge[3].load(std::memory_order_relaxed) & kSpilledFlag) != 0)
      delete reinterpret_cast<SpillRecord*>(static_cast<uintptr_t>(s.charge[4].load(std::memory_order_relaxed)));
  }
}

uint64_t HoldTable::memory_for(uint64_t max_holds, int workers) {
  const unsigned __int128 capacity =
      std::bit_ceil(std::max<uint64_t>(kProbe, 2 * std::min<uint64_t>(max_holds, uint64_t{1} << 61)));
  const unsigned __int128 bytes =
      capacity * sizeof(Slot) + capacity * sizeof(HeapItem) * static_cast<unsigned>(std::max(1, workers)) +
      kSettleLog * sizeof(uint64_t);
  return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

bool HoldTable::create(uint64_t hash, const HoldCharge& charge, Nanos expires_at, int worker) {
  const size_t slot = claim(hash);
  if (slot == kNoSlot) return false;
  publish(slot, hash, charge, expires_at, worker);
  return true;
}

size_t HoldTable::claim(uint64_t hash) {
  const uint64_t t = tag(hash);
  size_t free_slot = SIZE_MAX;
  for (size_t i = 0; i < kProbe; ++i) {
    size_t idx = (hash + i) & mask_;
    uint64_t k = slots_[idx].key.load(std::memory_order_acquire);
    if ((k & ~uint64_t{3}) == t) return kNoSlot;  // this id already has a hold
    if (k == 0 && free_slot == SIZE_MAX) free_slot = idx;
  }
  for (size_t i = 0; i < kProbe && free_slot != SIZE_MAX; ++i) {
    Slot& s = slots_[free_slot];
    uint64_t expected = 0;
    if (s.key.compare_exchange_strong(expected, t | kClaiming, std::memory_order_seq_cst)) {
      // Lower index wins a race between two claims of the same id.
      for (size_t j = 0; j < kProbe; ++j) {
        size_t idx = (hash + j) & mask_;
        if (idx == free_slot) continue;
        uint64_t k = slots_[idx].key.load(std::memory_order_seq_cst);
        if ((k & ~uint64_t{3}) == t && (idx < free_slot || (k & 3) != kClaiming)) {
          s.key.store(0, std::memory_order_release);
          return kNoSlot;
        }
      }
      return free_slot;
    }
    free_slot = SIZE_MAX;
    for (size_t j = i + 1; j < kProbe; ++j) {
      size_t idx = (hash + j) & mask_;
      if (slots_[idx].key.load(std::memory_order_acquire) == 0) {
        free_slot = idx;
        break;
      }
    }
  }
  rejected_full_.fetch_add(1, std::memory_order_relaxed);
  return kNoSlot;
}

void HoldTable::publish(size_t slot, uint64_t hash, const HoldCharge& charge, Nanos expires_at, int worker) {
  Slot& s = slots_[slot];
  const uint64_t t = tag(hash);
  s.version.store(s.version.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // readers that see the new fields see the new version
  s.hash.store(hash, std::memory_order_relaxed);
  s.expires_at.store(expires_at, std::memory_order_relaxed);
  store_charge(s, charge);
  s.key.store(t | kOpen, std::memory_order_release);
  open_.fetch_add(1, std::memory_order_relaxed);
  changes_.fetch_add(1, std::memory_order_release);
  push(heaps_[worker], {expires_at, static_cast<uint32_t>(slot), t | kOpen});
}

void HoldTable::unclaim(size_t slot) { slots_[slot].key.store(0, std::memory_order_release); }

bool HoldTable::would_create(uint64_t hash) const {
  const uint64_t t = tag(hash);
  bool free = false;
  for (size_t i = 0; i < kProbe; ++i) {
    const uint64_t k = slots_[(hash + i) & mask_].key.load(std::memory_order_acquire);
    if ((k & ~uint64_t{3}) == t) return false;
    free = free || k == 0;
  }
  return free;
}

void HoldTable::Settling::begin() {
  begun_ = true;
  ordinal_ = table_.settles_begun_.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_release);  // see "Settle ordinals"
}

HoldTable::Settling::~Settling() {
  if (!begun_) return;
  table_.settle_log_[ordinal_ & (kSettleLog - 1)].store(settled_, std::memory_order_relaxed);
  table_.settles_done_.fetch_add(1, std::memory_order_seq_cst);
}

bool HoldTable::settled_between(uint64_t from, uint64_t to, std::vector<uint64_t>& out) const {
  if (to - from > kSettleLog) return false;
  // done reached `to` before the caller's quiescent point: entries below it are written.
  std::atomic_thread_fence(std::memory_order_acquire);
  for (uint64_t o = from; o < to; ++o) out.push_back(settle_log_[o & (kSettleLog - 1)].load(std::memory_order_relaxed));
  std::atomic_thread_fence(std::memory_order_acquire);
  // A settle numbered from + kSettleLog or later writes over `from`'s entry;
  // none had begun when this load ran, so none wrote before the reads above.
  return settles_begun_.load(std::memory_order_seq_cst) < from + kSettleLog;
}

bool HoldTable::take(uint64_t hash, HoldCharge& out, Settling* settling) {
  Settling local(*this);
  Settling& ticket = settling != nullptr ? *settling : local;
  const uint64_t t = tag(hash);
  for (size_t i = 0; i < kProbe; ++i) {
    Slot& s = slots_[(hash + i) & mask_];
    uint64_t expected = t | kOpen;
    if (s.key.load(std::memory_order_acquire) != expected) continue;
    return settle_slot(s, expected, out, ticket);
  }
  return false;
}

// Moves the hold in `s` from open (key word `open_key`) to settling, copies
// its charge out and frees the slot. False if someone else settled it first.
bool HoldTable::settle_slot(Slot& s, uint64_t open_key, HoldCharge& out, Settling& settling) {
  if (!settling.begun_) settling.begin();  // before the CAS: see "Settle ordinals"
  if (!s.key.compare_exchange_strong(open_key, (open_key & ~uint64_t{3}) | kSettling, std::memory_order_acq_rel))
    return false;
  // The version stays put until the slot is free again (only a create bumps it).
  settling.settled_ = (static_cast<uint64_t>(&s - slots_.get()) << 32) |
                      (s.version.load(std::memory_order_relaxed) & 0xffff'ffffu);
  SpillRecord* spill = nullptr;
  out = load_charge(s, spill);
  if (spill != nullptr) {
    std::lock_guard lock(spill_mutex_);  // a reader may be copying it (see the header)
    out.spilled = std::move(*spill);
    out.span_count = static_cast<uint32_t>(out.spilled.size());
    delete spill;
  }
  s.key.store(0, std::memory_order_release);
  open_.fetch_sub(1, std::memory_order_relaxed);
  changes_.fetch_add(1, std::memory_order_release);
  return true;
}

void HoldTable::store_charge(Slot& s, const HoldCharge& c) {
  auto put = [&](size_t i, uint64_t v) { s.charge[i].store(v, std::memory_order_relaxed); };
  put(0, reinterpret_cast<uintptr_t>(c.contract));
  put(1, static_cast<uint64_t>(c.cost));
  put(2, static_cast<uint64_t>(c.charged_at));
  const bool spilled = c.span_count > kInlineDebitSpans;
  put(3, uint64_t{c.limit_mask} | uint64_t{c.takes_slot} << 32 | uint64_t{c.commit_on_expiry} << 33 |
             (spilled ? kSpilledFlag : 0) | uint64_t{spilled ? 0 : c.span_count} << 40);
  if (spilled) {
    put(4, reinterpret_cast<uintptr_t>(new SpillRecord(c.spilled)));  // rare: see the header
    return;
  }
  for (size_t i = 0; i < kInlineDebitSpans; ++i) {
    put(4 + 2 * i, c.spans[i].lot);
    put(5 + 2 * i, static_cast<uint64_t>(c.spans[i].credits));
  }
}

HoldCharge HoldTable::load_charge(const Slot& s, SpillRecord*& spill) {
  auto get = [&](size_t i) { return s.charge[i].load(std::memory_order_relaxed); };
  HoldCharge c;
  c.contract = reinterpret_cast<ContractState*>(static_cast<uintptr_t>(get(0)));
  c.cost = static_cast<int64_t>(get(1));
  c.charged_at = static_cast<Nanos>(get(2));
  const uint64_t flags = get(3);
  c.limit_mask = static_cast<uint32_t>(flags);
  c.takes_slot = (flags >> 32 & 1) != 0;
  c.commit_on_expiry = (flags >> 33 & 1) != 0;
  spill = nullptr;
  if ((flags & kSpilledFlag) != 0) {
    spill = reinterpret_cast<SpillRecord*>(static_cast<uintptr_t>(get(4)));
    return c;  // span_count and spilled: from the record, by the caller
  }
  c.span_count = static_cast<uint8_t>(flags >> 40);
  for (size_t i = 0; i < kInlineDebitSpans; ++i) {
    c.spans[i].lot = static_cast<uint32_t>(get(4 + 2 * i));
    c.spans[i].credits = static_cast<int64_t>(get(5 + 2 * i));
  }
  return c;
}

bool HoldTable::read_open(const Slot& s, uint64_t& hash, Nanos& expires_at, HoldCharge& charge,
                          uint64_t* identity) const {
  const uint64_t key = s.key.load(std::memory_order_acquire);
  if (key == 0 || (key & 3) != kOpen) return false;
  const uint64_t version = s.version.load(std::memory_order_acquire);
  hash = s.hash.load(std::memory_order_relaxed);
  expires_at = s.expires_at.load(std::memory_order_relaxed);
  SpillRecord* spill = nullptr;
  charge = load_charge(s, spill);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (s.version.load(std::memory_order_relaxed) != version || s.key.load(std::memory_order_relaxed) != key)
    return false;
  if (identity != nullptr) *identity = (static_cast<uint64_t>(&s - slots_.get()) << 32) | (version & 0xffff'ffffu);
  if (spill == nullptr) return true;
  // The settler frees the record under the mutex, after its CAS took the
  // slot out of the open state: the same key and version seen under the
  // mutex mean it has not been freed (and cannot be until we let go).
  std::lock_guard lock(spill_mutex_);
  if (s.key.load(std::memory_order_acquire) != key || s.version.load(std::memory_order_acquire) != version)
    return false;
  charge.spilled = *spill;
  charge.span_count = static_cast<uint32_t>(spill->size());
  return true;
}

void HoldTable::push(Heap& h, HeapItem item) {
  if (h.items.size() >= heap_limit_) compact(h);
  h.items.push_back(item);
  std::push_heap(h.items.begin(), h.items.end(), Later{});
}

// Drops heap items whose hold was settled early (slot key changed); at most
// `capacity` holds are open, so this never needs to grow the reservation.
void HoldTable::compact(Heap& h) {
  std::erase_if(h.items, [&](const HeapItem& it) {
    return slots_[it.slot].key.load(std::memory_order_acquire) != it.key;
  });
  std::make_heap(h.items.begin(), h.items.end(), Later{});
}

namespace {

// Due at `now`: expired, or beyond any legitimate expiry (a clock step's).
bool due(Nanos expires_at, Nanos now) {
  return expires_at <= now || limits_detail::saturating_sub(expires_at, now) > HoldTable::kMaxHoldSpan;
}

}  // namespace

Nanos HoldTable::next_expiry(int worker, Nanos now) {
  Heap& h = heaps_[worker];
  while (!h.items.empty()) {
    const HeapItem& top = h.items.front();
    if (slots_[top.slot].key.load(std::memory_order_acquire) == top.key)
      return now != INT64_MIN && due(top.expires_at, now) ? std::min(top.expires_at, now) : top.expires_at;
    std::pop_heap(h.items.begin(), h.items.end(), Later{});
    h.items.pop_back();
  }
  return INT64_MAX;
}

bool HoldTable::pop_expired(int worker, Nanos now, HoldCharge& out, Settling* settling) {
  Settling local(*this);
  Settling& ticket = settling != nullptr ? *settling : local;
  Heap& h = heaps_[worker];
  while (!h.items.empty() && due(h.items.front().expires_at, now)) {
    HeapItem top = h.items.front();
    std::pop_heap(h.items.begin(), h.items.end(), Later{});
    h.items.pop_back();
    Slot& s = slots_[top.slot];
    // Same id reused for a new hold in the same slot: not this item's hold.
    if (s.key.load(std::memory_order_acquire) != top.key ||
        s.expires_at.load(std::memory_order_relaxed) != top.expires_at)
      continue;
    if (!settle_slot(s, top.key, out, ticket)) continue;  // settled already (or the slot was reused)
    return true;
  }
  return false;
}

}  // namespace tollgate
