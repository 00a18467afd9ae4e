#include "store/journal.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack: no allocation per record
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "store/little_endian.h"
#include "store/seq_names.h"
#include "tollgate/time.h"

namespace tollgate::store {
namespace {

constexpr std::string_view kSegmentPrefix = "journal.";

// XXH3-64 over the first 16 header bytes, then the payload.
uint64_t record_checksum(const char* header, std::string_view payload) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header, 16);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

void encode_record(std::string& out, uint8_t type, uint64_t seq, std::string_view payload) {
  char header[kRecordHeaderBytes];
  header[0] = static_cast<char>(kRecordMagic);
  header[1] = static_cast<char>(kRecordVersion);
  header[2] = static_cast<char>(type);
  header[3] = 0;
  put_u32(header + 4, static_cast<uint32_t>(payload.size()));
  put_u64(header + 8, seq);
  put_u64(header + 16, record_checksum(header, payload));
  out.append(header, sizeof header);
  out.append(payload);
}

// The first sequence in a segment's name, or nullopt if `name` is not exactly
// "journal." + 16 digits (so "journal.X.corrupt" and strays are ignored).
struct SegmentRead {
  JournalScan::Segment segment;
  std::optional<std::string> failure;  // why reading stopped before the end
};

// Reads the records of one segment whose first record must be `first_seq`.
Result<SegmentRead> read_segment(FileSystem& fs, const std::string& path, uint64_t first_seq,
                                 uint64_t after_seq, const RecordVisitor& visit, uint64_t& delivered) {
  auto opened = fs.open(path, O_RDONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  auto file_bytes = fs.size(file.get());
  if (!file_bytes) return std::unexpected(std::move(file_bytes.error()));

  SegmentRead out;
  out.segment = {first_seq, first_seq - 1, 0, *file_bytes, path};
  BufferedReader reader(fs, file.get());
  std::string payload;
  char header[kRecordHeaderBytes];
  for (;;) {
    uint64_t start = reader.offset();
    auto got = reader.read(header, sizeof header);
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got == 0) break;  // clean end
    if (*got < sizeof header) {
      out.failure = "short header";
      break;
    }
    if (static_cast<uint8_t>(header[0]) != kRecordMagic) { out.failure = "bad magic"; break; }
    if (header[1] != kRecordVersion || header[3] != 0) { out.failure = "bad version"; break; }
    uint32_t length = get_u32(header + 4);
    if (length > kMaxRecordPayload) { out.failure = "payload too long"; break; }
    if (length > *file_bytes - start - sizeof header) { out.failure = "short payload"; break; }
    payload.resize(length);
    got = reader.read(payload.data(), length);
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got < length) { out.failure = "short payload"; break; }
    if (get_u64(header + 16) != record_checksum(header, payload)) { out.failure = "bad checksum"; break; }
    uint64_t seq = get_u64(header + 8);
    uint64_t expected = out.segment.last_seq + 1;
    if (seq != expected) {
      out.failure = "sequence gap: expected " + std::to_string(expected) + ", found " + std::to_string(seq);
      break;
    }
    out.segment.last_seq = seq;
    out.segment.good_bytes = reader.offset();
    if (seq > after_seq) {
      ++delivered;
      visit(RecordView{static_cast<uint8_t>(header[2]), seq, payload});
    }
  }
  return out;
}

}  // namespace

std::string journal_segment_name(uint64_t first_seq) {
  return seq_file_name(kSegmentPrefix, first_seq);
}

Result<JournalScan> scan_journal(FileSystem& fs, const std::string& dir, uint64_t after_seq,
                                 const RecordVisitor& visit) {
  auto names = fs.readdir(dir);
  if (!names) return std::unexpected(std::move(names.error()));
  std::vector<std::pair<uint64_t, std::string>> found;
  for (const std::string& name : *names) {
    if (auto seq = parse_seq_file_name(kSegmentPrefix, name)) found.emplace_back(*seq, join_path(dir, name));
  }
  std::sort(found.begin(), found.end());

  JournalScan scan;
  for (size_t i = 0; i < found.size(); ++i) {
    const auto& [first_seq, path] = found[i];
    bool last = i + 1 == found.size();
    // Segments must continue one another. The first may start anywhere up to
    // after_seq + 1: a snapshot covers whatever came before.
    uint64_t expected = scan.segments.empty() ? 1 : scan.segments.back().last_seq + 1;
    bool gap = first_seq == 0 || (!scan.segments.empty() && first_seq < expected) ||
               (first_seq > expected && first_seq > after_seq + 1);
    if (gap) {
      scan.data_loss = Corruption{path, 0,
                                  "sequence gap: expected segment starting at " + std::to_string(expected) +
                                      ", found " + std::to_string(first_seq)};
      for (size_t j = i; j < found.size(); ++j) scan.unread_segments.push_back(found[j].second);
      break;
    }
    auto read = read_segment(fs, path, first_seq, after_seq, visit, scan.records);
    if (!read) return std::unexpected(std::move(read.error()));
    scan.segments.push_back(read->segment);
    if (read->segment.last_seq >= first_seq) scan.last_seq = read->segment.last_seq;
    if (read->failure) {
      Corruption c{path, read->segment.good_bytes, *read->failure};
      if (last) {
        scan.torn_tail = std::move(c);
      } else {
        scan.data_loss = std::move(c);
        for (size_t j = i + 1; j < found.size(); ++j) scan.unread_segments.push_back(found[j].second);
      }
      break;
    }
  }
  return scan;
}

Journal::Journal(std::string dir, const JournalOptions& options)
    : dir_(std::move(dir)), options_(options) {
  if (options_.fs == nullptr) options_.fs = &default_file_system();
  if (options_.status == nullptr) own_status_ = std::make_unique<StoreStatus>();
  status_ = options_.status != nullptr ? options_.status : own_status_.get();
  if (options_.segment_bytes == 0) options_.segment_bytes = 1;
}

Result<Journal> Journal::open(const std::string& dir, const JournalOptions& options, const RecordVisitor& visit) {
  Journal journal(dir, options);
  if (auto made = journal.options_.fs->mkdir(dir); !made) return std::unexpected(std::move(made.error()));
  if (auto recovered = journal.recover(visit); !recovered) {
    journal.status_->note_error(recovered.error());
    return std::unexpected(std::move(recovered.error()));
  }
  return journal;
}

Result<void> Journal::recover(const RecordVisitor& visit) {
  FileSystem& fs = *options_.fs;
  auto scanned = scan_journal(fs, dir_, options_.after_seq, visit);
  if (!scanned) return std::unexpected(std::move(scanned.error()));
  JournalScan& scan = *scanned;
  recovery_.records_replayed = scan.records;
  recovery_.torn_tail = scan.torn_tail;
  recovery_.data_loss = scan.data_loss;

  if (scan.data_loss) {
    ++status_->journal_data_loss_events;
    if (auto q = quarantine(scan); !q) return q;
  }
  for (const auto& segment : scan.segments) segments_.push_back({segment.first_seq, segment.path});

  durable_seq_ = std::max(scan.last_seq, options_.after_seq);
  next_seq_ = durable_seq_ + 1;
  recovery_.last_seq = durable_seq_;

  // Append to the last segment if it continues exactly at next_seq_;
  // otherwise (no segments, or a snapshot newer than the journal) start one.
  if (!scan.segments.empty() && scan.segments.back().last_seq + 1 == next_seq_) {
    return open_segment_for_append(scan.segments.back());
  }
  return start_segment(next_seq_);
}

// Sets aside everything from the data-loss point on: the damaged segment is
// copied to `.corrupt` and cut back to its trusted prefix; later segments are
// renamed. Nothing is deleted.
Result<void> Journal::quarantine(const JournalScan& scan) {
  FileSystem& fs = *options_.fs;
  auto quarantine_name = [&](const std::string& path) -> Result<std::string> {
    auto names = fs.readdir(dir_);
    if (!names) return std::unexpected(std::move(names.error()));
    std::string base = path.substr(path.rfind('/') + 1) + ".corrupt";
    std::string candidate = base;
    for (int n = 1; std::find(names->begin(), names->end(), candidate) != names->end(); ++n) {
      candidate = base + "." + std::to_string(n);
    }
    return join_path(dir_, candidate);
  };
  // A gap before a segment: that segment and all after it are unread.
  // Corruption inside a segment: it was read up to the damage.
  bool damaged_segment_read = !scan.segments.empty() && scan.segments.back().path == scan.data_loss->file;
  if (damaged_segment_read) {
    const auto& damaged = scan.segments.back();
    auto target = quarantine_name(damaged.path);
    if (!target) return std::unexpected(std::move(target.error()));
    auto src = fs.open(damaged.path, O_RDWR);
    if (!src) return std::unexpected(std::move(src.error()));
    ScopedFile source(fs, std::move(*src));
    auto dst = fs.open(*target, O_WRONLY | O_CREAT | O_EXCL);
    if (!dst) return std::unexpected(std::move(dst.error()));
    ScopedFile copy(fs, std::move(*dst));
    BufferedReader reader(fs, source.get());
    std::string chunk(1 << 20, '\0');
    uint64_t offset = 0;
    for (;;) {
      auto got = reader.read(chunk.data(), chunk.size());
      if (!got) return std::unexpected(std::move(got.error()));
      if (*got == 0) break;
      if (auto w = write_all_at(fs, copy.get(), std::string_view(chunk.data(), *got), offset); !w) return w;
      offset += *got;
    }
    if (auto s = fs.fsync(copy.get()); !s) return s;
    if (auto t = fs.ftruncate(source.get(), damaged.good_bytes); !t) return t;
    if (auto s = fs.fdatasync(source.get()); !s) return s;
    recovery_.quarantined.push_back(*target);
  }
  for (const std::string& path : scan.unread_segments) {
    auto target = quarantine_name(path);
    if (!target) return std::unexpected(std::move(target.error()));
    if (auto r = fs.rename(path, *target); !r) return r;
    recovery_.quarantined.push_back(*target);
  }
  return fsync_directory(fs, dir_);
}

Result<void> Journal::open_segment_for_append(const JournalScan::Segment& segment) {
  FileSystem& fs = *options_.fs;
  auto opened = fs.open(segment.path, O_WRONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  current_ = ScopedFile(fs, std::move(*opened));
  if (segment.good_bytes < segment.file_bytes) {
    // A torn tail: never trusted, cut off before anything is appended.
    if (auto t = fs.ftruncate(current_.get(), segment.good_bytes); !t) return t;
    if (auto s = fs.fdatasync(current_.get()); !s) return s;
    recovery_.bytes_truncated = segment.file_bytes - segment.good_bytes;
    status_->records_truncated_at_recovery += 1;
    status_->bytes_truncated_at_recovery += recovery_.bytes_truncated;
  }
  durable_offset_ = segment.good_bytes;
  rotation_due_ = durable_offset_ >= options_.segment_bytes;
  return {};
}

Result<void> Journal::start_segment(uint64_t first_seq) {
  FileSystem& fs = *options_.fs;
  std::string path = join_path(dir_, journal_segment_name(first_seq));
  // O_TRUNC is safe: a segment with this name holds no trusted record (the
  // previous segment ends at first_seq - 1, or a snapshot covers it).
  auto opened = fs.open(path, O_WRONLY | O_CREAT | O_TRUNC);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  if (auto d = fsync_directory(fs, dir_); !d) return d;
  current_ = std::move(file);
  if (segments_.empty() || segments_.back().path != path) segments_.push_back({first_seq, path});
  durable_offset_ = 0;
  needs_truncation_ = false;
  rotation_due_ = false;
  ++status_->segments_created;
  return {};
}

uint64_t Journal::append(uint8_t type, std::string_view payload) {
  if (payload.size() > kMaxRecordPayload) {
    std::fprintf(stderr, "tollgate store: journal record of %zu bytes exceeds the %u-byte limit\n",
                 payload.size(), kMaxRecordPayload);
    std::abort();
  }
  uint64_t seq = next_seq_++;
  encode_record(pending_, type, seq, payload);
  ++pending_records_;
  return seq;
}

uint64_t Journal::now_ns() const {
  static const SystemClock system_clock;
  const Clock& clock = options_.clock != nullptr ? *options_.clock : system_clock;
  return static_cast<uint64_t>(clock.now());
}

void Journal::cut_back_after_failure() {
  // If this fails too, the next commit rewrites the same bytes (the pending
  // buffer only grows, so it covers whatever partial data is there) and
  // recovery would truncate them as a torn tail anyway.
  needs_truncation_ = !options_.fs->ftruncate(current_.get(), durable_offset_).has_value();
}

Result<void> Journal::note(Result<void> result) {
  if (!result) status_->note_error(result.error());
  return result;
}

Result<uint64_t> Journal::commit() {
  if (pending_.empty()) return durable_seq_;
  FileSystem& fs = *options_.fs;
  if (rotation_due_ || !current_.is_open()) {
    if (auto r = rotate(); !r) return std::unexpected(std::move(r.error()));
  }
  if (needs_truncation_) {
    needs_truncation_ = !fs.ftruncate(current_.get(), durable_offset_).has_value();
  }
  if (auto w = note(write_all_at(fs, current_.get(), pending_, durable_offset_)); !w) {
    cut_back_after_failure();
    return std::unexpected(std::move(w.error()));
  }
  // After a failed fdatasync the kernel may have dropped the dirty pages
  // (marked clean), so a retried sync could lie. We cut back and rewrite the
  // whole batch on the next commit, which dirties the pages again.
  uint64_t started = now_ns();
  if (auto s = note(fs.fdatasync(current_.get())); !s) {
    cut_back_after_failure();
    return std::unexpected(std::move(s.error()));
  }
  uint64_t finished = now_ns();
  status_->note_sync(finished > started ? finished - started : 0);
  status_->bytes_written += pending_.size();
  status_->records_committed += pending_records_;
  ++status_->commits;
  durable_offset_ += pending_.size();
  durable_seq_ = next_seq_ - 1;
  pending_.clear();
  pending_records_ = 0;
  if (durable_offset_ >= options_.segment_bytes) rotation_due_ = true;
  return durable_seq_;
}

Result<bool> Journal::rotate(bool force) {
  bool full = durable_offset_ >= options_.segment_bytes;
  bool has_records = durable_offset_ > 0;
  if (current_.is_open() && !(has_records && (full || force))) return false;
  if (current_.is_open() && needs_truncation_) {
    // Leaving partial bytes behind would turn a torn tail into corruption in
    // a non-last segment (data loss at recovery): cut them first or stay.
    auto cut = note(options_.fs->ftruncate(current_.get(), durable_offset_));
    if (!cut) return std::unexpected(std::move(cut.error()));
    needs_truncation_ = false;
  }
  // The durable prefix was synced when committed; nothing else to flush.
  if (current_.is_open()) (void)current_.close();
  if (auto s = note(start_segment(durable_seq_ + 1)); !s) {
    rotation_due_ = true;  // current_ is closed: the next commit must try again
    return std::unexpected(std::move(s.error()));
  }
  return true;
}

Result<size_t> Journal::drop_segments_before(uint64_t seq) {
  FileSystem& fs = *options_.fs;
  size_t dropped = 0;
  // Segment i holds [first_seq_i, first_seq_{i+1} - 1]; the last is never dropped.
  while (segments_.size() > 1 && segments_[1].first_seq <= seq) {
    if (auto u = fs.unlink(segments_.front().path); !u && u.error().error_number != ENOENT) {
      status_->note_error(u.error());
      return std::unexpected(std::move(u.error()));
    }
    segments_.erase(segments_.begin());
    ++dropped;
    ++status_->segments_dropped;
  }
  if (dropped > 0) {
    if (auto d = note(fsync_directory(fs, dir_)); !d) return std::unexpected(std::move(d.error()));
  }
  return dropped;
}

std::vector<std::string> Journal::segment_paths() const {
  std::vector<std::string> paths;
  for (const auto& s : segments_) paths.push_back(s.path);
  return paths;
}

}  // namespace tollgate::store
