// Journal group-commit throughput (64-byte records, batches of 1, 100 and
// 10,000 per fdatasync) and snapshot write bandwidth, on a mkdtemp directory.
// Numbers depend on the disk's fsync latency; compare runs on one machine.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "persist/files/journal.h"
#include "persist/files/snapshot.h"

namespace tollgate::files {
namespace {

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    path_ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tollgate-store-bench-XXXXXX";
    if (::mkdtemp(path_.data()) == nullptr) std::abort();
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// records/s for one commit per `batch` appends of 64-byte payloads.
void BM_JournalCommit64B(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  BenchDir dir;
  auto journal = Journal::open(dir.path(), {}, [](const RecordView&) {});
  if (!journal) {
    state.SkipWithError(journal.error().message.c_str());
    return;
  }
  const std::string payload(64, 'r');
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) journal->append(1, payload);
    auto committed = journal->commit();
    if (!committed) {
      state.SkipWithError(committed.error().message.c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch * (64 + kRecordHeaderBytes)));
}
BENCHMARK(BM_JournalCommit64B)->Arg(1)->Arg(100)->Arg(10'000)->UseRealTime();

// MB/s for a whole snapshot of `range(0)` MiB in 256-byte records: stream,
// fsync, rename, directory fsync.
void BM_SnapshotWrite(benchmark::State& state) {
  const auto mib = static_cast<size_t>(state.range(0));
  const std::string record(256, 's');
  const size_t records = mib * (1 << 20) / record.size();
  BenchDir dir;
  uint64_t seq = 0;
  for (auto _ : state) {
    auto writer = SnapshotWriter::create(dir.path(), ++seq);
    if (!writer) {
      state.SkipWithError(writer.error().message.c_str());
      return;
    }
    for (size_t i = 0; i < records; ++i) {
      if (!writer->add(1, record)) {
        state.SkipWithError("snapshot add failed");
        return;
      }
    }
    if (!writer->finish()) {
      state.SkipWithError("snapshot finish failed");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * records * (record.size() + 5)));
}
BENCHMARK(BM_SnapshotWrite)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tollgate::files
