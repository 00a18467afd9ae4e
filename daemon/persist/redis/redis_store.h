// The Redis store (storage.mode: redis): keeps the daemon's runtime state in
// Redis through hiredis' async API on the control plane's libuv loop. The data
// plane never talks to Redis: workers decide from memory and this store
// writes behind.
//   - load() at start-up (a blocking connection, before the loop runs) reads
//     lots, payments, status overrides, monitor actions, the ledger and every
//     key's counters;
//   - every checkpoint_ms tick() sends what changed since the previous tick
//     as deltas, never overwrites (HINCRBY for quota/window units, a script
//     that advances a bucket's TAT by this daemon's part, ledger entries
//     under ids unique to this daemon run), pipelined, in idempotent batches
//     that are re-sent after a reconnect until Redis confirms them;
//   - admin mutations (DurabilityHook::durable) are sent as one atomic script
//     each and acknowledged only after Redis confirmed them;
//   - it talks to one logical Redis through a RedisTarget (redis_target.h):
//     standalone, the Sentinel-discovered primary, or a Cluster (then every
//     script is single-slot: redis_layout.h); with storage.redis.wait_replicas
//     every write waits for that many replicas (WAIT) before it counts as
//     confirmed;
//   - while Redis is down the store's RedisTarget reconnects with capped
//     exponential backoff; the store marks the RuntimeState unavailable
//     (contracts' `fail:` policies decide) and keeps deltas in a buffer of at
//     most buffer_max fields.
// Layout of the keys: redis_layout.h. The connection: redis_connection.h.
// Thread-safety: tick/start/shutdown run on the control loop's thread;
// exclusive()/durable() on the admin thread (durable() blocks until the loop
// has Redis' answer, at most command_timeout); status() anywhere. durable()
// called on the loop thread itself (a monitor action put in force or lifted
// by the monitor runner) cannot wait for the loop: it sends the script on a
// blocking connection of its own, holding the loop for that one round trip
// (at most connect_timeout + command_timeout; actions are rare).
// Borrows the RuntimeState, engine and clock.
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config/config.h"
#include "engine/admin_record.h"
#include "engine/engine.h"
#include "persist/redis/delta_buffer.h"
#include "persist/redis/redis_sync.h"
#include "persist/redis/redis_target.h"
#include "persist/redis/redis_layout.h"
#include "tollgate/time.h"

struct redisReply;

namespace tollgate::persist {

// name, description: INFO's `persistence` section in redis mode.
#define TOLLGATE_REDIS_COUNTERS(X)                                                                          \
  X(redis_connected, "1 while the connection to Redis is up (AUTH passed)")                                \
  X(redis_reconnects, "connections re-established after Redis went away")                                  \
  X(redis_connect_failures, "connection attempts that failed (retried with backoff up to 5 s)")            \
  X(redis_command_timeouts, "commands not answered within command_timeout (the connection is dropped)")    \
  X(redis_down_ms_total, "time Redis was unreachable since start (ms)")                                    \
  X(buffered_fields, "counter deltas waiting for Redis (coalesced: one per key, limit and period/slice)")   \
  X(buffered_ledger_entries, "ledger entries not yet confirmed by Redis (kept in memory, never dropped)")   \
  X(buffer_deferred, "deltas left in the counters because the buffer was full (collected later)")          \
  X(buffer_dropped, "deferred deltas of keys evicted before they could be buffered (lost)")                \
  X(checkpoints, "write-behind ticks that collected the deltas of every key used since the previous one")    \
  X(flushes, "write-behind batches Redis confirmed")                                                       \
  X(flush_failures, "write-behind batches that failed (re-sent after reconnect)")                          \
  X(flush_last_us, "latency of the latest confirmed batch (send to reply)")                                \
  X(flush_max_us, "highest batch latency")                                                                 \
  X(flushed_fields, "counter fields written to Redis")                                                     \
  X(flushed_ledger_entries, "ledger entries confirmed (an admin one re-sent is a no-op)")                 \
  X(admin_durable, "admin mutations confirmed by Redis before their reply")                                \
  X(admin_refused, "admin mutations refused (Redis down, error or timeout): not applied")                  \
  X(redis_not_replicated, "writes fewer than wait_replicas replicas acknowledged within wait_timeout")      \
  X(redis_failovers, "Sentinel: failovers followed (ready on a new primary)")                             \
  X(redis_moved, "Cluster: MOVED redirects followed (the slot map is re-read)")                           \
  X(redis_asked, "Cluster: ASK redirects followed (a slot being migrated)")                               \
  X(fail_open_allowed, "calls allowed without charging by fail: open while Redis was down")                \
  X(fail_closed_denied, "calls denied UNAVAILABLE by fail: closed while Redis was down")                   \
  X(load_ms, "start-up load time")                                                                         \
  X(load_keys, "keys whose counters were loaded")                                                          \
  X(load_keys_skipped, "keys in Redis no contract or key class matches")                                   \
  X(load_ledger_entries, "ledger entries loaded")                                                          \
  X(load_errors, "values in Redis that could not be decoded or applied (logged)")

struct RedisStatus {
#define TOLLGATE_REDIS_FIELD(name, description) uint64_t name = 0;
  TOLLGATE_REDIS_COUNTERS(TOLLGATE_REDIS_FIELD)
#undef TOLLGATE_REDIS_FIELD
  std::string last_error;

  template <typename Visit>
  void for_each_counter(Visit&& visit) const {
#define TOLLGATE_REDIS_VISIT(name, description) visit(#name, name, description);
    TOLLGATE_REDIS_COUNTERS(TOLLGATE_REDIS_VISIT)
#undef TOLLGATE_REDIS_VISIT
  }
};

struct RedisStoreOptions {
  RedisConfig redis;
  int64_t checkpoint_ms = 100;
  const Clock* clock = nullptr;  // null: SystemClock
};

class RedisStore final : public DurabilityHook {
 public:
  RedisStore(RedisStoreOptions options, RuntimeState& state, std::function<Engine&()> engine);
  ~RedisStore() override;

  // Connects (blocking, connect_timeout), authenticates and loads the state.
  // Call once, after the engine exists and before any worker runs. An error
  // (unreachable, AUTH refused, unreadable data) means: do not start.
  [[nodiscard]] std::expected<void, std::string> load(Nanos now);

  // Starts the async connection and the checkpoint timer on `loop` (the
  // control plane's). Loop thread.
  void start(uv_loop_t* loop);
  // Collects deltas and sends them (the checkpoint timer calls it). Loop thread.
  void tick(Nanos now);
  // After the workers stopped: collects everything and writes it with a
  // blocking connection (at most command_timeout per step), then closes the
  // store's handles. Returns what could not be written. Loop thread.
  [[nodiscard]] std::expected<void, std::string> shutdown(Nanos now);

  // DurabilityHook
  std::unique_lock<std::mutex> exclusive() override { return std::unique_lock<std::mutex>(mutex_); }
  std::unique_lock<std::mutex> try_exclusive() override { return std::unique_lock<std::mutex>(mutex_, std::try_to_lock); }
  [[nodiscard]] std::expected<void, std::string> durable(AdminRecord& record) override;
  [[nodiscard]] std::expected<std::string, std::string> snapshot_now() override;

  // A copy of the counters, for INFO. Thread-safe.
  RedisStatus status() const;

  // The monitors' learned state (`<prefix>baselines`, one field per contract;
  // control/monitor_baselines.h). Advisory: reading or writing it never
  // fails the store. What load() read: (contract, entry) pairs, or why the
  // hash could not be read.
  using BaselineEntries = std::vector<std::pair<std::string, std::string>>;
  std::expected<BaselineEntries, std::string> loaded_baselines() const;
  // HSETs `entries` (in batches of about 1 MiB) on the async connection;
  // `done` runs once on the loop thread with Redis' answer, or at once when
  // Redis is not ready. Loop thread.
  void save_baselines(BaselineEntries entries, std::function<void(std::expected<void, std::string>)> done);
  // Entries shutdown() writes with its blocking connection after the final
  // flush (a clean stop loses no learned state). Loop thread.
  void set_final_baselines(BaselineEntries entries) { final_baselines_ = std::move(entries); }

 private:
  enum class RequestKind : uint8_t { kBatch, kLedger, kAdmin };
  // One EVAL of counter deltas; kept until Redis confirms it and re-sent, in
  // number order, after a reconnect (the run's applied mark makes a second
  // arrival a no-op).
  struct Batch {
    std::vector<std::string> argv;
    std::string routing_key;  // its first counters hash (a cluster batch is one slot)
    uint64_t number = 0;      // unique within the run (the applied marks hold it)
    size_t fields = 0;
    bool in_flight = false;
    Nanos sent_at = 0;
  };

  // An admin script handed from the admin thread to the loop; guarded by calls_mutex_.
  struct AdminCall {
    std::vector<std::string> argv;
    bool done = false;
    bool abandoned = false;  // the admin thread stopped waiting (timeout)
    bool ok = false;
    int64_t integer = 0;
    bool known = false;  // RECHARGE: Redis had the payment id already
    std::string error;
  };

  // What one async command was for (handed back with its reply).
  struct Request {
    using Kind = RequestKind;
    Kind kind = Kind::kBatch;
    Batch* batch = nullptr;
    uint64_t ledger_upto = 0;
    size_t ledger_entries = 0;
    std::shared_ptr<AdminCall> call;
  };

  // --- loop thread ---
  // The connection's events (RedisConnection::Events).
  RedisTarget::Events connection_events();
  void on_ready(bool reconnected);
  void on_lost(const std::string& why, bool was_ready);
  void on_reply(const Request& request, const redisReply* reply, bool current);
  // `error`: null when Redis confirmed; `answered`: Redis replied (else the connection is gone).
  void on_batch_reply(Batch& batch, const std::string* error, bool answered, bool current);
  void on_ledger_reply(const Request& request, const std::string* error, bool answered);
  void send(Request request, std::string_view routing_key, const std::vector<std::string>& argv);
  // A blocking connection to the node that holds `key` (the primary; on a
  // cluster the owner of its slot), for load() and shutdown().
  std::expected<RedisSync, std::string> open_sync(std::string_view key) const;
  void send_pending(Nanos now);
  void run_admin_calls();
  void check_timeouts(Nanos now);
  // Under mutex_: counter deltas of keys used since dirty_since_s_ into pending_.
  void collect_counters_locked(Nanos now);
  // Moves pending_ into batches until there are `max_batches` (TAT advances
  // computed at `now`). Batches are only sealed when they can go on the wire,
  // so everything else keeps coalescing in pending_. Under mutex_.
  void seal_batches(Nanos now, size_t max_batches);
  std::vector<std::string> ledger_command_locked(uint64_t after, size_t max, uint64_t* last);
  void set_available(bool up, Nanos now);

  // shutdown()'s last step: final_baselines_ with a blocking connection.
  std::expected<void, std::string> write_final_baselines();
  std::vector<std::string> admin_command(const AdminRecord& record) const;
  std::string ledger_value_payload(const LedgerEntry& e) const;
  int64_t lot_id(const std::string& contract, int64_t lot) const;

  RedisStoreOptions options_;
  RedisKeys keys_;
  RuntimeState& state_;
  std::function<Engine&()> engine_;

  // Persisted-state order (held by the admin thread across durable + apply).
  std::mutex mutex_;
  uint64_t run_ = 0;  // this daemon run's id (INCR P runs)
  // Per key and limit: the words Redis has from this daemon (what deltas are
  // taken from). Keyed by limit name and type, so a reload that changes a
  // key's layout keeps the baseline of every limit it keeps.
  struct LimitBaseline {
    std::string name;
    LimitType type = LimitType::kQuota;
    std::vector<uint64_t> words;
  };
  std::unordered_map<std::string, std::vector<LimitBaseline>> baseline_;
  // The baseline of `limit` in `key_baseline` (all zero when new).
  static std::vector<uint64_t>& baseline_of(std::vector<LimitBaseline>& key_baseline, const LimitSpec& limit,
                                            size_t words);
  // Sets the baseline of every limit of `e` to its words now.
  void rebase_locked(const Entry& e);
  // Per contract: lot index -> lot id in Redis.
  std::unordered_map<std::string, std::vector<int64_t>> lot_ids_;
  uint32_t dirty_since_s_ = 0;
  std::unordered_set<std::string> deferred_keys_;
  std::unordered_set<uint64_t> skip_ledger_;  // local ledger seqs Redis has under another id

  // Loop thread only.
  uv_loop_t* loop_ = nullptr;
  uv_timer_t tick_timer_{};
  uv_async_t admin_async_{};
  std::atomic<bool> handles_open_{false};  // read by durable() on the admin thread
  std::thread::id loop_thread_;            // set by start(), before handles_open_
  std::unique_ptr<RedisTarget> target_;
  bool stopping_ = false;
  uint64_t ticks_ = 0;
  DeltaBuffer pending_;  // counter deltas not yet in a batch (under mutex_)
  std::list<std::unique_ptr<Batch>> batches_;  // sealed, not yet confirmed, in send order (re-sent as they are)
  size_t batch_fields_ = 0;
  uint64_t next_batch_ = 1;
  uint64_t ledger_acked_ = 0;      // ledger entries up to this local seq are in Redis
  uint64_t ledger_in_flight_ = 0;  // a ledger batch up to this seq is on its way (0: none)

  // admin thread <-> loop thread
  std::mutex calls_mutex_;
  std::condition_variable calls_cv_;
  std::deque<std::shared_ptr<AdminCall>> calls_;

  // The monitors' learned state: read by load(), written at shutdown() (loop thread).
  BaselineEntries loaded_baselines_;
  std::string baselines_error_;
  std::optional<BaselineEntries> final_baselines_;
  std::set<std::string> baseline_fields_;  // fields of the hash this daemon loaded or last wrote

  mutable std::mutex status_mutex_;
  RedisStatus counters_;
  Nanos down_since_ = 0;  // when Redis became unreachable (0: it is not)
};

}  // namespace tollgate::persist
