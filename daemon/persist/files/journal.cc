#include "persist/files/journal.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack: no allocation per record
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "persist/files/discarded.h"
#include "persist/files/little_endian.h"
#include "persist/files/seq_names.h"
#include "tollgate/time.h"

namespace tollgate::files {
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

struct SegmentRead {
  JournalScan::Segment segment;
  std::optional<std::string> failure;  // why reading stopped before the end
  bool failed_record_intact = false;   // the record at the failure is whole, only out of sequence
};

// The checks a header must pass before its checksum is worth computing.
bool plausible_header(const char* header, uint64_t offset, uint64_t file_bytes) {
  if (static_cast<uint8_t>(header[0]) != kRecordMagic || header[1] != kRecordVersion || header[3] != 0) return false;
  const uint32_t length = get_u32(header + 4);
  return length <= kMaxRecordPayload && length <= file_bytes - offset - kRecordHeaderBytes;
}

// Whether the record whose plausible header is at `offset` has a valid
// checksum. Streams the payload, so a huge length costs no memory.
Result<bool> checksum_holds(FileSystem& fs, const FileHandle& file, const char* header, uint64_t offset,
                            std::string& scratch) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header, 16);
  uint64_t left = get_u32(header + 4);
  uint64_t at = offset + kRecordHeaderBytes;
  scratch.resize(64 << 10);
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, scratch.size()));
    auto got = read_full_at(fs, file, scratch.data(), want, at);
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got < want) return false;  // the file shrank under us
    XXH3_64bits_update(&state, scratch.data(), want);
    left -= want;
    at += want;
  }
  return XXH3_64bits_digest(&state) == get_u64(header + 16);
}

struct IntactRecord {
  uint64_t offset = 0;
  char header[kRecordHeaderBytes];
  uint32_t length() const { return get_u32(header + 4); }
  uint64_t end() const { return offset + kRecordHeaderBytes + length(); }
};

// The first intact record (magic, version, length within the file, valid
// checksum) starting at or after `from`. Every byte offset is a candidate:
// the length field of damaged bytes is never trusted to skip ahead.
Result<std::optional<IntactRecord>> find_intact_record(FileSystem& fs, const FileHandle& file, uint64_t file_bytes,
                                                       uint64_t from) {
  constexpr size_t kWindow = 1 << 20;
  std::string window;
  std::string scratch;
  for (uint64_t base = from; base + kRecordHeaderBytes <= file_bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kWindow, file_bytes - base));
    window.resize(n);
    auto got = read_full_at(fs, file, window.data(), n, base);
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got < kRecordHeaderBytes) break;
    const size_t have = *got;
    for (size_t i = 0; i + kRecordHeaderBytes <= have;) {
      const void* hit = std::memchr(window.data() + i, kRecordMagic, have - kRecordHeaderBytes + 1 - i);
      if (hit == nullptr) break;
      i = static_cast<size_t>(static_cast<const char*>(hit) - window.data());
      const char* header = window.data() + i;
      if (plausible_header(header, base + i, file_bytes)) {
        auto holds = checksum_holds(fs, file, header, base + i, scratch);
        if (!holds) return std::unexpected(std::move(holds.error()));
        if (*holds) {
          IntactRecord found;
          found.offset = base + i;
          std::memcpy(found.header, header, kRecordHeaderBytes);
          return found;
        }
      }
      ++i;
    }
    if (have < n || base + have >= file_bytes) break;
    base += have - (kRecordHeaderBytes - 1);  // a header may straddle the window's end
  }
  return std::nullopt;
}

// Calls `visit` (if set) with every intact record at or after `from`,
// resynchronising after damage. Returns how many there were.
Result<uint64_t> visit_intact_records(FileSystem& fs, const std::string& path, uint64_t from,
                                      const RecordVisitor& visit) {
  auto opened = fs.open(path, O_RDONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  auto file_bytes = fs.size(file.get());
  if (!file_bytes) return std::unexpected(std::move(file_bytes.error()));
  uint64_t count = 0;
  std::string payload;
  for (uint64_t at = from;;) {
    auto found = find_intact_record(fs, file.get(), *file_bytes, at);
    if (!found) return std::unexpected(std::move(found.error()));
    if (!*found) return count;
    const IntactRecord& r = **found;
    ++count;
    if (visit) {
      payload.resize(r.length());
      auto got = read_full_at(fs, file.get(), payload.data(), payload.size(), r.offset + kRecordHeaderBytes);
      if (!got) return std::unexpected(std::move(got.error()));
      if (*got == payload.size())
        visit(RecordView{static_cast<uint8_t>(r.header[2]), get_u64(r.header + 8), payload});
    }
    at = r.end();
  }
}

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
      out.failed_record_intact = true;
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

std::string describe(const Corruption& c) {
  std::string out = c.file + " at offset " + std::to_string(c.offset) + ": " + c.reason;
  if (c.intact_after > 0) out += "; " + std::to_string(c.intact_after) + " intact records follow it";
  return out;
}

Result<JournalScan> scan_journal(FileSystem& fs, const std::string& dir, uint64_t after_seq,
                                 const RecordVisitor& visit, const RecordVisitor& on_untrusted) {
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
      // An intact record after the damage (or the failing record itself,
      // whole but out of sequence) is something a crash cannot leave.
      const uint64_t search_from = c.offset + (read->failed_record_intact ? 0 : 1);
      auto after = visit_intact_records(fs, path, search_from, {});
      if (!after) return std::unexpected(std::move(after.error()));
      c.intact_after = *after;
      if (last && c.intact_after == 0) {
        scan.torn_tail = std::move(c);
      } else {
        scan.data_loss = std::move(c);
        for (size_t j = i + 1; j < found.size(); ++j) scan.unread_segments.push_back(found[j].second);
      }
      break;
    }
  }
  // What corruption makes untrusted: intact records after the damage and in
  // every later segment.
  if (scan.data_loss) {
    scan.untrusted_records = scan.data_loss->intact_after;
    if (on_untrusted && scan.data_loss->intact_after > 0) {
      const Corruption& c = *scan.data_loss;
      auto seen = visit_intact_records(fs, c.file, c.offset, on_untrusted);
      if (!seen) return std::unexpected(std::move(seen.error()));
    }
    for (const std::string& path : scan.unread_segments) {
      auto seen = visit_intact_records(fs, path, 0, on_untrusted);
      if (!seen) return std::unexpected(std::move(seen.error()));
      scan.untrusted_records += *seen;
    }
  }
  return scan;
}

std::optional<Corruption> missing_records(const JournalScan& scan, const std::string& dir, uint64_t after_seq,
                                          uint64_t required_seq) {
  if (scan.segments.empty() && scan.unread_segments.empty() && after_seq > 0) {
    return Corruption{dir, 0,
                      "no journal segment, but a snapshot at seq " + std::to_string(after_seq) +
                          " exists (segment " + journal_segment_name(after_seq + 1) +
                          " was created before it): the journal was removed"};
  }
  const uint64_t reached = std::max(scan.last_seq, after_seq);
  if (reached < required_seq) {
    const bool none = scan.segments.empty();
    return Corruption{none ? dir : scan.segments.back().path, none ? 0 : scan.segments.back().good_bytes,
                      "the journal and snapshots reach seq " + std::to_string(reached) +
                          ", but this store had made seq " + std::to_string(required_seq) +
                          " durable (identity file): journal segments or snapshots were removed or emptied"};
  }
  return std::nullopt;
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
    // Corruption is not a write error; only I/O failures count as one.
    if (recovered.error().kind() != StoreErrorKind::kCorrupt) journal.status_->note_error(recovered.error());
    return std::unexpected(std::move(recovered.error()));
  }
  return journal;
}

Result<void> Journal::recover(const RecordVisitor& visit) {
  FileSystem& fs = *options_.fs;
  auto scanned = scan_journal(fs, dir_, options_.after_seq, visit, options_.on_untrusted);
  if (!scanned) return std::unexpected(std::move(scanned.error()));
  JournalScan& scan = *scanned;
  recovery_.records_replayed = scan.records;
  recovery_.torn_tail = scan.torn_tail;

  // Decided before anything on disk changes, so a refused start can be
  // repeated and still refuses.
  std::optional<Corruption> damage = scan.data_loss;
  if (!damage) damage = missing_records(scan, dir_, options_.after_seq, options_.required_seq);
  if (damage) {
    ++status_->journal_data_loss_events;
    if (!options_.discard_corruption) {
      return std::unexpected(StoreError{0, "journal corrupt: " + describe(*damage)});
    }
    recovery_.data_loss = damage;
    recovery_.untrusted_records = scan.untrusted_records;
    if (scan.data_loss) {
      if (auto q = quarantine(scan); !q) return q;
      // The damaged segment now ends at its trusted prefix.
      if (!scan.segments.empty() && scan.segments.back().path == scan.data_loss->file)
        scan.segments.back().file_bytes = scan.segments.back().good_bytes;
    }
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
  // A snapshot covers the last segment: its torn tail (if any) is cut before
  // a new segment follows it, or the next recovery would meet damage in a
  // segment that is no longer the last and call it corruption.
  if (!scan.segments.empty() && scan.segments.back().good_bytes < scan.segments.back().file_bytes) {
    if (auto cut = cut_torn_tail(scan.segments.back()); !cut) return cut;
  }
  return start_segment(next_seq_);
}

Result<void> Journal::cut_torn_tail(const JournalScan::Segment& segment) {
  FileSystem& fs = *options_.fs;
  auto opened = fs.open(segment.path, O_WRONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  if (auto t = fs.ftruncate(file.get(), segment.good_bytes); !t) return t;
  if (auto s = fs.fdatasync(file.get()); !s) return s;
  recovery_.bytes_truncated = segment.file_bytes - segment.good_bytes;
  status_->records_truncated_at_recovery += 1;
  status_->bytes_truncated_at_recovery += recovery_.bytes_truncated;
  return {};
}

// Sets aside everything from the corruption on, in <dir>/discarded/: the
// damaged segment is copied there and cut back to its trusted prefix; later
// segments are moved there. Nothing is deleted.
Result<void> Journal::quarantine(const JournalScan& scan) {
  FileSystem& fs = *options_.fs;
  const std::string aside = discarded_dir(dir_);
  auto name_of = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  // A gap before a segment: that segment and all after it are unread.
  // Corruption inside a segment: it was read up to the damage.
  bool damaged_segment_read = !scan.segments.empty() && scan.segments.back().path == scan.data_loss->file;
  if (damaged_segment_read) {
    const auto& damaged = scan.segments.back();
    auto target = discarded_path(fs, dir_, name_of(damaged.path));
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
    if (auto d = fsync_directory(fs, aside); !d) return d;  // the copy survives before the original is cut
    if (auto t = fs.ftruncate(source.get(), damaged.good_bytes); !t) return t;
    if (auto s = fs.fdatasync(source.get()); !s) return s;
    recovery_.quarantined.push_back(*target);
  }
  std::vector<std::string> later;
  for (const std::string& path : scan.unread_segments) later.push_back(name_of(path));
  auto moved = move_to_discarded(fs, dir_, later);
  if (!moved) return std::unexpected(std::move(moved.error()));
  recovery_.quarantined.insert(recovery_.quarantined.end(), moved->begin(), moved->end());
  return fsync_directory(fs, dir_);
}

Result<void> Journal::open_segment_for_append(JournalScan::Segment segment) {
  FileSystem& fs = *options_.fs;
  // A torn tail: never trusted, cut off before anything is appended.
  if (segment.good_bytes < segment.file_bytes) {
    if (auto cut = cut_torn_tail(segment); !cut) return cut;
  }
  auto opened = fs.open(segment.path, O_WRONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  current_ = ScopedFile(fs, std::move(*opened));
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
  cut_unsynced_ = false;
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
  cut_unsynced_ = cut_unsynced_ || !needs_truncation_;
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
    cut_unsynced_ = cut_unsynced_ || !needs_truncation_;
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
  cut_unsynced_ = false;  // the sync made the file's length durable too
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
    cut_unsynced_ = true;
  }
  if (current_.is_open() && cut_unsynced_) {
    // A cut-back the disk may not have made durable: after a power loss the
    // segment could grow back with the failed batch's bytes, which in a
    // segment that is no longer the last would read as corruption.
    auto synced = note(options_.fs->fdatasync(current_.get()));
    if (!synced) return std::unexpected(std::move(synced.error()));
    cut_unsynced_ = false;
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

}  // namespace tollgate::files
