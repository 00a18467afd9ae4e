// What the fuzz targets share: a property check that aborts (libFuzzer keeps
// the input as a crash reproducer), a scratch directory on tmpfs, quiet logs,
// and the small engine world (engine, state, admin) several targets drive.
// Not thread-safe: a fuzz target runs one input at a time on one thread.
#pragma once

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "control/engine_options.h"
#include "config/config.h"
#include "config/config_loader.h"
#include "control/contract_admin.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"
#include "tollgate/decision.h"

namespace tollgate::fuzz {

// A violated property: print it and abort, so libFuzzer reports a crash and
// writes the input that caused it.
[[noreturn]] inline void property_failed(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "\n%s:%d: property violated: %s\n  %s\n", file, line, condition, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(condition, detail)                                                     \
  do {                                                                                    \
    if (!(condition)) ::tollgate::fuzz::property_failed(__FILE__, __LINE__, #condition, (detail)); \
  } while (false)

// Reads a fuzz input front to back as little-endian fields; past the end
// every read yields zeros / fewer bytes. Seeds are written in the same
// layout (tests/fuzz/seeds/generate_seeds.cc).
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint8_t u8() { return static_cast<uint8_t>(fixed(1)); }
  uint16_t u16() { return static_cast<uint16_t>(fixed(2)); }
  uint32_t u32() { return static_cast<uint32_t>(fixed(4)); }
  // The next n bytes (fewer at the end).
  std::string_view bytes(size_t n) {
    n = std::min(n, in_.size() - pos_);
    std::string_view out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view rest() { return bytes(in_.size() - pos_); }
  bool empty() const { return pos_ >= in_.size(); }

 private:
  uint64_t fixed(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && pos_ < in_.size(); ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

// Logs are off (the store warns about every corrupt byte it meets); set
// TOLLGATE_FUZZ_LOG=1 to see them when reproducing a crash.
inline void quiet_logs() {
  const char* log = std::getenv("TOLLGATE_FUZZ_LOG");
  spdlog::set_level(log != nullptr && *log != '\0' && *log != '0' ? spdlog::level::debug : spdlog::level::off);
}

// One directory per process, emptied before each input: on /dev/shm when it
// is writable (fsync is free there), else $TMPDIR or /tmp.
class ScratchDir {
 public:
  ScratchDir() {
    std::string base = "/dev/shm";
    if (::access(base.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    std::string pattern = base + "/tollgate-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Removes everything inside; returns the directory's path.
  const std::string& clear() {
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ignored))
      std::filesystem::remove_all(entry.path(), ignored);
    return path_;
  }
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// The target's scratch directory (one per process).
inline ScratchDir& scratch() {
  static ScratchDir dir;
  return dir;
}

// A whole file's bytes (empty when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces `path`'s contents with `bytes` (or appends them).
inline void write_file(const std::string& path, std::string_view bytes, bool append = false) {
  std::ofstream out(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Error lines for a property message: each on its own indented line.
inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += "\n    " + line;
  return out;
}

// The engine's preallocated tables (dynamic keys, remembered IDs, holds) are
// sized by the config for production; a fuzz input builds one or more engines
// per run, so they are capped here. The config loader's own bounds are
// checked on the uncapped values (the config target); only the allocation is
// smaller.
inline void cap_table_sizes(EngineOptions& options) {
  options.table.max_dynamic_keys = std::min<size_t>(options.table.max_dynamic_keys, 1024);
  options.table.initial_slots_per_shard = 16;
  options.dedup_max_entries = std::min<size_t>(options.dedup_max_entries, 1024);
  options.max_holds = std::min<size_t>(options.max_holds, 256);
}

// A start time inside every seed config's contract dates (2026-01-15T00:00:00Z).
inline constexpr Nanos kFuzzStart = 1'768'435'200 * kNanosPerSecond;

// The config the engine-driving targets (commands, store_recovery) run:
// priced contracts with every limit type, subjects, holds, a terminated
// contract, prefix and exact key classes.
inline constexpr std::string_view kHarnessConfig = R"(
unknown_keys: deny
pricing:
  standard:
    - { prepay_from: 1000000, unit_price: 80 }
    - { prepay_from: 0, unit_price: 100 }
contracts:
  acme:
    channels: [pc, wireless]
    purposes: [credit-score, fraud-check]
    pricing: standard
    hold_timeout: commit
    limits:
      - { name: burst, type: token_bucket, rate: 20, per: 1s, burst: 40 }
      - { name: minute, type: sliding_window, limit: 50, window: 60s }
      - { name: daily, type: quota, limit: 100, period: day }
      - { name: users, type: distinct_subjects, limit: 3, period: day }
      - { name: inflight, type: concurrency, limit: 2 }
      - { name: trial, type: quota, limit: 5, period: hour, shadow: true }
    per_subject:
      - { name: per-user, type: token_bucket, rate: 2, per: 1m, burst: 2 }
  beta:
    pricing: standard
    hold_timeout: cancel
    limits:
      - { name: inflight, type: concurrency, limit: 1 }
      - { name: monthly, type: quota, limit: 1000, period: month }
  gone:
    status: terminated
    limits:
      - { name: q, type: quota, limit: 5, period: day }
key_classes:
  - match: "ip:*"
    limits:
      - { name: ip, type: token_bucket, rate: 5, per: 1s, burst: 5 }
  - match: exact-key
    limits:
      - { name: w, type: sliding_window, limit: 3, window: 10s, sub_buckets: 2 }
)";

// Parses a config the harness itself provides; a bad one is a harness bug.
inline Config must_parse(std::string_view yaml) {
  auto config = parse_config(yaml, "harness.yaml");
  if (!config) {
    for (const auto& e : config.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::abort();
  }
  return std::move(*config);
}

// Keys a config answers for: every contract, and for each key class one key
// it matches.
inline std::vector<std::string> keys_of(const Config& config) {
  std::vector<std::string> keys;
  for (const auto& [key, contract] : config.contracts) keys.push_back(key);
  for (const auto& kc : config.key_classes) keys.push_back(kc.is_prefix ? kc.prefix + "fuzz" : kc.match);
  return keys;
}

inline void check_decision(const Decision& d, const std::string& what) {
  FUZZ_CHECK(static_cast<int>(d.code) < kCodeCount, what + ": code out of range");
  FUZZ_CHECK(d.allowed == (d.code == Code::kOk), what + ": allowed disagrees with code " +
                                                     std::string(code_name(d.code)));
  FUZZ_CHECK(d.retry_after_ms >= -1, what + ": negative retry_after_ms " + std::to_string(d.retry_after_ms));
  FUZZ_CHECK(d.reset_after_ms >= 0, what + ": negative reset_after_ms " + std::to_string(d.reset_after_ms));
}

// A fixed burst of calls over `keys` at `now`: plain calls, SUBJECTs, an ID
// repeated (the second is a replay), a HOLD settled and one left open,
// cost 0 and a large cost; PEEKs between. Every decision is sanity-checked.
// Call with no Reclaimer critical section open (it opens one).
inline void exercise(Engine& engine, const std::vector<std::string>& keys, Nanos now, Reclaimer& reclaimer,
                     int slot) {
  ReadGuard guard(reclaimer, slot);
  for (const std::string& key : keys) {
    const bool contract = engine.contract(key) != nullptr;
    auto call = [&](CheckRequest request, const char* what) {
      request.key = key;
      check_decision(engine.peek(request, now), key + " peek " + what);
      check_decision(engine.check(request, now, 0), key + " check " + what);
    };
    call({}, "plain");
    call({.subject = "subject-a"}, "subject a");
    call({.subject = "subject-b"}, "subject b");
    call({.cost = 0}, "cost 0");
    call({.cost = 1'000'000'000'000}, "cost 1e12");
    call({.id = "id-1"}, "id");
    call({.id = "id-1"}, "id replay");
    if (contract) {
      call({.subject = "subject-a", .id = "hold-1", .hold_ms = 1000}, "hold");
      engine.settle(key, "hold-1", true, now);
      call({.id = "hold-2", .hold_ms = 60'000}, "open hold");
    }
    call({.wait_ms = 100}, "wait");
  }
}

// Flushes per-call debits into the ledger, then checks Σ ledger == balance
// for every contract that has an account.
inline void check_money(RuntimeState& state, ContractAdmin& admin, Nanos now, const std::string& when) {
  admin.flush_debits(now);
  for (ContractState* contract : state.all()) {
    if (contract->account() == nullptr) continue;
    auto ok = check_invariant(state.ledger(), contract->key(), contract->account()->balance());
    FUZZ_CHECK(ok.has_value(), when + ": " + (ok ? std::string() : ok.error()));
  }
}

// What a PEEK answers, as a comparable value (Decision::limit is a view).
struct PeekAnswer {
  bool allowed;
  Code code;
  std::string limit;
  int64_t remaining, retry_after_ms, reset_after_ms, balance;
  bool operator==(const PeekAnswer&) const = default;
  std::string to_string() const {
    return std::string(code_name(code)) + " " + limit + " remaining " + std::to_string(remaining) + " retry " +
           std::to_string(retry_after_ms) + " reset " + std::to_string(reset_after_ms) + " balance " +
           std::to_string(balance);
  }
};

// PEEKs of every key, with and without a SUBJECT. Opens its own critical section.
inline std::vector<PeekAnswer> peek_all(const Engine& engine, const std::vector<std::string>& keys, Nanos now,
                                        Reclaimer& reclaimer, int slot) {
  ReadGuard guard(reclaimer, slot);
  std::vector<PeekAnswer> out;
  for (const std::string& key : keys) {
    for (std::string_view subject : {std::string_view(), std::string_view("subject-a")}) {
      CheckRequest request{.key = key, .subject = subject};
      const Decision d = engine.peek(request, now);
      out.push_back({d.allowed, d.code, std::string(d.limit), d.remaining, d.retry_after_ms, d.reset_after_ms,
                     d.balance});
    }
  }
  return out;
}

}  // namespace tollgate::fuzz
