// Live config reload (SIGHUP and admin RELOAD): validates the file as a
// whole, builds a new engine that takes over the counters, holds and IDs of
// the running one, and swaps it in for every service atomically. Workers
// never pause; the old engine is freed once no worker can still be using it.
// Thread-safety: reload() and current() are thread-safe (reloads serialize).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/engine.h"
#include "engine/reclaimer.h"

namespace tollgate {

class DataService;

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;   // file:line: reason, when rejected
  std::vector<std::string> changes;  // what differs from the running config
  std::vector<std::string> warnings; // changes that need a restart to apply
};

class Reloader {
 public:
  Reloader(std::string config_path, Config running, std::unique_ptr<Engine> engine, Reclaimer& reclaimer,
           StateStore& state, int workers);
  ~Reloader();

  // Services whose engine pointer is swapped on reload.
  void add_service(DataService* service) { services_.push_back(service); }

  ReloadResult reload(Nanos now);
  Engine& current() const { return *current_.load(std::memory_order_acquire); }
  uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  std::string config_path_;
  Config running_;
  Reclaimer& reclaimer_;
  StateStore& state_;
  int workers_;
  std::vector<DataService*> services_;
  std::mutex mutex_;
  std::atomic<Engine*> current_;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> rejected_{0};
};

// Settings that a running daemon cannot change (listeners, storage, table
// sizes): one line each for those that differ.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

}  // namespace tollgate
