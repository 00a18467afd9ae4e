// The Redis store's admin mutations: each one an atomic script, sent by the
// control loop on behalf of the admin thread, which waits for the answer.
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "engine/counter_table.h"
#include "engine/policy.h"
#include "persist/redis/redis_loader.h"
#include "persist/redis/redis_scripts.h"
#include "persist/redis/redis_store.h"
#include "persist/state_codec.h"

namespace tollgate::persist {

std::vector<std::string> RedisStore::admin_command(const AdminRecord& record) const {
  const std::string id = RedisKeys::ledger_id(run_, record.ledger_entry.seq);
  const std::string entry = encode_ledger_entries(std::span<const LedgerEntry>(&record.ledger_entry, 1));
  switch (record.kind) {
    case AdminRecord::Kind::kRecharge: {
      PaymentImage payment{record.payment_id, PaymentRecord{record.contract, record.lot.amount, record.reply}};
      return {"EVAL",
              scripts::recharge(),
              "7",
              keys_.payments(),
              keys_.lots(record.contract),
              keys_.wallets(),
              keys_.lot_seq(),
              keys_.ledger(),
              keys_.ledger_seq(),
              keys_.payment_lots(),
              record.payment_id,
              encode_payments(std::span<const PaymentImage>(&payment, 1)),
              encode_lot_value(record.lot),
              record.contract,
              std::to_string(record.wallet),
              id,
              entry,
              std::to_string(record.lot.amount)};
    }
    case AdminRecord::Kind::kStatus: {
      ContractImage image;
      image.key = record.contract;
      image.status = record.status;
      image.overridden = true;
      image.reason = record.reason;
      return {"EVAL",          scripts::status(),      "3", keys_.status(), keys_.ledger(), keys_.ledger_seq(),
              record.contract, encode_contract(image), id,  entry};
    }
    case AdminRecord::Kind::kReset:
      // On a cluster the counters hash and the ledger are in different
      // slots: the script resets the hash only, and the reset's ledger entry
      // (in the local ledger) reaches Redis with the write-behind.
      if (keys_.cluster())
        return {"EVAL", scripts::reset(), "1", keys_.counters(record.contract),
                record.limit.empty() ? std::string() : record.limit + "|", id, entry};
      return {"EVAL",
              scripts::reset(),
              "3",
              keys_.counters(record.contract),
              keys_.ledger(),
              keys_.ledger_seq(),
              record.limit.empty() ? std::string() : record.limit + "|",
              id,
              entry};
    case AdminRecord::Kind::kAction: {
      // The action alone, as a contract image (its stored codec); lifted: deleted.
      // The daemon's own lifts (expiry, a reload that removed the target)
      // delete only the instance they lift: in a fleet every daemon lifts an
      // expired action at its `until`, and the first one's delete must be the
      // only one, never a newer instance another daemon put on that target
      // meanwhile. An operator's clear lifts whatever is on the target.
      ContractImage image;
      image.key = record.contract;
      image.actions.push_back(record.action);
      const ActiveAction& a = record.action;
      const std::string value = encode_contract(image);
      return {"EVAL",
              scripts::action(),
              "3",
              keys_.actions(),
              keys_.ledger(),
              keys_.ledger_seq(),
              RedisKeys::action_field(record.contract, static_cast<uint8_t>(a.kind), a.monitor, a.channel, a.limit),
              record.lift ? std::string() : value,
              id,
              entry,
              record.lift && record.actor == kDaemonActor ? value : std::string()};
    }
  }
  return {};
}

std::expected<void, std::string> RedisStore::durable(AdminRecord& record) {
  // Caller holds exclusive() (mutex_). The loop never waits for mutex_.
  auto refuse = [&](std::string why) -> std::expected<void, std::string> {
    std::lock_guard lock(status_mutex_);
    ++counters_.admin_refused;
    counters_.last_error = why;
    return std::unexpected(std::move(why));
  };
  if (!handles_open_) return refuse("the Redis store is not running");
  if (std::this_thread::get_id() == loop_thread_) {
    // On the loop (the monitor runner): waiting for the loop would deadlock.
    // Only monitor actions come this way; they need no answer but "done".
    if (record.kind != AdminRecord::Kind::kAction) return refuse("an admin change on the control loop's thread");
    if (!target_->ready()) return refuse("Redis is not connected (reconnecting)");
    const std::vector<std::string> argv = admin_command(record);
    auto sync = open_sync(argv[3]);
    if (!sync) return refuse("Redis: " + sync.error());
    auto done = sync->command(argv);
    if (!done) return refuse("Redis: " + done.error());
    // A lift another daemon made first: applied here, but its entry is in Redis once already.
    if ((*done)->type == REDIS_REPLY_INTEGER && (*done)->integer == 0) skip_ledger_.insert(record.ledger_entry.seq);
    std::lock_guard status_lock(status_mutex_);
    ++counters_.admin_durable;
    return {};
  }
  auto call = std::make_shared<AdminCall>();
  call->argv = admin_command(record);
  {
    std::lock_guard lock(calls_mutex_);
    calls_.push_back(call);
  }
  uv_async_send(&admin_async_);
  std::unique_lock lock(calls_mutex_);
  const auto timeout = std::chrono::nanoseconds(options_.redis.command_timeout);
  if (!calls_cv_.wait_for(lock, timeout, [&] { return call->done; })) {
    call->abandoned = true;
    lock.unlock();
    return refuse(
        fmt::format("Redis did not confirm within command_timeout ({} ms); the change was not applied here "
                    "(if it reached Redis after all, it takes effect at the next start-up)",
                    options_.redis.command_timeout / kNanosPerMilli));
  }
  if (!call->ok) {
    lock.unlock();
    return refuse("Redis: " + call->error);
  }
  lock.unlock();
  if (record.kind == AdminRecord::Kind::kRecharge) {
    auto& ids = lot_ids_[record.contract];
    if (ids.size() != record.lot.index)
      spdlog::error("storage: lot {} of '{}' recorded as Redis lot {} but {} lot ids are known", record.lot.index,
                    record.contract, call->integer, ids.size());
    ids.push_back(call->integer);
    if (call->known) {
      // Redis has this recharge already (its ledger entry included): apply it
      // here, and never send this daemon's copy of the entry.
      skip_ledger_.insert(record.ledger_entry.seq);
      spdlog::info("storage: payment id {} of '{}' was already recorded in Redis (lot {}); applied here",
                   record.payment_id, record.contract, call->integer);
    }
  } else if (record.kind == AdminRecord::Kind::kAction && call->integer == 0) {
    skip_ledger_.insert(record.ledger_entry.seq);  // lifted by another daemon first (scripts::action)
  } else if (record.kind == AdminRecord::Kind::kReset) {
    // Redis dropped the fields; deltas from here on start at the reset state.
    Engine& engine = engine_();
    if (Entry* e = engine.entry_for(record.contract, record.time)) {
      const auto count = static_cast<size_t>(e->word_count());
      std::vector<std::atomic<uint64_t>> scratch(count);
      for (size_t w = 0; w < count; ++w) scratch[w].store(e->words()[w].load(std::memory_order_acquire));
      auto& key_baseline = baseline_[record.contract];
      for (const auto& l : e->policy()->limits) {
        if (!record.limit.empty() && l->spec.name != record.limit) continue;
        l->limiter.reset(scratch.data() + l->word_offset, record.time);
        auto& base = baseline_of(key_baseline, l->spec, static_cast<size_t>(l->limiter.words()));
        for (size_t w = 0; w < base.size(); ++w) base[w] = scratch[static_cast<size_t>(l->word_offset) + w].load();
      }
      pending_.drop(keys_.counters(record.contract), record.limit.empty() ? "" : record.limit + "|");
    }
  }
  std::lock_guard status_lock(status_mutex_);
  ++counters_.admin_durable;
  return {};
}

void RedisStore::run_admin_calls() {
  std::deque<std::shared_ptr<AdminCall>> calls;
  {
    std::lock_guard lock(calls_mutex_);
    calls.swap(calls_);
  }
  for (auto& call : calls) {
    {
      std::lock_guard lock(calls_mutex_);
      if (call->abandoned) continue;
      if (!target_->ready() || stopping_) {
        call->done = true;
        call->error = stopping_ ? "the daemon is stopping" : "not connected (reconnecting)";
        calls_cv_.notify_all();
        continue;
      }
    }
    Request r;
    r.kind = Request::Kind::kAdmin;
    r.call = call;
    send(std::move(r), call->argv[3], call->argv);  // routed by the script's first key (all share its slot)
  }
}

std::expected<std::string, std::string> RedisStore::snapshot_now() {
  return std::unexpected(
      "storage.mode is redis: Redis holds the state (use BGSAVE or AOF on the Redis side for its own snapshots)");
}

}  // namespace tollgate::persist
