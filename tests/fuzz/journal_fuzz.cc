// Fuzzes the journal's record decoder and recovery over damaged segments.
// Input (little endian, see ByteReader):
//   u8 mode: bit 0 set = raw, else structured
//   raw:        u8 after_seq, then segments: u8 first-seq step, u16 length, bytes
//   structured: u16 segment_bytes, u8 record count, records (u8 type, u8 commit
//               after it, u16 length, payload), then damage ops until the end:
//               u8 op (0 xor a byte, 1 truncate, 2 delete the segment,
//               3 append garbage), u8 segment, u32 offset, u8 value
// Structured inputs are written by the Journal itself (valid checksums), so
// the damage reaches every check behind them. Properties:
//   - a scan delivers records with consecutive sequence numbers after
//     after_seq, and (structured) each is exactly the record written with
//     that sequence: damage never yields a record that was not written;
//   - undamaged, every record written is delivered, with no torn tail or loss;
//   - Journal::open either fails with an error, or replays what the scan
//     delivered; then a record appended and committed is replayed after them
//     by the next open, which finds nothing torn or lost.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "persist/files/file_system.h"
#include "persist/files/journal.h"

namespace tollgate::fuzz {
namespace {

using files::Journal;
using files::JournalOptions;
using files::RecordView;

struct Record {
  uint8_t type;
  uint64_t seq;
  std::string payload;
  bool operator==(const Record&) const = default;
};

files::RecordVisitor recorder(std::vector<Record>& into) {
  return [&into](const RecordView& r) { into.push_back({r.type, r.seq, std::string(r.payload)}); };
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (name.starts_with("journal.") && name.size() == 24) names.push_back(entry.path());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Applies the damage ops; returns whether any changed a byte of a segment.
bool damage(ByteReader& in, const std::string& dir) {
  bool changed = false;
  for (int ops = 0; ops < 8 && !in.empty(); ++ops) {
    const uint8_t op = in.u8() % 4;
    const uint8_t segment = in.u8();
    const uint32_t offset = in.u32();
    const uint8_t value = in.u8();
    const std::vector<std::string> files = segment_files(dir);
    if (files.empty()) return changed;
    const std::string& path = files[segment % files.size()];
    std::string bytes = read_file(path);
    switch (op) {
      case 0:
        if (bytes.empty() || value == 0) break;
        bytes[offset % bytes.size()] ^= static_cast<char>(value);
        changed = true;
        break;
      case 1:
        if (offset % (bytes.size() + 1) == bytes.size()) break;
        bytes.resize(offset % (bytes.size() + 1));
        changed = true;
        break;
      case 2:
        std::filesystem::remove(path);
        changed = true;
        continue;
      case 3:
        bytes.append(std::string(value % 64 + 1, static_cast<char>(offset)));
        changed = true;
        break;
    }
    write_file(path, bytes);
  }
  return changed;
}

void check_consecutive(const std::vector<Record>& records, uint64_t after_seq, const std::string& what) {
  for (size_t i = 0; i < records.size(); ++i) {
    FUZZ_CHECK(records[i].seq > after_seq, what + ": a record at or below after_seq was delivered");
    if (i > 0)
      FUZZ_CHECK(records[i].seq == records[i - 1].seq + 1,
                 what + ": sequence " + std::to_string(records[i - 1].seq) + " then " + std::to_string(records[i].seq));
  }
}

void run(std::string_view input) {
  const std::string& dir = scratch().clear();
  ByteReader in(input);
  const bool raw = (in.u8() & 1) != 0;
  uint64_t after_seq = 0;
  std::vector<Record> written;  // structured only: what the Journal was given
  bool damaged = true;
  if (raw) {
    after_seq = in.u8() % 8;
    uint64_t first_seq = 0;
    for (int i = 0; i < 4 && !in.empty(); ++i) {
      first_seq += in.u8() % 16;
      const uint16_t length = in.u16();
      write_file(dir + "/" + files::journal_segment_name(first_seq), in.bytes(length));
    }
  } else {
    JournalOptions options;
    options.segment_bytes = 64 + in.u16();
    std::vector<Record> none;
    auto journal = Journal::open(dir, options, recorder(none));
    FUZZ_CHECK(journal.has_value(), "opening an empty journal failed");
    const uint8_t count = in.u8();
    for (uint8_t i = 0; i < count && !in.empty(); ++i) {
      const uint8_t type = in.u8();
      const bool commit = (in.u8() & 1) != 0;
      const std::string payload(in.bytes(in.u16()));
      const uint64_t seq = journal->append(type, payload);
      written.push_back({type, seq, payload});
      if (commit) FUZZ_CHECK(journal->commit().has_value(), "commit failed");
    }
    FUZZ_CHECK(journal->commit().has_value(), "commit failed");
    damaged = damage(in, dir);
  }

  std::vector<Record> scanned;
  files::FileSystem& fs = files::default_file_system();
  auto scan = files::scan_journal(fs, dir, after_seq, recorder(scanned));
  FUZZ_CHECK(scan.has_value(), "scan failed: " + (scan ? std::string() : scan.error().message));
  check_consecutive(scanned, after_seq, "scan");
  for (const Record& r : scanned) {
    if (raw) break;
    FUZZ_CHECK(r.seq >= 1 && r.seq <= written.size() && written[r.seq - 1] == r,
               "scan delivered a record that was not written (seq " + std::to_string(r.seq) + ")");
  }
  if (!damaged) {
    FUZZ_CHECK(scanned == written, "undamaged journal: scanned " + std::to_string(scanned.size()) + " of " +
                                       std::to_string(written.size()) + " records");
    FUZZ_CHECK(!scan->torn_tail && !scan->data_loss, "undamaged journal reported torn or lost");
  }

  JournalOptions options;
  options.after_seq = after_seq;
  std::vector<Record> replayed;
  uint64_t seq = 0;
  {
    auto journal = Journal::open(dir, options, recorder(replayed));
    if (!journal) return;  // refused with an error: fine (nothing it replayed is used)
    FUZZ_CHECK(replayed == scanned, "open replayed " + std::to_string(replayed.size()) +
                                        " records, scan delivered " + std::to_string(scanned.size()));
    seq = journal->append(7, "after recovery");
    FUZZ_CHECK(journal->commit().has_value(), "commit after recovery failed");
    FUZZ_CHECK(replayed.empty() || seq == replayed.back().seq + 1,
               "the first record after recovery got seq " + std::to_string(seq));
  }

  std::vector<Record> again;
  auto reopened = Journal::open(dir, options, recorder(again));
  FUZZ_CHECK(reopened.has_value(), "reopening a recovered journal failed: " +
                                       (reopened ? std::string() : reopened.error().message));
  replayed.push_back({7, seq, "after recovery"});
  FUZZ_CHECK(again == replayed, "reopening replayed " + std::to_string(again.size()) + " records, expected " +
                                    std::to_string(replayed.size()));
  FUZZ_CHECK(!reopened->recovery().torn_tail && !reopened->recovery().data_loss,
             "a recovered journal was found torn or damaged again");
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
