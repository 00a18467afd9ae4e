#include "persist/state_codec.h"

#include <algorithm>
#include <cstring>

#include "engine/counter_table.h"
#include "engine/policy.h"
#include "persist/files/little_endian.h"

namespace tollgate::persist {
namespace {

constexpr size_t kMaxLimitsPerKey = 255;
constexpr uint8_t kMaxHeldLimits = 32;  // HoldCharge::limit_mask has 32 bits

std::string bad(std::string_view what) { return "malformed " + std::string(what) + " record"; }

bool version_ok(Decoder& in) { return in.u8() == kPayloadVersion && in.ok(); }

void put_entry(Encoder& out, const LedgerEntry& e) {
  out.u64(e.seq);
  out.i64(e.time_ms);
  out.str(e.contract);
  out.u8(static_cast<uint8_t>(e.kind));
  out.i64(e.amount);
  out.i64(e.lot);
  out.i64(e.actor);
  out.str(e.id);
}

LedgerEntry get_entry(Decoder& in) {
  LedgerEntry e;
  e.seq = in.u64();
  e.time_ms = in.i64();
  e.contract = std::string(in.str());
  const uint8_t kind = in.u8();
  e.kind = static_cast<LedgerKind>(kind);
  e.amount = in.i64();
  e.lot = in.i64();
  e.actor = in.i64();
  e.id = std::string(in.str());
  return e;
}

void put_lot(Encoder& out, const LotState& lot) {
  out.u32(lot.index);
  out.i64(lot.amount);
  out.i64(lot.unit_price);
  out.i64(lot.credits);
  out.i64(lot.debited);
  out.i64(lot.refunded);
  out.i64(lot.created);
}

LotState get_lot(Decoder& in) {
  LotState lot;
  lot.index = in.u32();
  lot.amount = in.i64();
  lot.unit_price = in.i64();
  lot.credits = in.i64();
  lot.debited = in.i64();
  lot.refunded = in.i64();
  lot.created = in.i64();
  return lot;
}

}  // namespace

void Encoder::u32(uint32_t v) {
  char b[4];
  files::put_u32(b, v);
  out_.append(b, 4);
}

void Encoder::u64(uint64_t v) {
  char b[8];
  files::put_u64(b, v);
  out_.append(b, 8);
}

void Encoder::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

bool Decoder::need(size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

uint8_t Decoder::u8() {
  if (!need(1)) return 0;
  return static_cast<uint8_t>(in_[pos_++]);
}

uint32_t Decoder::u32() {
  if (!need(4)) return 0;
  const uint32_t v = files::get_u32(in_.data() + pos_);
  pos_ += 4;
  return v;
}

uint64_t Decoder::u64() {
  if (!need(8)) return 0;
  const uint64_t v = files::get_u64(in_.data() + pos_);
  pos_ += 8;
  return v;
}

std::string_view Decoder::str() { return raw(u32()); }

std::string_view Decoder::raw(size_t n) {
  if (!need(n)) return {};
  std::string_view s = in_.substr(pos_, n);
  pos_ += n;
  return s;
}

namespace {

// A monitor action: kind, monitor, channel, reason, since, until; then for
// a throttle (kind 3) rate, per, burst, for an enforce (kind 4) the limit.
// Kinds 1 and 2 are laid out as before these existed.
void put_action(Encoder& out, const ActiveAction& a) {
  out.u8(static_cast<uint8_t>(a.kind));
  out.str(a.monitor);
  out.str(a.channel);
  out.str(a.reason);
  out.i64(a.since);
  out.i64(a.until);
  if (a.kind == MonitorActionKind::kThrottle) {
    out.i64(a.rate);
    out.i64(a.per);
    out.i64(a.burst);
  } else if (a.kind == MonitorActionKind::kEnforce) {
    out.str(a.limit);
  }
}

bool get_action(Decoder& in, ActiveAction& a) {
  const uint8_t kind = in.u8();
  if (kind < 1 || kind > 4) return false;
  a.kind = static_cast<MonitorActionKind>(kind);
  a.monitor = std::string(in.str());
  a.channel = std::string(in.str());
  a.reason = std::string(in.str());
  a.since = in.i64();
  a.until = in.i64();
  if (a.kind == MonitorActionKind::kThrottle) {
    a.rate = in.i64();
    a.per = in.i64();
    a.burst = in.i64();
  } else if (a.kind == MonitorActionKind::kEnforce) {
    a.limit = std::string(in.str());
  }
  return in.ok();
}

}  // namespace

std::string encode_admin(const AdminRecord& r) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.u8(static_cast<uint8_t>(r.kind));
  out.str(r.contract);
  out.i64(r.time);
  out.i64(r.actor);
  out.u8(static_cast<uint8_t>(r.status));
  out.str(r.reason);
  out.str(r.limit);
  out.str(r.payment_id);
  put_lot(out, r.lot);
  out.i64(r.wallet);
  out.i64(r.reply.credits);
  out.i64(r.reply.unit_price);
  out.i64(r.reply.balance);
  put_entry(out, r.ledger_entry);
  out.str(r.event_kind);
  out.str(r.event_detail);
  if (r.kind == AdminRecord::Kind::kAction) {
    out.u8(r.lift ? 1 : 0);
    put_action(out, r.action);
  }
  // Appended (stored format): a recharge's lot instant, only when it has one,
  // so a record without it is byte for byte what older daemons wrote.
  if (r.kind == AdminRecord::Kind::kRecharge && r.lot.expires != 0) out.i64(r.lot.expires);
  return std::move(out.bytes());
}

std::expected<AdminRecord, std::string> decode_admin(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("admin (version)"));
  AdminRecord r;
  const uint8_t kind = in.u8();
  if (kind < 1 || kind > 4) return std::unexpected(bad("admin (kind)"));
  r.kind = static_cast<AdminRecord::Kind>(kind);
  r.contract = std::string(in.str());
  r.time = in.i64();
  r.actor = in.i64();
  const uint8_t status = in.u8();
  if (status > static_cast<uint8_t>(ContractStatus::kTerminated)) return std::unexpected(bad("admin (status)"));
  r.status = static_cast<ContractStatus>(status);
  r.reason = std::string(in.str());
  r.limit = std::string(in.str());
  r.payment_id = std::string(in.str());
  r.lot = get_lot(in);
  r.wallet = in.i64();
  r.reply.credits = in.i64();
  r.reply.unit_price = in.i64();
  r.reply.balance = in.i64();
  r.ledger_entry = get_entry(in);
  r.event_kind = std::string(in.str());
  r.event_detail = std::string(in.str());
  if (r.kind == AdminRecord::Kind::kAction) {
    r.lift = in.u8() != 0;
    if (!get_action(in, r.action)) return std::unexpected(bad("admin (action)"));
  }
  if (r.kind == AdminRecord::Kind::kRecharge && in.ok() && !in.at_end()) r.lot.expires = in.i64();
  if (!in.ok() || !in.at_end() || r.lot.expires < 0 ||
      static_cast<uint8_t>(r.ledger_entry.kind) > static_cast<uint8_t>(LedgerKind::kAdmin))
    return std::unexpected(bad("admin"));
  return r;
}

std::string encode_cancel(uint64_t journal_seq) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.u64(journal_seq);
  return std::move(out.bytes());
}

std::expected<uint64_t, std::string> decode_cancel(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("cancel"));
  const uint64_t seq = in.u64();
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("cancel"));
  return seq;
}

std::string encode_ledger_entries(std::span<const LedgerEntry> entries) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.u32(static_cast<uint32_t>(entries.size()));
  for (const LedgerEntry& e : entries) put_entry(out, e);
  return std::move(out.bytes());
}

std::expected<std::vector<LedgerEntry>, std::string> decode_ledger_entries(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("ledger"));
  const uint32_t n = in.u32();
  std::vector<LedgerEntry> entries;
  entries.reserve(std::min<size_t>(n, payload.size() / 40));
  for (uint32_t i = 0; i < n && in.ok(); ++i) entries.push_back(get_entry(in));
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("ledger"));
  for (const LedgerEntry& e : entries)
    if (static_cast<uint8_t>(e.kind) > static_cast<uint8_t>(LedgerKind::kExpire)) return std::unexpected(bad("ledger (kind)"));
  return entries;
}

std::string encode_payments(std::span<const PaymentImage> payments) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.u32(static_cast<uint32_t>(payments.size()));
  for (const PaymentImage& p : payments) {
    out.str(p.id);
    out.str(p.record.contract);
    out.i64(p.record.amount);
    out.i64(p.record.reply.credits);
    out.i64(p.record.reply.unit_price);
    out.i64(p.record.reply.balance);
  }
  return std::move(out.bytes());
}

std::expected<std::vector<PaymentImage>, std::string> decode_payments(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("payments"));
  const uint32_t n = in.u32();
  std::vector<PaymentImage> out;
  out.reserve(std::min<size_t>(n, payload.size() / 40));
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    PaymentImage p;
    p.id = std::string(in.str());
    p.record.contract = std::string(in.str());
    p.record.amount = in.i64();
    p.record.reply.credits = in.i64();
    p.record.reply.unit_price = in.i64();
    p.record.reply.balance = in.i64();
    out.push_back(std::move(p));
  }
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("payments"));
  return out;
}

std::string encode_contract(const ContractImage& c) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.str(c.key);
  out.u8(static_cast<uint8_t>(c.status));
  out.u8(c.overridden ? 1 : 0);
  out.str(c.reason);
  out.u8(c.has_account ? 1 : 0);
  out.i64(c.wallet);
  out.u32(static_cast<uint32_t>(c.lots.size()));
  for (const LotState& lot : c.lots) put_lot(out, lot);
  const bool expiring = std::ranges::any_of(c.lots, [](const LotState& lot) { return lot.expires != 0; });
  if (!c.actions.empty() || expiring) {
    out.u32(static_cast<uint32_t>(c.actions.size()));
    for (const ActiveAction& a : c.actions) put_action(out, a);
  }
  // Appended (stored format): every lot's instant, only when some lot has one.
  if (expiring) {
    out.u32(static_cast<uint32_t>(c.lots.size()));
    for (const LotState& lot : c.lots) out.i64(lot.expires);
  }
  return std::move(out.bytes());
}

std::expected<ContractImage, std::string> decode_contract(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("contract"));
  ContractImage c;
  c.key = std::string(in.str());
  const uint8_t status = in.u8();
  if (status > static_cast<uint8_t>(ContractStatus::kTerminated)) return std::unexpected(bad("contract (status)"));
  c.status = static_cast<ContractStatus>(status);
  c.overridden = in.u8() != 0;
  c.reason = std::string(in.str());
  c.has_account = in.u8() != 0;
  c.wallet = in.i64();
  const uint32_t n = in.u32();
  c.lots.reserve(std::min<size_t>(n, payload.size() / 52));
  for (uint32_t i = 0; i < n && in.ok(); ++i) c.lots.push_back(get_lot(in));
  // Monitor actions follow only when some are in force (older images end here).
  if (in.ok() && !in.at_end()) {
    const uint32_t actions = in.u32();
    for (uint32_t i = 0; i < actions && in.ok(); ++i) {
      ActiveAction a;
      if (!get_action(in, a)) return std::unexpected(bad("contract (action)"));
      c.actions.push_back(std::move(a));
    }
  }
  // Lot instants follow only when some lot has one (older images end before).
  if (in.ok() && !in.at_end()) {
    if (in.u32() != c.lots.size()) return std::unexpected(bad("contract (lot instants)"));
    for (LotState& lot : c.lots) lot.expires = in.i64();
    if (std::ranges::any_of(c.lots, [](const LotState& lot) { return lot.expires < 0; }))
      return std::unexpected(bad("contract (lot instants)"));
  }
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("contract"));
  return c;
}

// Version 1 while every hold fits it (at most 4 spans: byte for byte what
// the previous daemon wrote, so going back to it still reads the store);
// version 2 only when some hold spans more lots.
std::string encode_holds(const HoldSet& set) {
  const bool fits_v1 = std::ranges::all_of(set.holds, [](const HoldImage& h) { return h.spans.size() <= 4; });
  const uint8_t version = fits_v1 ? kPayloadVersion : kHoldsPayloadVersion;
  Encoder out;
  out.u8(version);
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
    if (version == kPayloadVersion)
      out.u8(static_cast<uint8_t>(h.spans.size()));
    else
      out.u32(static_cast<uint32_t>(h.spans.size()));  // Engine::export_holds: at most UINT32_MAX
    for (const DebitSpan& span : h.spans) {
      out.u32(span.lot);
      out.i64(span.credits);
    }
  }
  return std::move(out.bytes());
}

// Version 1 (written before holds could span more than 4 lots) has a u8
// span count of at most 4; version 2 a u32 one. Both decode, so a store
// written by an older daemon recovers.
std::expected<HoldSet, std::string> decode_holds(std::string_view payload) {
  constexpr uint8_t kMaxSpansV1 = 4;
  constexpr size_t kSpanBytes = 4 + 8;
  Decoder in(payload);
  const uint8_t version = in.u8();
  if (!in.ok() || (version != kPayloadVersion && version != kHoldsPayloadVersion))
    return std::unexpected(bad("holds (version)"));
  HoldSet set;
  set.ledger_seq = in.u64();
  const uint32_t n = in.u32();
  std::vector<HoldImage>& holds = set.holds;
  holds.reserve(std::min<size_t>(n, payload.size() / 40));
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    HoldImage h;
    h.hash = in.u64();
    h.contract = std::string(in.str());
    h.cost = in.i64();
    h.charged_at = in.i64();
    h.expires_at = in.i64();
    const uint8_t flags = in.u8();
    h.takes_slot = (flags & 1) != 0;
    h.commit_on_expiry = (flags & 2) != 0;
    const uint8_t limits = in.u8();
    if (flags > 3 || limits > kMaxHeldLimits || h.cost < 0) return std::unexpected(bad("holds (fields)"));
    for (uint8_t l = 0; l < limits && in.ok(); ++l) h.limits.emplace_back(in.str());
    const uint32_t spans = version == kPayloadVersion ? in.u8() : in.u32();
    if (version == kPayloadVersion && spans > kMaxSpansV1) return std::unexpected(bad("holds (spans)"));
    if (!in.ok() || spans > (payload.size() - in.pos()) / kSpanBytes)
      return std::unexpected(bad("holds (spans)"));  // before reserving: the count must fit the payload
    h.spans.reserve(spans);
    for (uint32_t k = 0; k < spans && in.ok(); ++k) {
      DebitSpan span{in.u32(), in.i64()};
      if (span.credits < 0) return std::unexpected(bad("holds (credits)"));
      h.spans.push_back(span);
    }
    holds.push_back(std::move(h));
  }
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("holds"));
  return set;
}

std::string encode_id_records(std::span<const DedupTable::Record> records) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.u32(static_cast<uint32_t>(records.size()));
  for (const DedupTable::Record& r : records) {
    out.u64(r.hash);
    out.i64(r.expires_at);
    out.i64(r.stored.remaining);
    out.i64(r.stored.reset_after_ms);
    out.i64(r.stored.balance);
    out.u32(static_cast<uint32_t>(r.stored.limit_index));
  }
  return std::move(out.bytes());
}

std::expected<std::vector<DedupTable::Record>, std::string> decode_id_records(std::string_view payload) {
  constexpr size_t kRecordBytes = 8 * 5 + 4;
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("id records (version)"));
  const uint32_t n = in.u32();
  if (!in.ok() || payload.size() - 5 != size_t{n} * kRecordBytes) return std::unexpected(bad("id records"));
  std::vector<DedupTable::Record> records(n);
  for (DedupTable::Record& r : records) {
    r.hash = in.u64();
    r.expires_at = in.i64();
    r.stored.remaining = in.i64();
    r.stored.reset_after_ms = in.i64();
    r.stored.balance = in.i64();
    r.stored.limit_index = static_cast<int32_t>(in.u32());
    // A replay answers these fields as they are: only what a CHECK can answer.
    if (r.stored.reset_after_ms < 0 || r.stored.limit_index < -1)
      return std::unexpected(bad("id records (reply out of range)"));
  }
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("id records"));
  return records;
}

std::string encode_subjects(const SubjectMembers& m) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.str(m.contract);
  out.str(m.limit);
  out.i64(m.period_start);
  out.u32(static_cast<uint32_t>(m.hashes.size()));
  for (uint64_t h : m.hashes) out.u64(h);
  return std::move(out.bytes());
}

std::expected<SubjectMembers, std::string> decode_subjects(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("subjects (version)"));
  SubjectMembers m;
  m.contract = std::string(in.str());
  m.limit = std::string(in.str());
  m.period_start = in.i64();
  const uint32_t n = in.u32();
  const std::string_view hashes = in.raw(size_t{n} * 8);
  if (!in.ok() || !in.at_end()) return std::unexpected(bad("subjects"));
  m.hashes.resize(n);
  for (uint32_t i = 0; i < n; ++i) m.hashes[i] = files::get_u64(hashes.data() + 8 * i);
  return m;
}

std::string encode_subject_estimate(const EstimateWords& e) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.str(e.contract);
  out.i64(e.registers.period_start);
  out.u8(static_cast<uint8_t>(e.registers.precision));
  out.u32(static_cast<uint32_t>(e.registers.words.size()));
  for (const auto& [index, word] : e.registers.words) {
    out.u32(index);
    out.u64(word);
  }
  return std::move(out.bytes());
}

std::expected<EstimateWords, std::string> decode_subject_estimate(std::string_view payload) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("subject estimate (version)"));
  EstimateWords e;
  e.contract = std::string(in.str());
  e.registers.period_start = in.i64();
  e.registers.precision = in.u8();
  const uint32_t n = in.u32();
  if (!in.ok() || e.registers.precision < HyperLogLog::kMinPrecision ||
      e.registers.precision > HyperLogLog::kMaxPrecision)
    return std::unexpected(bad("subject estimate (precision)"));
  const uint64_t words = (uint64_t{1} << e.registers.precision) / 8;
  const std::string_view pairs = in.raw(size_t{n} * 12);
  if (!in.ok() || !in.at_end() || n > words) return std::unexpected(bad("subject estimate"));
  e.registers.words.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t index = files::get_u32(pairs.data() + 12 * i);
    if (index >= words) return std::unexpected(bad("subject estimate (register index)"));
    e.registers.words.emplace_back(index, files::get_u64(pairs.data() + 12 * i + 4));
  }
  return e;
}

void CounterBatch::clear() {
  encoder_.clear();
  encoder_.u8(kPayloadVersion);
  encoder_.u32(0);  // key count, patched by finish()
  keys_ = 0;
}

void CounterBatch::add_entry(const Entry& entry) {
  const Policy& policy = *entry.policy();
  encoder_.str(entry.key());
  const size_t limits = std::min(policy.limits.size(), kMaxLimitsPerKey);
  encoder_.u8(static_cast<uint8_t>(limits));
  for (size_t i = 0; i < limits; ++i) {
    const CompiledLimit& l = *policy.limits[i];
    encoder_.str(l.spec.name);
    encoder_.u8(static_cast<uint8_t>(l.spec.type));
    const int words = l.limiter.words();
    encoder_.u8(static_cast<uint8_t>(words));
    for (int w = 0; w < words; ++w) encoder_.u64(entry.words()[l.word_offset + w].load(std::memory_order_acquire));
  }
  ++keys_;
}

std::string_view CounterBatch::finish() {
  files::put_u32(encoder_.bytes().data() + 1, keys_);
  return encoder_.bytes();
}

uint64_t SavedLimit::word(size_t i) const { return files::get_u64(words.data() + 8 * i); }

std::expected<size_t, std::string> decode_counters(
    std::string_view payload,
    const std::function<void(std::string_view key, std::span<const SavedLimit> limits)>& visit) {
  Decoder in(payload);
  if (!version_ok(in)) return std::unexpected(bad("counters"));
  const uint32_t keys = in.u32();
  SavedLimit limits[kMaxLimitsPerKey];
  for (uint32_t k = 0; k < keys; ++k) {
    const std::string_view key = in.str();
    const uint8_t n = in.u8();
    for (uint8_t i = 0; i < n; ++i) {
      limits[i].name = in.str();
      limits[i].type = in.u8();
      limits[i].count = in.u8();
      const std::string_view words = in.raw(limits[i].count * 8);
      limits[i].words = std::span<const char>(words.data(), words.size());
    }
    if (!in.ok()) return std::unexpected(bad("counters"));
    visit(key, std::span<const SavedLimit>(limits, n));
  }
  if (!in.at_end()) return std::unexpected(bad("counters"));
  return keys;
}

}  // namespace tollgate::persist
