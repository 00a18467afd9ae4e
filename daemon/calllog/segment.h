// The call log's files: segments of zstd-compressed blocks.
//
// A segment is `calls-<16-digit sequence>.tgcl` in call_log.dir:
//   "TGCALL01"                          8 bytes, the file header
//   frames, each:
//     u32 magic 0x42434754 ("TGCB")     all integers little-endian
//     u32 compressed length C
//     u32 raw length
//     u32 records
//     i64 first record's time, i64 last record's time
//     u64 xxh64 of the 32 header bytes above and the C bytes below
//     C bytes: the raw block (calllog/block_codec.h), zstd-compressed
// Frames are appended and never rewritten. A damaged frame (bad magic,
// checksum, or a block that does not decompress or decode) is reported with
// its segment and byte offset and skipped: the reader looks for the next
// frame magic after it. A frame cut short by the end of the file (a crash or
// a full disk mid-write) ends that segment. Either way the reader goes on
// with the next frame or segment.
// Thread-safety: pure functions; a SegmentReader has one owner.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "calllog/block_codec.h"

struct ZSTD_DCtx_s;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;  // as zstd.h declares it, without all of zstd.h here

namespace tollgate::calllog {

inline constexpr std::string_view kSegmentHeader = "TGCALL01";
inline constexpr uint32_t kFrameMagic = 0x42434754;
inline constexpr size_t kFrameHeaderBytes = 40;
inline constexpr std::string_view kSegmentPrefix = "calls-";
inline constexpr std::string_view kSegmentSuffix = ".tgcl";

// "calls-0000000000000007.tgcl".
std::string segment_name(uint64_t sequence);
// The sequence of a segment file name; nullopt-like -1 for other names.
int64_t segment_sequence(std::string_view name);

// One frame (header + compressed block) of the block `raw`, appended to `out`.
// Errors: zstd's.
std::expected<void, std::string> append_frame(std::string_view raw, uint32_t records, Nanos first_time,
                                              Nanos last_time, int level, std::string& out);

// Something wrong in a segment: which file, where, what.
struct SegmentProblem {
  std::string file;
  uint64_t offset = 0;
  std::string reason;
  std::string text() const;  // "<file> at byte <offset>: <reason>"
};

// Reads one segment's frames in order.
class SegmentReader {
 public:
  // Reads the whole file. Errors: cannot read, or not a segment (header).
  static std::expected<SegmentReader, SegmentProblem> open(const std::string& path);

  // The next frame whose records may fall in [from, to] (frames wholly
  // outside are skipped without decompressing), decoded into `out`. Damaged
  // frames are added to `problems` and skipped (see above). False at the end.
  bool next(DecodedBlock& out, std::vector<SegmentProblem>& problems, Nanos from = INT64_MIN,
            Nanos to = INT64_MAX);
  // next() for a reader that decodes the records itself, a chunk at a time
  // (tollgate-replay): the block decompressed into `raw` (its capacity is
  // reused) and `decoder` started on it, positioned at its first record.
  // The whole block has been checked to decode with the frame's record
  // count, so a damaged block is skipped whole, as next() skips it.
  bool next_block(std::string& raw, BlockDecoder& decoder, std::vector<SegmentProblem>& problems,
                  Nanos from = INT64_MIN, Nanos to = INT64_MAX);
  uint64_t size() const { return bytes_.size(); }

 private:
  struct FreeContext {
    void operator()(ZSTD_DCtx* c) const;
  };
  // The offset of the next frame magic at or after `from`, or the end.
  size_t find_magic(size_t from) const;

  std::string path_;
  std::string bytes_;
  size_t at_ = 0;
  std::unique_ptr<ZSTD_DCtx, FreeContext> zstd_;  // made on first use, kept for every block
};

// The segments of `dir` (full paths), oldest first. Errors: cannot list.
std::expected<std::vector<std::string>, std::string> list_segments(const std::string& dir);

}  // namespace tollgate::calllog
