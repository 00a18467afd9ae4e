#include "calllog/segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "persist/files/little_endian.h"

namespace tollgate::calllog {

std::string segment_name(uint64_t sequence) {
  std::string digits = std::to_string(sequence);
  return std::string(kSegmentPrefix) + std::string(16 - std::min<size_t>(16, digits.size()), '0') + digits +
         std::string(kSegmentSuffix);
}

int64_t segment_sequence(std::string_view name) {
  if (!name.starts_with(kSegmentPrefix) || !name.ends_with(kSegmentSuffix)) return -1;
  const std::string_view digits =
      name.substr(kSegmentPrefix.size(), name.size() - kSegmentPrefix.size() - kSegmentSuffix.size());
  if (digits.size() != 16) return -1;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::expected<void, std::string> append_frame(std::string_view raw, uint32_t records, Nanos first_time,
                                              Nanos last_time, int level, std::string& out) {
  const size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + ZSTD_compressBound(raw.size()));
  char* header = out.data() + start;
  const size_t c = ZSTD_compress(header + kFrameHeaderBytes, out.size() - start - kFrameHeaderBytes, raw.data(),
                                 raw.size(), level);
  if (ZSTD_isError(c)) {
    out.resize(start);
    return std::unexpected(std::string("zstd: ") + ZSTD_getErrorName(c));
  }
  out.resize(start + kFrameHeaderBytes + c);
  header = out.data() + start;
  files::put_u32(header, kFrameMagic);
  files::put_u32(header + 4, static_cast<uint32_t>(c));
  files::put_u32(header + 8, static_cast<uint32_t>(raw.size()));
  files::put_u32(header + 12, records);
  files::put_u64(header + 16, static_cast<uint64_t>(first_time));
  files::put_u64(header + 24, static_cast<uint64_t>(last_time));
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  XXH64_update(state, header, 32);
  XXH64_update(state, header + kFrameHeaderBytes, c);
  files::put_u64(header + 32, XXH64_digest(state));
  XXH64_freeState(state);
  return {};
}

std::string SegmentProblem::text() const { return file + " at byte " + std::to_string(offset) + ": " + reason; }

std::expected<SegmentReader, SegmentProblem> SegmentReader::open(const std::string& path) {
  SegmentReader r;
  r.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(SegmentProblem{path, 0, std::string("cannot open: ") + std::strerror(errno)});
  // Read straight into a buffer of the file's size (one allocation, one
  // copy from the page cache), not appended a piece at a time; the 64 KB
  // beyond it take the read that finds the end without growing the buffer,
  // and a file that grows meanwhile (a live writer's) is read to its end
  // all the same.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) r.bytes_.reserve(static_cast<size_t>(st.st_size) + (1 << 16));
  for (;;) {
    if (r.bytes_.capacity() - r.bytes_.size() < (1 << 12)) r.bytes_.reserve(2 * r.bytes_.size() + (1 << 20));
    const size_t had = r.bytes_.size();
    const size_t room = r.bytes_.capacity() - had;
    ssize_t n = 0;
    r.bytes_.resize_and_overwrite(had + room, [&](char* p, size_t) {
      n = ::read(fd, p + had, room);
      return had + static_cast<size_t>(n > 0 ? n : 0);
    });
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return std::unexpected(SegmentProblem{path, r.bytes_.size(), std::string("cannot read: ") + std::strerror(e)});
    }
    if (n == 0) break;
  }
  ::close(fd);
  if (!std::string_view(r.bytes_).starts_with(kSegmentHeader))
    return std::unexpected(SegmentProblem{path, 0, "not a call-log segment (no TGCALL01 header)"});
  r.at_ = kSegmentHeader.size();
  return r;
}

size_t SegmentReader::find_magic(size_t from) const {
  char magic[4];
  files::put_u32(magic, kFrameMagic);
  const size_t found = bytes_.find(std::string_view(magic, 4), from);
  return found == std::string::npos ? bytes_.size() : found;
}

void SegmentReader::FreeContext::operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }

bool SegmentReader::next(DecodedBlock& out, std::vector<SegmentProblem>& problems, Nanos from, Nanos to) {
  BlockDecoder decoder;
  std::vector<uint32_t> keys;
  while (next_block(out.raw, decoder, problems, from, to)) {
    const size_t offset = at_;
    if (auto decoded = decoder.next(decoder.remaining(), out.records, keys); decoded) return true;
    // next_block checked that it decodes: not reached, but never trusted blindly.
    problems.push_back({path_, offset, "block does not decode; skipped"});
  }
  return false;
}

bool SegmentReader::next_block(std::string& raw, BlockDecoder& decoder, std::vector<SegmentProblem>& problems,
                               Nanos from, Nanos to) {
  while (at_ < bytes_.size()) {
    const size_t offset = at_;
    const char* h = bytes_.data() + offset;
    const size_t left = bytes_.size() - offset;
    auto skip = [&](std::string reason) {
      problems.push_back({path_, offset, std::move(reason) + "; skipped to the next frame"});
      at_ = find_magic(offset + 1);
    };
    if (left < kFrameHeaderBytes) {
      problems.push_back({path_, offset, "truncated frame header (" + std::to_string(left) + " bytes); end of segment"});
      at_ = bytes_.size();
      return false;
    }
    if (files::get_u32(h) != kFrameMagic) {
      skip("no frame magic");
      continue;
    }
    const uint32_t c = files::get_u32(h + 4);
    const uint32_t raw_len = files::get_u32(h + 8);
    const uint32_t records = files::get_u32(h + 12);
    const auto first = static_cast<Nanos>(files::get_u64(h + 16));
    const auto last = static_cast<Nanos>(files::get_u64(h + 24));
    if (left - kFrameHeaderBytes < c) {
      // Either the tail of a write cut short, or a damaged length: a later
      // frame magic means the latter.
      const size_t later = find_magic(offset + 1);
      if (later == bytes_.size()) {
        problems.push_back({path_, offset, "truncated frame (" + std::to_string(c) + " bytes announced, " +
                                               std::to_string(left - kFrameHeaderBytes) + " present); end of segment"});
        at_ = bytes_.size();
        return false;
      }
      skip("frame length runs past the end of the file");
      continue;
    }
    XXH64_state_t* state = XXH64_createState();
    XXH64_reset(state, 0);
    XXH64_update(state, h, 32);
    XXH64_update(state, h + kFrameHeaderBytes, c);
    const bool sum_ok = XXH64_digest(state) == files::get_u64(h + 32);
    XXH64_freeState(state);
    if (!sum_ok) {
      skip("checksum mismatch");
      continue;
    }
    at_ = offset + kFrameHeaderBytes + c;
    if (last < from || first > to) continue;
    if (!zstd_) zstd_.reset(ZSTD_createDCtx());
    raw.resize(raw_len);
    const size_t got = zstd_ ? ZSTD_decompressDCtx(zstd_.get(), raw.data(), raw.size(), h + kFrameHeaderBytes, c)
                             : ZSTD_decompress(raw.data(), raw.size(), h + kFrameHeaderBytes, c);
    if (ZSTD_isError(got) || got != raw_len) {
      problems.push_back({path_, offset, "block does not decompress; skipped"});
      continue;
    }
    auto decoded = decoder.start(raw);
    if (decoded) decoded = decoder.check_rest();
    if (!decoded) {
      problems.push_back({path_, offset, "block does not decode (" + decoded.error() + "); skipped"});
      continue;
    }
    if (decoder.remaining() != records) {
      problems.push_back({path_, offset, "record count differs from the frame header; skipped"});
      continue;
    }
    return true;
  }
  return false;
}

std::expected<std::vector<std::string>, std::string> list_segments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::unexpected("cannot list " + dir + ": " + std::strerror(errno));
  std::vector<std::pair<int64_t, std::string>> found;
  while (dirent* e = ::readdir(d)) {
    const int64_t seq = segment_sequence(e->d_name);
    if (seq >= 0) found.emplace_back(seq, dir + "/" + e->d_name);
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [seq, path] : found) out.push_back(std::move(path));
  return out;
}

}  // namespace tollgate::calllog
