// The call log (README, "Call log and tollgate-replay"): every CHECK,
// SETTLE and RECHARGE as a compact record, written to compressed segments
// off the hot path, for tollgate-replay to run through a candidate config.
//
// Data path: a worker calls record_check() (the CHECK path: the request and
// decision written straight into the ring, SUBJECT and ID raw, hashed by
// the writer) or record(worker, r), which copy the record into that
// worker's own WorkerBuffer (no lock shared with other workers, no
// allocation, no syscall, no hash). Admin records (RECHARGE) go through one more
// buffer behind a mutex of its own (admin thread only, never a worker).
// Writer: one thread (start()) drains every buffer each flush_interval,
// orders the records by time, encodes them as one block (strings interned
// per block), compresses it with zstd and appends it to the current segment
// (calllog/segment.h); segments rotate by size and age, and the oldest are
// deleted while the directory holds more than max_bytes.
// Failure: a full buffer (the writer fell behind) or a failed write (full
// or failing disk) drops the records and counts them (stats(), INFO
// calllog); decisions never wait for the log and never fail because of it.
// A generation mark in a block that could not be written goes out again
// with the next block (its generation's records would otherwise replay
// under the config before it).
//
// Generations — which config decided a record
// --------------------------------------------
// Replay follows the configs the daemon ran (README, "Determinism check"):
// mark_generation() queues a kGeneration record (number, config file, YAML)
// at start and at every successful reload, and every CHECK/SETTLE record
// carries the generation of the engine that decided it (CallRecord::
// generation, from Engine::options()). The promise: in the log, every
// record decided under generation g comes after g's mark and before g+1's.
// mark_generation(g) must be called before generation g's engine is
// published: a record of g that reached the writer while g had no queued
// mark would be written at once, under g−1's mark (the daemon queues it from
// Reloader::add_before_publish; until 2026-12-03 it queued it after the
// publish, and a worker's first records under a new engine could land
// before its mark — the hammer below caught it 1 run in 5 on a loaded VM).
// The race: a reload publishes the new engine on the control thread while
// workers are mid-batch; a worker that loaded the old engine before the
// switch may decide and append (to its own ring) after the switch, and its
// record's time (read at batch start) says nothing about which engine it
// used. Neither time nor ring position can split the generations — only
// the tag can: a worker loads the engine pointer with acquire from one
// atomic, so within one ring tags never decrease. The writer therefore
// (1) widens each 8-bit tag against the last mark written (at most 255
// reloads may wait to drain), (2) orders a flush by (generation, time),
// writing a due mark before the first record of its generation, and
// (3) writes g's mark only once generation_drained(g) said no record of an
// older generation can still arrive; records of g (and later) collected
// before that are copied aside and held, in order, for a later flush. A
// flush reads which marks are drained *before* it collects the rings (a
// drain seen later may have older records still unread) and whether any
// mark is queued *after* (a mark queued meanwhile may already have records
// in what it collected: they wait for it). The
// daemon calls generation_drained(g) from a Reclaimer deleter retired after
// the switch: it runs only once every worker batch that could hold the old
// engine has ended, and a worker records inside its batch, so by then every
// older record is in a ring (release by the worker's append and batch
// exit, acquire by the reclaimer and by this writer). stop() (workers
// gone) treats every mark as drained. The daemon's control loop runs the
// Reclaimer once a table.sweep_interval (1 s by default), so up to that
// much new-generation traffic is held after a reload: at most as many
// records as the rings can hold, past which the rings are left to fill
// (and drop, counted) until the mark is written. Admin records (RECHARGE, status,
// reset, monitor actions) carry the generation in force when they were
// applied. Records of a generation with no pending mark (a log without
// marks: tests, tools) are written at once.
//
// Groups — CHECKs decided all-or-nothing (calllog/group_hook.h)
// ------------------------------------------------------------------
// A group is a kGroup record followed by its members, appended one by one
// to the worker's ring; replay needs them together in one block. The
// writer may collect a ring between two of a group's appends: a group
// whose last members are missing at the end of what a ring gave is copied
// aside (its ring bytes released) and put back in front of that ring's
// records at the next flush, once. A group still short then (a member
// dropped: the ring was full) is written as it is, and replay reports it
// as cut. The final flush (stop(): no worker left) carries nothing.
//
// Thread-safety: record() from worker `worker` only (one producer per
// buffer); record_admin(), mark_generation() and generation_drained() from
// any thread; flush() from one thread at a
// time (the writer thread once start()ed, else the caller: tests); stats()
// from any thread. Ownership: owns its buffers, thread and open segment;
// borrows the FileSystem, which must outlive it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "calllog/block_codec.h"
#include "calllog/call_record.h"
#include "calllog/worker_buffer.h"
#include "persist/files/file_system.h"
#include "tollgate/time.h"

namespace tollgate::calllog {

struct CallLogOptions {
  std::string dir;                                     // where the segments go (must exist)
  double sample = 1.0;                                 // fraction of keys recorded (by key hash)
  int64_t max_bytes = int64_t{10} << 30;               // the segments together; oldest go first
  int64_t segment_bytes = int64_t{64} << 20;           // a segment is closed past this
  Nanos segment_age = 3600 * kNanosPerSecond;          // ... or when it is this old
  Nanos flush_interval = 200 * kNanosPerMilli;         // the writer's period
  size_t buffer_bytes = size_t{4} << 20;               // per worker ring
  int level = 3;                                       // zstd level
};

struct CallLogStats {
  uint64_t recorded = 0;          // records written to segments
  uint64_t dropped_buffer = 0;    // refused: a worker's buffer was full
  uint64_t dropped_write = 0;     // lost: their block could not be written
  uint64_t blocks = 0;
  uint64_t raw_bytes = 0;         // blocks before compression
  uint64_t bytes_written = 0;     // frames written (compressed)
  uint64_t segments = 0;          // segments in the directory now
  uint64_t disk_bytes = 0;        // their size together
  uint64_t segments_deleted = 0;  // by max_bytes
  std::string last_error;         // empty: none
};

class CallLog {
 public:
  CallLog(CallLogOptions options, int workers, files::FileSystem& fs);
  ~CallLog();
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  // Lists the segments already in dir (retention counts them; new ones
  // continue their sequence). Errors: cannot list the directory.
  [[nodiscard]] std::expected<void, std::string> open();

  // Hot path: copies `r` into worker `worker`'s buffer when its key is
  // sampled. Never blocks or allocates. The worker's thread only.
  void record(int worker, const CallRecord& r) {
    if (sample_all_ || sampled(r.key)) buffers_[static_cast<size_t>(worker)]->append(r);
  }
  // The CHECK path (calllog/check_hook.h): a decided CHECK straight into
  // worker `worker`'s ring when its key is sampled, without building a
  // CallRecord and without hashing (WorkerBuffer::append_check). `request`
  // is an engine CheckRequest. Never blocks or allocates. The worker's thread only.
  template <typename Request>
  void record_check(int worker, Nanos now, const Request& request, const Decision& d, uint32_t generation) {
    if (sample_all_ || sampled(request.key))
      buffers_[static_cast<size_t>(worker)]->append_check(now, request, d, generation);
  }
  // Whether records of `key` are kept (the sample): a group of CHECKs
  // (calllog/group_hook.h) counts its kept members before recording them.
  bool keeps(std::string_view key) const { return sample_all_ || sampled(key); }
  // The same for a record that belongs to no key (a hold expiry): always kept.
  void record_unsampled(int worker, const CallRecord& r) { buffers_[static_cast<size_t>(worker)]->append(r); }
  // An admin record (RECHARGE). Any thread; takes the admin buffer's mutex.
  void record_admin(const CallRecord& r);

  // Queues generation `generation`'s mark (written by a later flush, see
  // "Generations"): the config file's path and YAML as loaded, at `now`.
  // Any thread; generations are marked in increasing order.
  void mark_generation(uint32_t generation, Nanos now, std::string config_file, std::string config_text);
  // No record of a generation older than `generation` can still be appended:
  // its mark (and those before it) may be written. Any thread.
  void generation_drained(uint32_t generation);

  // Drains, encodes, compresses and writes what the buffers hold; rotates
  // and applies retention. Returns the records written. See thread-safety.
  size_t flush(Nanos now);
  // Runs flush() every flush_interval on a thread of its own.
  void start(const Clock& clock);
  // Stops the thread (if started), flushes what is left, closes the segment.
  void stop(Nanos now);
  // Makes the writer thread flush now rather than at the end of its period
  // (benchmarks, tests). Any thread.
  void wake();
  // Whether everything buffer `worker` was given has been taken out of it by
  // a flush (written, held or dropped): the ring is empty. Any thread.
  bool drained(int worker) const { return buffers_[static_cast<size_t>(worker)]->empty(); }

  CallLogStats stats() const;
  const CallLogOptions& options() const { return options_; }

 private:
  bool sampled(std::string_view key) const;
  // Closes the current segment (fdatasync) and forgets it.
  void close_segment();
  [[nodiscard]] bool open_segment(Nanos now);
  [[nodiscard]] bool write_all(std::string_view bytes);
  void enforce_max_bytes();
  void fail(std::string error);

  CallLogOptions options_;
  files::FileSystem& fs_;
  bool sample_all_;
  uint64_t sample_threshold_;
  std::vector<std::unique_ptr<WorkerBuffer>> buffers_;  // [workers] is the admin buffer
  std::mutex admin_mutex_;

  struct Mark {
    uint32_t generation = 0;
    Nanos time = 0;
    std::string file;
    std::string text;
    bool drained = false;
  };
  std::mutex marks_mutex_;
  std::deque<Mark> marks_;  // queued, oldest first (under marks_mutex_)
  bool all_drained_ = false;  // stop(): no worker remains (under marks_mutex_)
  // A record held for a later flush (its generation's mark is not due), with
  // its strings copied: the ring's bytes are released.
  struct Held {
    CallRecord record;
    std::string strings;
  };
  void hold(const CallRecord& r, std::deque<Held>& into);
  // Moves a group at the end of staged_ (from index `fresh` on, one ring's
  // newly collected records) that lacks members into `into` ("Groups").
  void carry_open_group(size_t fresh, std::deque<Held>& into);

  // Writer state (flush()'s thread only).
  BlockEncoder encoder_;
  std::vector<CallRecord> staged_;
  std::vector<uint64_t> release_at_;
  std::deque<Held> held_;
  std::vector<std::deque<Held>> carried_;  // by ring: an open group, for the next flush ("Groups")
  size_t max_held_ = 0;  // held_ past this: the rings are not drained until the mark is due
  uint32_t written_generation_ = 0;  // the last mark written (0 before any)
  std::string raw_;
  std::string frame_;
  files::FileHandle segment_;
  uint64_t segment_size_ = 0;
  Nanos segment_opened_ = 0;
  uint64_t next_sequence_ = 0;
  struct Closed {
    std::string path;
    uint64_t size;
  };
  std::deque<Closed> closed_;  // oldest first

  mutable std::mutex stats_mutex_;  // the counters below and last_error
  CallLogStats stats_;

  std::thread thread_;
  std::mutex thread_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool wake_requested_ = false;  // wake() (under thread_mutex_)
};

}  // namespace tollgate::calllog
