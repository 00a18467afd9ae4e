// Where the monitors' learned state (monitor/monitors.h: hour-of-week
// baselines, warm-up start, the current hour's and day's counts, the
// new-subject baseline, firing state) is kept between runs, so a restart or
// a deploy does not warm every contract up again. Two homes, one per
// storage.mode:
//   - embedded: `<storage.dir>/monitor-baselines`, a checksummed file
//     (persist/files/checksummed_file.h) rewritten whole — tmp, fsync,
//     rename — by the control loop every few minutes and at a clean stop.
//     Kept out of the journal and snapshots on purpose: baselines are
//     advisory statistics that change every hour without an admin record,
//     and a damaged baseline file must never stand in the way of recovering
//     balances (it is moved aside to `monitor-baselines.unreadable` and the
//     monitors warm up again). Body (format version 1): u32 count, then
//     count × (u32 length + contract, u32 length + entry).
//   - redis: the hash `<prefix>baselines` (contract -> entry), written on
//     the store's async connection and, at a clean stop, after its final
//     flush; in fleet mode every node writes and reads the same hash.
// A crash loses what was learned since the last save (at most the save
// interval of the current hour's counts); a clean stop loses nothing.
// Thread-safety: not thread-safe; the control loop (MonitorRunner) uses it.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tollgate {
namespace files {
class FileSystem;
}
namespace persist {
class RedisStore;
}

class BaselineStore {
 public:
  using Entries = std::vector<std::pair<std::string, std::string>>;  // contract, entry
  using Done = std::function<void(std::expected<void, std::string>)>;
  virtual ~BaselineStore() = default;

  // What an earlier run saved (empty: nothing yet), or why it cannot be read.
  virtual std::expected<Entries, std::string> load() = 0;
  // Replaces what is saved with `entries`; `done` gets the outcome on the
  // calling thread — at once (file) or when Redis answers (loop thread).
  virtual void save(Entries entries, Done done) = 0;
  // The last save of a clean stop: written now (file), or handed to the
  // store's final flush (Redis), whose outcome the store logs.
  virtual std::expected<void, std::string> save_final(Entries entries) = 0;
  // "file <path>" or "redis hash <key>", for logs and INFO.
  virtual std::string describe() const = 0;
};

inline constexpr const char* kBaselineFileName = "monitor-baselines";
inline constexpr uint32_t kBaselineFileMagic = 0x4c424754;  // "TGBL"
inline constexpr uint32_t kBaselineFileVersion = 1;
inline constexpr uint64_t kBaselineFileMaxBytes = uint64_t{1} << 30;

// storage.mode embedded: `<dir>/monitor-baselines` through `fs` (borrowed).
std::unique_ptr<BaselineStore> make_baseline_file(std::string dir, files::FileSystem& fs);
// storage.mode redis: the store's `<prefix>baselines` hash (borrowed store).
std::unique_ptr<BaselineStore> make_redis_baselines(persist::RedisStore& store, std::string key);

// The file's body (format version 1), exposed for tests.
std::string encode_baseline_file(const BaselineStore::Entries& entries);
std::expected<BaselineStore::Entries, std::string> decode_baseline_file(std::string_view body);

}  // namespace tollgate
