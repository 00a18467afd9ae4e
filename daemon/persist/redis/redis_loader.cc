#include "persist/redis/redis_loader.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "engine/counter_table.h"
#include "engine/policy.h"
#include "persist/redis/redis_connection.h"
#include "persist/state_codec.h"

namespace tollgate::persist {
namespace {

constexpr size_t kScanCount = 1000;  // SCAN / HSCAN COUNT, HGETALLs per pipeline

int64_t to_int(std::string_view s) { return std::strtoll(std::string(s).c_str(), nullptr, 10); }

// A counters hash (reply of HGETALL) as field -> integer; non-integers are skipped.
std::unordered_map<std::string, int64_t> integer_fields(const redisReply* r) {
  std::unordered_map<std::string, int64_t> out;
  if (r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const std::string value(reply_string(r->element[i + 1]));
    char* end = nullptr;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (end != nullptr && *end == '\0') out.emplace(std::string(reply_string(r->element[i])), v);
  }
  return out;
}

}  // namespace

std::string encode_lot_value(const LotState& lot) {
  Encoder out;
  out.u8(kPayloadVersion);
  out.i64(lot.amount);
  out.i64(lot.unit_price);
  out.i64(lot.credits);
  out.i64(lot.created);
  if (lot.expires != 0) out.i64(lot.expires);  // appended: only a lot with an instant has it
  return std::move(out.bytes());
}

std::expected<LotState, std::string> decode_lot_value(std::string_view bytes) {
  Decoder in(bytes);
  LotState lot;
  if (in.u8() != kPayloadVersion) return std::unexpected("malformed lot (version)");
  lot.amount = in.i64();
  lot.unit_price = in.i64();
  lot.credits = in.i64();
  lot.created = in.i64();
  if (in.ok() && !in.at_end()) lot.expires = in.i64();
  if (!in.ok() || !in.at_end() || lot.unit_price <= 0 || lot.expires < 0) return std::unexpected("malformed lot");
  return lot;
}

std::expected<std::vector<std::string>, std::string> RedisLoader::scan(const std::string& pattern) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = redis_.command({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanCount)});
    if (!r) return std::unexpected("SCAN: " + r.error());
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return std::unexpected("SCAN: unexpected reply");
    cursor = std::string(reply_string(reply->element[0]));
    for (size_t i = 0; i < reply->element[1]->elements; ++i)
      keys.emplace_back(reply_string(reply->element[1]->element[i]));
  } while (cursor != "0");
  return keys;
}

std::expected<void, std::string> RedisLoader::hash(
    const std::string& key, const std::function<void(std::string_view, std::string_view)>& visit) {
  std::string cursor = "0";
  do {
    auto r = redis_.command({"HSCAN", key, cursor, "COUNT", std::to_string(kScanCount)});
    if (!r) return std::unexpected("HSCAN " + key + ": " + r.error());
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return std::unexpected("HSCAN: unexpected reply");
    cursor = std::string(reply_string(reply->element[0]));
    const redisReply* items = reply->element[1];
    for (size_t i = 0; i + 1 < items->elements; i += 2)
      visit(reply_string(items->element[i]), reply_string(items->element[i + 1]));
  } while (cursor != "0");
  return {};
}

std::expected<size_t, std::string> RedisLoader::contracts(
    std::unordered_map<std::string, std::vector<int64_t>>& lot_ids) {
  std::map<std::string, ContractImage> images;
  auto lot_keys = scan(keys_.lots_pattern());
  if (!lot_keys) return std::unexpected(lot_keys.error());
  const size_t prefix = keys_.lots("").size();
  for (const std::string& key : *lot_keys) {
    const std::string contract = key.substr(prefix);
    std::map<int64_t, LotState> lots;  // by lot id: the order they were made in
    auto read = hash(key, [&](std::string_view field, std::string_view value) {
      auto lot = decode_lot_value(value);
      const int64_t id = to_int(field);
      if (!lot || id <= 0) return restorer_.error(fmt::format("{} lot {}: malformed", key, field));
      lots.emplace(id, *lot);
    });
    if (!read) return std::unexpected(read.error());
    ContractImage& image = images[contract];
    image.key = contract;
    image.has_account = true;
    for (auto& [id, lot] : lots) {
      lot.index = static_cast<uint32_t>(image.lots.size());
      lot_index_[contract][id] = lot.index;
      lot_ids[contract].push_back(id);
      image.lots.push_back(lot);
    }
  }
  auto wallets = hash(keys_.wallets(), [&](std::string_view contract, std::string_view value) {
    auto it = images.find(std::string(contract));
    if (it != images.end()) it->second.wallet = to_int(value);
  });
  if (!wallets) return std::unexpected(wallets.error());
  auto statuses = hash(keys_.status(), [&](std::string_view contract, std::string_view value) {
    auto image = decode_contract(value);
    if (!image) return restorer_.error(fmt::format("status of '{}': {}", contract, image.error()));
    ContractImage& target = images[std::string(contract)];
    target.key = std::string(contract);
    target.overridden = true;
    target.status = image->status;
    target.reason = image->reason;
  });
  if (!statuses) return std::unexpected(statuses.error());
  // Monitor actions in force (older data has no such hash: none). One whose
  // `until` passed while the daemon was down is lifted by the monitor
  // runner's first tick, journaled, as in embedded mode.
  auto actions = hash(keys_.actions(), [&](std::string_view field, std::string_view value) {
    auto image = decode_contract(value);
    if (!image || image->actions.size() != 1)
      return restorer_.error(fmt::format("monitor action {}: malformed", field));
    ContractImage& target = images[image->key];
    target.key = image->key;
    target.actions.push_back(std::move(image->actions.front()));
  });
  if (!actions) return std::unexpected(actions.error());
  for (const auto& [key, image] : images) restorer_.contract(image);
  return images.size();
}

std::expected<void, std::string> RedisLoader::payments() {
  std::vector<PaymentImage> payments;
  auto read = hash(keys_.payments(), [&](std::string_view, std::string_view value) {
    auto decoded = decode_payments(value);
    if (!decoded) return restorer_.error("payment record: " + decoded.error());
    for (auto& p : *decoded) payments.push_back(std::move(p));
  });
  if (!read) return std::unexpected(read.error());
  restorer_.payments(std::move(payments));
  return {};
}

std::expected<size_t, std::string> RedisLoader::ledger() {
  std::vector<LedgerEntry> entries;
  // Values are "<global seq>|<lot id>|<encoded entry>".
  auto read = hash(keys_.ledger(), [&](std::string_view id, std::string_view value) {
    const size_t bar1 = value.find('|');
    const size_t bar2 = bar1 == std::string_view::npos ? bar1 : value.find('|', bar1 + 1);
    if (bar2 == std::string_view::npos) return restorer_.error(fmt::format("ledger entry {}: malformed", id));
    auto decoded = decode_ledger_entries(value.substr(bar2 + 1));
    if (!decoded || decoded->size() != 1) return restorer_.error(fmt::format("ledger entry {}: malformed", id));
    LedgerEntry e = std::move(decoded->front());
    e.seq = static_cast<uint64_t>(to_int(value.substr(0, bar1)));
    const int64_t lot = to_int(value.substr(bar1 + 1, bar2 - bar1 - 1));
    e.lot = -1;
    if (lot > 0) {
      auto contract = lot_index_.find(e.contract);
      if (contract == lot_index_.end() || !contract->second.contains(lot))
        return restorer_.error(fmt::format("ledger entry {} names lot {} of '{}', not in Redis", id, lot, e.contract));
      e.lot = contract->second.at(lot);
    }
    entries.push_back(std::move(e));
  });
  if (!read) return std::unexpected(read.error());
  std::sort(entries.begin(), entries.end(), [](const LedgerEntry& a, const LedgerEntry& b) { return a.seq < b.seq; });
  const size_t count = entries.size();
  restorer_.ledger(std::move(entries));
  return count;
}

std::expected<void, std::string> RedisLoader::counters(Engine& engine, Nanos now,
                                                       const std::function<void(const Entry&)>& loaded) {
  auto keys = scan(keys_.counters_pattern());
  if (!keys) return std::unexpected(keys.error());
  const size_t prefix = keys_.counters("").size();
  for (size_t begin = 0; begin < keys->size(); begin += kScanCount) {
    const size_t end = std::min(keys->size(), begin + kScanCount);
    for (size_t i = begin; i < end; ++i)
      if (auto a = redis_.append({"HGETALL", (*keys)[i]}); !a) return std::unexpected("HGETALL: " + a.error());
    for (size_t i = begin; i < end; ++i) {
      auto r = redis_.reply();
      if (!r) return std::unexpected("HGETALL: " + r.error());
      const std::string key = (*keys)[i].substr(prefix);
      Entry* e = engine.entry_for(key, now);
      if (e == nullptr) {
        restorer_.counters(key, {});  // counted as skipped
        continue;
      }
      restore_key(*e, integer_fields(r->get()));
      loaded(*e);
    }
  }
  return {};
}

void RedisLoader::restore_key(Entry& e, const std::unordered_map<std::string, int64_t>& fields) {
  const Policy& policy = *e.policy();
  std::vector<uint64_t> fresh(static_cast<size_t>(e.word_count()));
  for (size_t w = 0; w < fresh.size(); ++w) fresh[w] = e.words()[w].load(std::memory_order_relaxed);
  std::vector<std::string> bytes;  // little-endian words, as SavedLimit reads them
  std::vector<SavedLimit> saved;
  bytes.reserve(policy.limits.size());  // no reallocation: `saved` points into it
  for (const auto& l : policy.limits) {
    const auto n = static_cast<size_t>(l->limiter.words());
    auto words = limit_words(l->spec.type, l->spec.name, fields,
                             std::span<const uint64_t>(fresh).subspan(static_cast<size_t>(l->word_offset), n));
    if (!words) continue;
    Encoder out;
    for (uint64_t w : *words) out.u64(w);
    bytes.push_back(std::move(out.bytes()));
    SavedLimit s;
    s.name = l->spec.name;
    s.type = static_cast<uint8_t>(l->spec.type);
    s.words = std::span<const char>(bytes.back().data(), bytes.back().size());
    s.count = n;
    saved.push_back(s);
  }
  restorer_.counters(e.key(), saved);
}

}  // namespace tollgate::persist
