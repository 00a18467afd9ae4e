#include "persist/redis/delta_buffer.h"

#include <fmt/format.h>

#include <algorithm>

#include "persist/redis/redis_slot.h"

namespace tollgate::persist {

std::string DeltaBuffer::entry_key(const std::string& hash) const {
  return by_slot_ ? fmt::format("{:04x}{}", key_slot(hash), hash) : hash;
}

bool DeltaBuffer::add(const std::string& hash, std::span<const FieldDelta> deltas, int64_t ttl_ms,
                      size_t held_elsewhere) {
  const std::string key = entry_key(hash);
  auto it = pending_.find(key);
  size_t fresh = 0;
  for (const FieldDelta& d : deltas) {
    if (it != pending_.end() && it->second.fields.count(d.field) != 0) continue;
    // Two deltas of one new field in one call count once.
    bool seen = false;
    for (const FieldDelta& e : deltas) {
      if (&e == &d) break;
      if (e.field == d.field) seen = true;
    }
    if (!seen) ++fresh;
  }
  if (fresh > 0 && fields_ + held_elsewhere + fresh > max_fields_) return false;
  Pending& p = it != pending_.end() ? it->second : pending_[key];
  for (const FieldDelta& d : deltas) {
    auto [slot, added] = p.fields.try_emplace(d.field, d);
    if (!added) coalesce(slot->second, d);
  }
  p.ttl_ms = ttl_ms;
  fields_ += fresh;
  return true;
}

void DeltaBuffer::drop(const std::string& hash, std::string_view prefix) {
  auto it = pending_.find(entry_key(hash));
  if (it == pending_.end()) return;
  auto& fields = it->second.fields;
  for (auto f = fields.begin(); f != fields.end();) {
    if (f->first.starts_with(prefix)) {
      f = fields.erase(f);
      --fields_;
    } else {
      ++f;
    }
  }
  if (fields.empty()) pending_.erase(it);
}

DeltaBuffer::Batch DeltaBuffer::take(size_t max_hashes, int64_t now_us) {
  Batch batch;
  const std::string slot = by_slot_ && !pending_.empty() ? pending_.begin()->first.substr(0, 4) : std::string();
  if (by_slot_ && !pending_.empty()) batch.slot = std::stoi(slot, nullptr, 16);
  for (auto it = pending_.begin(); it != pending_.end() && batch.keys.size() < max_hashes;) {
    if (by_slot_ && !it->first.starts_with(slot)) break;
    const size_t count_at = batch.args.size();
    batch.args.emplace_back();  // op count, set below
    batch.args.push_back(std::to_string(it->second.ttl_ms));
    size_t ops = 0;
    for (const auto& [field, d] : it->second.fields) {
      ++batch.fields;
      int64_t value = d.value;
      if (d.op == FieldDelta::Op::kTat) {
        value = tat_advance(d.tat_base, d.value, now_us);
        if (value == 0) continue;  // the bucket is full again: nothing Redis must know
      }
      batch.args.push_back(std::string(1, static_cast<char>(d.op)));
      batch.args.push_back(field);
      batch.args.push_back(std::to_string(value));
      ++ops;
    }
    batch.args[count_at] = std::to_string(ops);
    batch.keys.push_back(by_slot_ ? it->first.substr(4) : it->first);
    it = pending_.erase(it);
  }
  fields_ -= std::min(fields_, batch.fields);
  return batch;
}

}  // namespace tollgate::persist
