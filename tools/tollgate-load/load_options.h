// What a tollgate-load run does, as parsed from the command line. Plain value
// type, immutable once the run starts; shared read-only by all workers.
#pragma once

#include <cstdint>
#include <string>

namespace tollgate::load {

enum class CommandKind { kCheck, kPeek, kPing, kMix };
enum class KeyDistribution { kUniform, kZipf };

struct LoadOptions {
  std::string socket_path;
  int connections = 50;
  int pipeline = 16;       // most requests in flight per connection
  int threads = 1;
  uint64_t requests = 0;   // 0: run for `duration_ns`
  int64_t duration_ns = 10'000'000'000;
  double rate = 0;         // requests/s over all connections; 0: closed loop

  CommandKind command = CommandKind::kCheck;
  double peek_ratio = 0.1;  // share of PEEKs with --command mix
  uint64_t keys = 100'000;
  std::string key_prefix = "ip:";
  KeyDistribution distribution = KeyDistribution::kUniform;
  double zipf_skew = 0.99;
  int64_t cost = 1;
  std::string channel;
  std::string purpose;
  uint64_t subjects = 0;    // 0: no SUBJECT argument

  bool json = false;
  bool quiet = false;
  uint64_t seed = 1;

  bool open_loop() const { return rate > 0; }
};

const char* command_name(CommandKind kind);

}  // namespace tollgate::load
