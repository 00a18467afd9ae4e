#include "persist/files/snapshot.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "persist/files/little_endian.h"
#include "persist/files/seq_names.h"

namespace tollgate::files {
namespace {

constexpr char kMagic[8] = {'T', 'G', 'S', 'N', 'A', 'P', '\0', '\1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kRecordFrameBytes = 5;  // u8 type + u32 length
constexpr std::string_view kPrefix = "snapshot.";
constexpr std::string_view kTmpSuffix = ".tmp";
struct Listing {
  std::vector<std::pair<uint64_t, std::string>> snapshots;  // newest first
  std::vector<std::string> tmp_files;
};

Result<Listing> list_snapshots(FileSystem& fs, const std::string& dir) {
  auto names = fs.readdir(dir);
  if (!names) return std::unexpected(std::move(names.error()));
  Listing listing;
  for (std::string_view name : *names) {
    if (!name.starts_with(kPrefix)) continue;
    std::string_view rest = name.substr(kPrefix.size());
    if (rest.ends_with(kTmpSuffix)) {
      listing.tmp_files.push_back(join_path(dir, name));
    } else if (auto seq = parse_seq_file_name(kPrefix, name)) {
      listing.snapshots.emplace_back(*seq, join_path(dir, name));
    }
  }
  std::sort(listing.snapshots.rbegin(), listing.snapshots.rend());
  return listing;
}

StoreStatus& status_of(const SnapshotOptions& options, StoreStatus& fallback) {
  return options.status != nullptr ? *options.status : fallback;
}

// Outcome of checking one snapshot file: its info, or why it is invalid.
struct Verified {
  std::optional<SnapshotInfo> info;
  std::optional<Corruption> corruption;
};

// Pass 1: header, framing of every record, and the checksum. Reads the file
// once, in buffer-sized pieces.
Result<Verified> verify_snapshot(FileSystem& fs, const std::string& path, uint64_t name_seq,
                                 size_t buffer_bytes) {
  auto opened = fs.open(path, O_RDONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  auto file_bytes = fs.size(file.get());
  if (!file_bytes) return std::unexpected(std::move(file_bytes.error()));
  auto invalid = [&](uint64_t offset, std::string reason) {
    return Verified{std::nullopt, Corruption{path, offset, std::move(reason)}};
  };

  BufferedReader reader(fs, file.get(), buffer_bytes);
  char header[kSnapshotHeaderBytes];
  auto got = reader.read(header, sizeof header);
  if (!got) return std::unexpected(std::move(got.error()));
  if (*got < sizeof header) return invalid(0, "short header");
  if (std::memcmp(header, kMagic, sizeof kMagic) != 0) return invalid(0, "bad magic");
  if (get_u32(header + 8) != kVersion || get_u32(header + 12) != 0) return invalid(8, "bad version");
  uint64_t seq = get_u64(header + 16);
  uint64_t body_bytes = get_u64(header + 24);
  uint64_t records = get_u64(header + 32);
  if (seq != name_seq) return invalid(16, "sequence does not match file name");
  if (body_bytes != *file_bytes - kSnapshotHeaderBytes) return invalid(24, "length does not match file size");

  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(), &XXH3_freeState);
  XXH3_64bits_reset(hash.get());
  std::string chunk(std::min<uint64_t>(buffer_bytes, std::max<uint64_t>(body_bytes, 1)), '\0');
  // Walk the framing while hashing: `next_frame` is the body offset of the
  // next record's type byte; frames may straddle chunks.
  uint64_t offset = 0;
  uint64_t next_frame = 0;
  uint64_t frames = 0;
  char frame[kRecordFrameBytes];
  size_t frame_have = 0;
  while (offset < body_bytes) {
    got = reader.read(chunk.data(), std::min<uint64_t>(chunk.size(), body_bytes - offset));
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got == 0) return invalid(kSnapshotHeaderBytes + offset, "short body");
    XXH3_64bits_update(hash.get(), chunk.data(), *got);
    for (uint64_t pos = offset; pos < offset + *got;) {
      if (pos < next_frame) {
        pos = std::min(next_frame, offset + *got);
        continue;
      }
      frame[frame_have++] = chunk[pos - offset];
      ++pos;
      if (frame_have == kRecordFrameBytes) {
        uint32_t length = get_u32(frame + 1);
        next_frame = pos + length;
        frame_have = 0;
        ++frames;
      }
    }
    offset += *got;
  }
  if (frame_have != 0 || next_frame != body_bytes) {
    return invalid(kSnapshotHeaderBytes + body_bytes, "truncated record");
  }
  XXH3_64bits_update(hash.get(), header, 40);
  if (XXH3_64bits_digest(hash.get()) != get_u64(header + 40)) return invalid(40, "bad checksum");
  if (frames != records) return invalid(32, "record count mismatch");
  return Verified{SnapshotInfo{seq, path, *file_bytes, records}, std::nullopt};
}

// Pass 2: deliver the records of a verified snapshot.
Result<void> stream_records(FileSystem& fs, const SnapshotInfo& info, const SnapshotVisitor& visit,
                            size_t buffer_bytes) {
  auto opened = fs.open(info.path, O_RDONLY);
  if (!opened) return std::unexpected(std::move(opened.error()));
  ScopedFile file(fs, std::move(*opened));
  BufferedReader reader(fs, file.get(), buffer_bytes);
  char header[kSnapshotHeaderBytes];
  if (auto got = reader.read(header, sizeof header); !got) return std::unexpected(std::move(got.error()));
  std::string payload;
  for (uint64_t i = 0; i < info.records; ++i) {
    char frame[kRecordFrameBytes];
    auto got = reader.read(frame, sizeof frame);
    if (!got) return std::unexpected(std::move(got.error()));
    uint32_t length = get_u32(frame + 1);
    payload.resize(length);
    got = reader.read(payload.data(), length);
    if (!got) return std::unexpected(std::move(got.error()));
    if (*got != length) {
      // The file changed between the passes: nothing here is ours to trust.
      return std::unexpected(make_error(0, "read (snapshot changed while loading)", info.path));
    }
    visit(static_cast<uint8_t>(frame[0]), payload);
  }
  return {};
}

}  // namespace

std::string snapshot_name(uint64_t seq) {
  return seq_file_name(kPrefix, seq);
}

Result<SnapshotWriter> SnapshotWriter::create(const std::string& dir, uint64_t seq, const SnapshotOptions& options) {
  SnapshotOptions opts = options;
  if (opts.fs == nullptr) opts.fs = &default_file_system();
  if (opts.buffer_bytes == 0) opts.buffer_bytes = 1;
  StoreStatus scratch;
  StoreStatus& status = status_of(opts, scratch);
  if (auto made = opts.fs->mkdir(dir); !made) {
    status.note_error(made.error());
    return std::unexpected(std::move(made.error()));
  }
  std::string tmp_path = join_path(dir, snapshot_name(seq)) + std::string(kTmpSuffix);
  auto opened = opts.fs->open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC);
  if (!opened) {
    status.note_error(opened.error());
    return std::unexpected(std::move(opened.error()));
  }
  ScopedFile file(*opts.fs, std::move(*opened));
  return SnapshotWriter(dir, seq, opts, std::move(file), std::move(tmp_path));
}

SnapshotWriter::SnapshotWriter(std::string dir, uint64_t seq, const SnapshotOptions& options, ScopedFile file,
                               std::string tmp_path)
    : dir_(std::move(dir)),
      seq_(seq),
      options_(options),
      file_(std::move(file)),
      tmp_path_(std::move(tmp_path)),
      hash_(XXH3_createState()) {
  XXH3_64bits_reset(hash_.get());
  buffer_.reserve(options_.buffer_bytes);
}

SnapshotWriter::SnapshotWriter(SnapshotWriter&& other) noexcept
    : dir_(std::move(other.dir_)),
      seq_(other.seq_),
      options_(other.options_),
      file_(std::move(other.file_)),
      tmp_path_(std::move(other.tmp_path_)),
      buffer_(std::move(other.buffer_)),
      flushed_(other.flushed_),
      records_(other.records_),
      hash_(std::move(other.hash_)),
      done_(other.done_) {
  other.done_ = true;  // the moved-from writer must not unlink our .tmp
}

SnapshotWriter::~SnapshotWriter() {
  if (done_) return;
  file_.reset();
  (void)options_.fs->unlink(tmp_path_);
}

Result<void> SnapshotWriter::fail(StoreError error) {
  if (options_.status != nullptr) options_.status->note_error(error);
  if (!done_) {
    done_ = true;
    file_.reset();
    (void)options_.fs->unlink(tmp_path_);
  }
  return std::unexpected(std::move(error));
}

Result<void> SnapshotWriter::flush() {
  if (buffer_.empty()) return {};
  XXH3_64bits_update(hash_.get(), buffer_.data(), buffer_.size());
  if (auto w = write_all_at(*options_.fs, file_.get(), buffer_, kSnapshotHeaderBytes + flushed_); !w) {
    return fail(std::move(w.error()));
  }
  flushed_ += buffer_.size();
  if (options_.status != nullptr) options_.status->bytes_written += buffer_.size();
  buffer_.clear();
  return {};
}

Result<void> SnapshotWriter::add(uint8_t type, std::string_view bytes) {
  if (done_) return std::unexpected(make_error(EBADF, "add to finished or failed snapshot", tmp_path_));
  if (bytes.size() > kMaxRecordPayload) return fail(make_error(EMSGSIZE, "add record to", tmp_path_));
  char frame[kRecordFrameBytes];
  frame[0] = static_cast<char>(type);
  put_u32(frame + 1, static_cast<uint32_t>(bytes.size()));
  buffer_.append(frame, sizeof frame);
  // Big records go straight through instead of growing the buffer.
  if (buffer_.size() + bytes.size() > options_.buffer_bytes) {
    if (auto f = flush(); !f) return f;
    if (bytes.size() >= options_.buffer_bytes) {
      XXH3_64bits_update(hash_.get(), bytes.data(), bytes.size());
      if (auto w = write_all_at(*options_.fs, file_.get(), bytes, kSnapshotHeaderBytes + flushed_); !w) {
        return fail(std::move(w.error()));
      }
      flushed_ += bytes.size();
      if (options_.status != nullptr) options_.status->bytes_written += bytes.size();
      bytes = {};
    }
  }
  buffer_.append(bytes);
  ++records_;
  return {};
}

Result<SnapshotInfo> SnapshotWriter::finish() {
  if (done_) return std::unexpected(make_error(EBADF, "finish finished or failed snapshot", tmp_path_));
  if (auto f = flush(); !f) return std::unexpected(std::move(f.error()));
  FileSystem& fs = *options_.fs;
  char header[kSnapshotHeaderBytes];
  std::memcpy(header, kMagic, sizeof kMagic);
  put_u32(header + 8, kVersion);
  put_u32(header + 12, 0);
  put_u64(header + 16, seq_);
  put_u64(header + 24, flushed_);
  put_u64(header + 32, records_);
  XXH3_64bits_update(hash_.get(), header, 40);
  put_u64(header + 40, XXH3_64bits_digest(hash_.get()));
  if (auto w = write_all_at(fs, file_.get(), std::string_view(header, sizeof header), 0); !w) {
    return std::unexpected(fail(std::move(w.error())).error());
  }
  if (auto s = fs.fsync(file_.get()); !s) return std::unexpected(fail(std::move(s.error())).error());
  if (auto c = file_.close(); !c) return std::unexpected(fail(std::move(c.error())).error());
  std::string path = join_path(dir_, snapshot_name(seq_));
  if (auto r = fs.rename(tmp_path_, path); !r) return std::unexpected(fail(std::move(r.error())).error());
  done_ = true;  // from here on the .tmp name is gone
  SnapshotInfo info{seq_, path, kSnapshotHeaderBytes + flushed_, records_};
  StoreStatus scratch;
  StoreStatus& status = status_of(options_, scratch);
  if (auto d = fsync_directory(fs, dir_); !d) {
    // The rename may not survive a crash; the caller must not drop journal
    // segments on the strength of this snapshot.
    status.note_error(d.error());
    return std::unexpected(std::move(d.error()));
  }
  status.bytes_written += kSnapshotHeaderBytes;
  ++status.snapshots_written;
  if (auto pruned = prune_snapshots(dir_, options_.keep, options_); !pruned) status.note_error(pruned.error());
  return info;
}

Result<SnapshotInfo> write_snapshot(const std::string& dir, uint64_t seq, std::span<const SnapshotRecord> records,
                                    const SnapshotOptions& options) {
  auto writer = SnapshotWriter::create(dir, seq, options);
  if (!writer) return std::unexpected(std::move(writer.error()));
  for (const SnapshotRecord& record : records) {
    if (auto a = writer->add(record.type, record.bytes); !a) return std::unexpected(std::move(a.error()));
  }
  return writer->finish();
}

Result<SnapshotLoad> load_latest(const std::string& dir, const SnapshotVisitor& visit, const SnapshotOptions& options) {
  FileSystem& fs = options.fs != nullptr ? *options.fs : default_file_system();
  size_t buffer_bytes = std::max<size_t>(options.buffer_bytes, 4096);
  StoreStatus scratch;
  StoreStatus& status = status_of(options, scratch);
  auto listing = list_snapshots(fs, dir);
  if (!listing) return std::unexpected(std::move(listing.error()));
  SnapshotLoad load;
  for (const std::string& tmp : listing->tmp_files) {
    if (fs.unlink(tmp)) load.removed.push_back(tmp);
  }
  for (const auto& [seq, path] : listing->snapshots) {
    auto verified = verify_snapshot(fs, path, seq, buffer_bytes);
    if (!verified) return std::unexpected(std::move(verified.error()));
    if (verified->corruption) {
      ++status.corrupt_snapshots_skipped;
      load.skipped.push_back(std::move(*verified->corruption));
      continue;
    }
    if (auto streamed = stream_records(fs, *verified->info, visit, buffer_bytes); !streamed) {
      return std::unexpected(std::move(streamed.error()));
    }
    load.loaded = std::move(verified->info);
    break;
  }
  return load;
}

Result<std::vector<std::string>> prune_snapshots(const std::string& dir, size_t keep, const SnapshotOptions& options) {
  FileSystem& fs = options.fs != nullptr ? *options.fs : default_file_system();
  auto listing = list_snapshots(fs, dir);
  if (!listing) return std::unexpected(std::move(listing.error()));
  std::vector<std::string> doomed = listing->tmp_files;
  for (size_t i = std::max<size_t>(keep, 1); i < listing->snapshots.size(); ++i) {
    doomed.push_back(listing->snapshots[i].second);
  }
  std::vector<std::string> removed;
  for (const std::string& path : doomed) {
    if (auto u = fs.unlink(path); !u && u.error().error_number != ENOENT) return std::unexpected(std::move(u.error()));
    removed.push_back(path);
  }
  if (!removed.empty()) {
    if (auto d = fsync_directory(fs, dir); !d) return std::unexpected(std::move(d.error()));
  }
  return removed;
}

}  // namespace tollgate::files
