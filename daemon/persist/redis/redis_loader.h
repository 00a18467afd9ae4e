// The Redis store's start-up load: reads lots, wallets, status overrides,
// payment records, the ledger and every key's counters with blocking
// commands (SCAN/HSCAN, pipelined HGETALL) and applies them through the
// StateRestorer shared with the embedded store.
// Not thread-safe; runs before any worker. Borrows everything it is given.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persist/redis/redis_layout.h"
#include "persist/redis/redis_sync.h"
#include "persist/state_restorer.h"

namespace tollgate::persist {

// A lot as stored in `lots:<contract>` (its index is its rank by lot id).
std::string encode_lot_value(const LotState& lot);
std::expected<LotState, std::string> decode_lot_value(std::string_view bytes);

class RedisLoader {
 public:
  RedisLoader(RedisSync& redis, const RedisKeys& keys, StateRestorer& restorer)
      : redis_(redis), keys_(keys), restorer_(restorer) {}

  // Lots (in lot id order), wallets and status overrides. Fills `lot_ids`:
  // per contract, lot index -> lot id. Returns the number of contracts.
  std::expected<size_t, std::string> contracts(std::unordered_map<std::string, std::vector<int64_t>>& lot_ids);
  std::expected<void, std::string> payments();
  // The ledger in global seq order, lot ids mapped to indices (after contracts()).
  // Returns the number of entries read.
  std::expected<size_t, std::string> ledger();
  // Every counters hash; `loaded(entry)` is called for each key restored.
  std::expected<void, std::string> counters(Engine& engine, Nanos now, const std::function<void(const Entry&)>& loaded);

 private:
  std::expected<std::vector<std::string>, std::string> scan(const std::string& pattern);
  std::expected<void, std::string> hash(const std::string& key,
                                        const std::function<void(std::string_view, std::string_view)>& visit);
  // Restores one key's counters from its hash's fields.
  void restore_key(Entry& e, const std::unordered_map<std::string, int64_t>& fields);

  RedisSync& redis_;
  const RedisKeys& keys_;
  StateRestorer& restorer_;
  // Per contract: lot id -> lot index.
  std::unordered_map<std::string, std::unordered_map<int64_t, int64_t>> lot_index_;
};

}  // namespace tollgate::persist
