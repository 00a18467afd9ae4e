// Fuzzes the snapshot decoder: an older valid snapshot (seq 5) and a newer
// one (seq 9) that is either raw bytes or written by SnapshotWriter and then
// damaged. Input (little endian, see ByteReader):
//   u8 mode: bit 0 = the newer snapshot is raw bytes, bit 1 = no older snapshot
//   u8 count, older records (u8 type, u16 length, payload)
//   raw:        the newer snapshot's bytes (the rest of the input)
//   structured: u8 count, newer records, then damage ops until the end:
//               u8 op (0 xor a byte, 1 truncate, 2 append garbage), u32 offset, u8 value
// Properties:
//   - the visitor sees exactly the records of the snapshot reported loaded,
//     and only of that one; a snapshot that fails verification is skipped
//     and reported, and the older one is used;
//   - a written snapshot loads back exactly, and any damage to it is detected
//     (the header checksum covers every byte that matters);
//   - after a later snapshot is written and retention runs, that one loads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "persist/files/snapshot.h"

namespace tollgate::fuzz {
namespace {

struct Record {
  uint8_t type;
  std::string bytes;
  bool operator==(const Record&) const = default;
};

constexpr uint64_t kOlderSeq = 5;
constexpr uint64_t kNewerSeq = 9;
constexpr uint64_t kLaterSeq = 12;

// Small buffers: the writer's chunked flushes and the reader's refills are
// exercised, and no 1 MiB buffer is allocated per call.
files::SnapshotOptions options() {
  files::SnapshotOptions o;
  o.buffer_bytes = 256;
  return o;
}

std::vector<Record> read_records(ByteReader& in) {
  std::vector<Record> records;
  const uint8_t count = in.u8();
  for (uint8_t i = 0; i < count && !in.empty(); ++i) {
    const uint8_t type = in.u8();
    records.push_back({type, std::string(in.bytes(in.u16()))});
  }
  return records;
}

void write(const std::string& dir, uint64_t seq, const std::vector<Record>& records) {
  std::vector<files::SnapshotRecord> views;
  for (const Record& r : records) views.push_back({r.type, r.bytes});
  auto info = files::write_snapshot(dir, seq, views, options());
  FUZZ_CHECK(info.has_value(), "writing a snapshot failed: " + (info ? std::string() : info.error().message));
  FUZZ_CHECK(info->seq == seq && info->records == records.size(), "write_snapshot reported another snapshot");
}

// Applies the damage ops to the file; returns whether its bytes changed.
bool damage(ByteReader& in, const std::string& path) {
  const std::string original = read_file(path);
  std::string bytes = original;
  for (int ops = 0; ops < 8 && !in.empty(); ++ops) {
    const uint8_t op = in.u8() % 3;
    const uint32_t offset = in.u32();
    const uint8_t value = in.u8();
    if (op == 0 && !bytes.empty()) bytes[offset % bytes.size()] ^= static_cast<char>(value);
    if (op == 1) bytes.resize(offset % (bytes.size() + 1));
    if (op == 2) bytes.append(std::string(value % 64 + 1, static_cast<char>(offset)));
  }
  write_file(path, bytes);
  return bytes != original;
}

files::SnapshotLoad load(const std::string& dir, std::vector<Record>& seen) {
  seen.clear();
  auto loaded = files::load_latest(dir, [&](uint8_t type, std::string_view bytes) {
    seen.push_back({type, std::string(bytes)});
  }, options());
  FUZZ_CHECK(loaded.has_value(), "load_latest failed: " + (loaded ? std::string() : loaded.error().message));
  return std::move(*loaded);
}

void run(std::string_view input) {
  const std::string& dir = scratch().clear();
  ByteReader in(input);
  const uint8_t mode = in.u8();
  const bool raw = (mode & 1) != 0;
  const bool has_older = (mode & 2) == 0;
  const std::vector<Record> older = read_records(in);
  if (has_older) write(dir, kOlderSeq, older);

  std::vector<Record> newer;
  bool damaged = false;  // structured only
  const std::string newer_path = dir + "/" + files::snapshot_name(kNewerSeq);
  if (raw) {
    write_file(newer_path, in.rest());
  } else {
    newer = read_records(in);
    write(dir, kNewerSeq, newer);
    damaged = damage(in, newer_path);
  }

  std::vector<Record> seen;
  const files::SnapshotLoad result = load(dir, seen);
  if (result.loaded && result.loaded->seq == kNewerSeq) {
    if (!raw) FUZZ_CHECK(!damaged, "a damaged snapshot verified");
    if (!raw) FUZZ_CHECK(seen == newer, "the newer snapshot's records came back different");
    FUZZ_CHECK(seen.size() == result.loaded->records, "records seen differ from the count loaded");
  } else {
    if (!raw) FUZZ_CHECK(damaged, "an undamaged snapshot was not loaded");
    FUZZ_CHECK(!result.skipped.empty() && result.skipped.front().file == newer_path,
               "a snapshot that failed verification was not reported as skipped");
    if (has_older) {
      FUZZ_CHECK(result.loaded && result.loaded->seq == kOlderSeq, "the older valid snapshot was not used");
      FUZZ_CHECK(seen == older, "the older snapshot's records came back different");
    } else {
      FUZZ_CHECK(!result.loaded && seen.empty(), "records were delivered from no valid snapshot");
    }
  }

  const std::vector<Record> later = {{12, "later"}, {1, std::string(300, 'x')}};
  write(dir, kLaterSeq, later);
  const files::SnapshotLoad after = load(dir, seen);
  FUZZ_CHECK(after.loaded && after.loaded->seq == kLaterSeq && seen == later,
             "a snapshot written after recovery did not load back");
}

}  // namespace
}  // namespace tollgate::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tollgate::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
