#include "control/monitor_baselines.h"

#include "persist/files/checksummed_file.h"
#include "persist/files/file_system.h"
#include "persist/files/little_endian.h"
#include "persist/redis/redis_store.h"

namespace tollgate {
namespace {

void put_baseline_string(std::string& out, std::string_view s) {
  char n[4];
  files::put_u32(n, static_cast<uint32_t>(s.size()));
  out.append(n, 4);
  out.append(s);
}

class BaselineFile final : public BaselineStore {
 public:
  BaselineFile(std::string dir, files::FileSystem& fs)
      : dir_(std::move(dir)), path_(files::join_path(dir_, kBaselineFileName)), fs_(fs) {}

  std::expected<Entries, std::string> load() override {
    auto read = files::read_checksummed_file(fs_, path_, kBaselineFileMagic, kBaselineFileMaxBytes);
    if (!read) return std::unexpected(read.error().message);
    if (read->state == files::ChecksummedRead::State::kAbsent) return Entries{};
    std::string problem = read->problem;
    if (read->state == files::ChecksummedRead::State::kValid) {
      if (read->version != kBaselineFileVersion) {
        problem = path_ + ": format version " + std::to_string(read->version) + " (this tollgate reads " +
                  std::to_string(kBaselineFileVersion) + ")";
      } else {
        auto entries = decode_baseline_file(read->body);
        if (entries) return entries;
        problem = path_ + ": " + entries.error();
      }
    }
    // Kept for a look (the next save would overwrite it), replacing an older one.
    const std::string aside = path_ + ".unreadable";
    if (auto moved = fs_.rename(path_, aside); moved) problem += "; moved aside to " + aside;
    return std::unexpected(problem);
  }

  void save(Entries entries, Done done) override { done(write(entries)); }
  std::expected<void, std::string> save_final(Entries entries) override { return write(entries); }
  std::string describe() const override { return "file " + path_; }

 private:
  std::expected<void, std::string> write(const Entries& entries) {
    auto written = files::write_checksummed_file(fs_, dir_, path_, kBaselineFileMagic, kBaselineFileVersion,
                                                 encode_baseline_file(entries));
    if (!written) return std::unexpected(written.error().message);
    return {};
  }
  std::string dir_;
  std::string path_;
  files::FileSystem& fs_;
};

class RedisBaselines final : public BaselineStore {
 public:
  RedisBaselines(persist::RedisStore& store, std::string key) : store_(store), key_(std::move(key)) {}
  std::expected<Entries, std::string> load() override { return store_.loaded_baselines(); }
  void save(Entries entries, Done done) override { store_.save_baselines(std::move(entries), std::move(done)); }
  std::expected<void, std::string> save_final(Entries entries) override {
    store_.set_final_baselines(std::move(entries));
    return {};
  }
  std::string describe() const override { return "redis hash " + key_; }

 private:
  persist::RedisStore& store_;
  std::string key_;
};

}  // namespace

std::unique_ptr<BaselineStore> make_baseline_file(std::string dir, files::FileSystem& fs) {
  return std::make_unique<BaselineFile>(std::move(dir), fs);
}

std::unique_ptr<BaselineStore> make_redis_baselines(persist::RedisStore& store, std::string key) {
  return std::make_unique<RedisBaselines>(store, std::move(key));
}

std::string encode_baseline_file(const BaselineStore::Entries& entries) {
  std::string out(4, '\0');
  files::put_u32(out.data(), static_cast<uint32_t>(entries.size()));
  for (const auto& [contract, entry] : entries) {
    put_baseline_string(out, contract);
    put_baseline_string(out, entry);
  }
  return out;
}

std::expected<BaselineStore::Entries, std::string> decode_baseline_file(std::string_view body) {
  size_t at = 0;
  auto string = [&](std::string& out) {
    if (body.size() - at < 4) return false;
    const uint32_t n = files::get_u32(body.data() + at);
    at += 4;
    if (body.size() - at < n) return false;
    out.assign(body.substr(at, n));
    at += n;
    return true;
  };
  if (body.size() < 4) return std::unexpected("truncated body");
  const uint32_t count = files::get_u32(body.data());
  at = 4;
  if (uint64_t{count} * 8 > body.size() - at) return std::unexpected("truncated body (count " + std::to_string(count) + ")");
  BaselineStore::Entries entries;
  entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string contract, entry;
    if (!string(contract) || !string(entry)) return std::unexpected("truncated body at entry " + std::to_string(i));
    entries.emplace_back(std::move(contract), std::move(entry));
  }
  if (at != body.size()) return std::unexpected("unexpected bytes after the last entry");
  return entries;
}

}  // namespace tollgate
