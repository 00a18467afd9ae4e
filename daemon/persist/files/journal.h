// Append-only, checksummed journal of opaque records, split into segment
// files `journal.<16-digit first sequence>` in the store directory. Group
// commit: append() buffers, commit() writes everything buffered and
// fdatasyncs once. Recovery (Journal::open) replays every trusted record,
// cuts off a torn tail and refuses corruption (the rule below). Not
// thread-safe; one control-plane thread. The Journal owns its segment file
// descriptors; the FileSystem, StoreStatus and Clock in JournalOptions are
// borrowed and must outlive it.
//
// Record on disk (little endian, 24-byte header then payload):
//   0  u8   magic 0xC5
//   1  u8   format version (1)
//   2  u8   type tag (caller's; opaque here)
//   3  u8   reserved, 0
//   4  u32  payload length (<= kMaxRecordPayload)
//   8  u64  sequence number (strictly increasing by 1 across all segments)
//   16 u64  XXH3-64 of bytes 0..15 followed by the payload
//   24 ...  payload
//
// Torn tail or corruption. Reading stops at the first untrusted byte (a
// record whose header, length, checksum or sequence does not hold, or a
// segment that does not continue the one before). What a crash can leave
// there is only an incomplete end of the LAST segment: records are appended,
// a commit is acknowledged only after its fdatasync, a failed write is cut
// back before anything else is written, and a segment is closed (and the next
// one created) only after its last commit was synced. A process crash leaves
// a prefix of the last write. So the untrusted bytes are a *torn tail* only
// if they are in the last segment and no intact record (valid magic, version,
// length and checksum, at any byte offset — a garbage length field cannot
// hide what follows it, the search does not trust it) starts after them; a
// torn tail is truncated and reported. Anything else is *corruption*: the
// same damage with an intact record after it, a record out of sequence, any
// damage in an earlier segment, a missing or overlapping segment, no segment
// at all after a snapshot, or a journal that ends before the sequence the
// store is known to have reached (JournalOptions::required_seq). Corruption
// makes open() fail without changing anything on disk, naming the file and
// offset — unless JournalOptions::discard_corruption says to keep the trusted
// prefix and set the rest aside in <dir>/discarded/ (nothing is deleted).
// Known limit: a payload that embeds a complete record with a valid checksum
// can make a torn tail look corrupt; the journal then refuses rather than
// guesses.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persist/files/file_system.h"
#include "persist/files/store_status.h"

namespace tollgate {
class Clock;
}

namespace tollgate::files {

inline constexpr uint8_t kRecordMagic = 0xC5;
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderBytes = 24;
inline constexpr uint32_t kMaxRecordPayload = 256u << 20;

// One record as read back. `payload` is valid only during the visitor call.
struct RecordView {
  uint8_t type = 0;
  uint64_t seq = 0;
  std::string_view payload;
};
using RecordVisitor = std::function<void(const RecordView&)>;

struct JournalOptions {
  uint64_t segment_bytes = 64ull << 20;  // a commit that leaves a segment this big rotates before the next write
  FileSystem* fs = nullptr;              // null: default_file_system()
  StoreStatus* status = nullptr;         // null: counters are not kept
  const Clock* clock = nullptr;          // times fsyncs; null: SystemClock
  // Sequence of the snapshot recovery starts from: records at or below it are
  // not replayed, and the journal may begin anywhere at or before after_seq + 1.
  uint64_t after_seq = 0;
  // A sequence the store is known to have made durable (its identity file's
  // watermark): a journal that, with after_seq, ends before it lost records.
  // 0: no requirement.
  uint64_t required_seq = 0;
  // Corruption (see the rule above) makes open() fail and change nothing on
  // disk, unless this is set: then the trusted prefix is kept and everything
  // from the damage on is set aside in <dir>/discarded/.
  bool discard_corruption = false;
  // Optional: called with every intact record found after the first
  // untrusted byte (in a corrupt segment after its damage, and in every
  // segment after it), so the caller can say what corruption costs. Never
  // called for a torn tail (by definition no intact record follows one).
  RecordVisitor on_untrusted = {};
};

// Where and why bytes on disk were not trusted.
struct Corruption {
  std::string file;     // full path (the directory when segments are missing)
  uint64_t offset = 0;  // byte offset of the first untrusted record
  std::string reason;   // "short header", "short payload", "bad magic", "bad version",
                        // "bad checksum", "sequence gap: ...", "payload too long", ...
  uint64_t intact_after = 0;  // intact records found after `offset` in `file`
};

// "<file> at offset <n>: <reason>[; <k> intact records follow it]".
std::string describe(const Corruption& corruption);

// What reading the journal found.
struct JournalScan {
  struct Segment {
    uint64_t first_seq = 0;   // from the file name
    uint64_t last_seq = 0;    // last trusted record; first_seq - 1 when it holds none
    uint64_t good_bytes = 0;  // length of the trusted prefix
    uint64_t file_bytes = 0;
    std::string path;
  };
  std::vector<Segment> segments;  // up to and including the one where reading stopped
  std::vector<std::string> unread_segments;  // later segments, never read after data loss
  uint64_t records = 0;           // records delivered to the visitor (seq > after_seq)
  uint64_t last_seq = 0;          // last trusted sequence; 0 if none
  // Untrusted bytes at the end of the last segment with no intact record
  // after them: a torn write from a crash. Recovery truncates them.
  std::optional<Corruption> torn_tail;
  // Corruption (the rule at the top): records from this point on are not
  // trusted. Reading stops here; records before it are still delivered.
  std::optional<Corruption> data_loss;
  uint64_t untrusted_records = 0;  // intact records after data_loss (given to on_untrusted)
};

// Reads every segment in `dir` in order, calling `visit` for each trusted
// record with seq > after_seq, and `on_untrusted` (if set) for each intact
// record after a corruption. Changes nothing on disk. Errors are I/O
// failures only; corruption is reported in the result.
[[nodiscard]] Result<JournalScan> scan_journal(FileSystem& fs, const std::string& dir, uint64_t after_seq,
                                               const RecordVisitor& visit, const RecordVisitor& on_untrusted = {});

// Records a scan shows missing although nothing it read was damaged: no
// segment at all while a snapshot at after_seq > 0 exists (the store creates
// segment after_seq + 1 before it writes that snapshot), or a journal that
// ends before required_seq. nullopt when the journal reaches what it must.
[[nodiscard]] std::optional<Corruption> missing_records(const JournalScan& scan, const std::string& dir,
                                                        uint64_t after_seq, uint64_t required_seq);

// "journal.0000000000000042".
std::string journal_segment_name(uint64_t first_seq);

// What Journal::open did to make the journal writable again.
struct RecoveryReport {
  uint64_t records_replayed = 0;
  uint64_t last_seq = 0;  // last trusted sequence, or after_seq if larger
  std::optional<Corruption> torn_tail;  // truncated at file/offset
  uint64_t bytes_truncated = 0;
  // Corruption that was discarded (only with discard_corruption; without it
  // open() fails instead). The records before it were replayed and the
  // journal continues from there. The evidence is kept: the damaged segment
  // is copied and every later segment moved to `<dir>/discarded/<name>[.N]`
  // (listed in `quarantined`), never replayed again.
  std::optional<Corruption> data_loss;
  std::vector<std::string> quarantined;
  uint64_t untrusted_records = 0;  // intact records discarded with it (given to on_untrusted)
};

class Journal {
 public:
  // Creates `dir` if needed, replays the journal into `visit`, truncates a
  // torn tail, and opens the segment to append to. Corruption is an error
  // (kind kCorrupt, the message names file, offset and reason) and nothing on
  // disk is changed, unless options.discard_corruption: then the damaged
  // data is set aside and the journal continues after the trusted prefix. On
  // error the visitor may already have seen records; the caller should
  // discard them.
  [[nodiscard]] static Result<Journal> open(const std::string& dir, const JournalOptions& options,
                                            const RecordVisitor& visit);

  Journal(Journal&&) noexcept = default;
  Journal& operator=(Journal&&) noexcept = default;
  ~Journal() = default;

  // Buffers one record and returns its sequence number. Nothing reaches disk
  // until commit(). A payload over kMaxRecordPayload is a programming error
  // (aborts).
  uint64_t append(uint8_t type, std::string_view payload);

  // Writes all buffered records and fdatasyncs once; returns the last durable
  // sequence. On failure the records stay buffered (a later commit retries
  // them) and the segment is cut back to its last durable byte, so no reader
  // ever sees a partial record. Rotates first if the segment is full. Only
  // the returned sequence is promised durable: if a failed commit is followed
  // by a crash, whole records of the failed batch may or may not survive.
  [[nodiscard]] Result<uint64_t> commit();

  // Starts a new segment if the current one holds at least segment_bytes, or
  // if `force` and it holds any record. Returns whether it did. Buffered
  // records go to the new segment at the next commit.
  [[nodiscard]] Result<bool> rotate(bool force = false);

  // Deletes every segment whose records all have sequence < `seq` (for a
  // snapshot at S, pass S + 1). The segment being written is never deleted.
  // Oldest first, so a crash mid-way leaves a contiguous journal. Returns the
  // number of segments deleted.
  [[nodiscard]] Result<size_t> drop_segments_before(uint64_t seq);

  uint64_t last_durable_seq() const { return durable_seq_; }
  uint64_t next_seq() const { return next_seq_; }
  size_t pending_records() const { return pending_records_; }
  size_t pending_bytes() const { return pending_.size(); }
  // Paths of the live segments, oldest first.
  std::vector<std::string> segment_paths() const;
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

 private:
  struct SegmentEntry {
    uint64_t first_seq;
    std::string path;
  };

  Journal(std::string dir, const JournalOptions& options);
  Result<void> recover(const RecordVisitor& visit);
  Result<void> quarantine(const JournalScan& scan);
  // Cuts a torn tail off a segment a snapshot covers (recovery).
  Result<void> cut_torn_tail(const JournalScan::Segment& segment);
  Result<void> open_segment_for_append(JournalScan::Segment segment);
  Result<void> start_segment(uint64_t first_seq);
  // After a failed write or sync: cut the segment back to durable_offset_.
  void cut_back_after_failure();
  Result<void> note(Result<void> result);
  uint64_t now_ns() const;

  std::string dir_;
  JournalOptions options_;
  std::unique_ptr<StoreStatus> own_status_;  // used when options_.status is null
  StoreStatus* status_;
  std::vector<SegmentEntry> segments_;
  ScopedFile current_;           // the segment being appended to
  uint64_t durable_offset_ = 0;  // bytes of current_ known durable
  bool needs_truncation_ = false;
  bool cut_unsynced_ = false;    // a cut-back since the last fdatasync (rotate syncs it first)
  bool rotation_due_ = false;
  std::string pending_;          // encoded records not yet durable
  size_t pending_records_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t next_seq_ = 1;
  RecoveryReport recovery_;
};

}  // namespace tollgate::files
