// The call log (README, "Call log and tollgate-replay"): every CHECK,
// SETTLE and RECHARGE as a compact record, written to compressed segments
// off the hot path, for tollgate-replay to run through a candidate config.
//
// Data path: a worker calls record(worker, r), which copies the record into
// that worker's own WorkerBuffer (no lock shared with other workers, no
// allocation, no syscall). Admin records (RECHARGE) go through one more
// buffer behind a mutex of its own (admin thread only, never a worker).
// Writer: one thread (start()) drains every buffer each flush_interval,
// orders the records by time, encodes them as one block (strings interned
// per block), compresses it with zstd and appends it to the current segment
// (calllog/segment.h); segments rotate by size and age, and the oldest are
// deleted while the directory holds more than max_bytes.
// Failure: a full buffer (the writer fell behind) or a failed write (full
// or failing disk) drops the records and counts them (stats(), INFO
// calllog); decisions never wait for the log and never fail because of it.
//
// Thread-safety: record() from worker `worker` only (one producer per
// buffer); record_admin() from any thread; flush() from one thread at a
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
  // An admin record (RECHARGE). Any thread; takes the admin buffer's mutex.
  void record_admin(const CallRecord& r);

  // Drains, encodes, compresses and writes what the buffers hold; rotates
  // and applies retention. Returns the records written. See thread-safety.
  size_t flush(Nanos now);
  // Runs flush() every flush_interval on a thread of its own.
  void start(const Clock& clock);
  // Stops the thread (if started), flushes what is left, closes the segment.
  void stop(Nanos now);

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

  // Writer state (flush()'s thread only).
  BlockEncoder encoder_;
  std::vector<CallRecord> staged_;
  std::vector<uint64_t> release_at_;
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
};

}  // namespace tollgate::calllog
