#include "net/fd_limit.h"

#include <sys/resource.h>

#include <fstream>
#include <fmt/format.h>

#include "net/server.h"

namespace tollgate {
namespace {

// stdio, log, listeners, spare, control loop, store files (journal segment,
// snapshot being written, directory, lock), Redis, tools' sockets: a generous
// round figure, for what the daemon opens besides connections and loops.
constexpr size_t kFixedReserve = 64;
// Per event loop: epoll, its async wake-up eventfd(s), signal pipe.
constexpr size_t kPerLoop = 4;

uint64_t nr_open() {
  std::ifstream in("/proc/sys/fs/nr_open");
  uint64_t n = 0;
  if (in >> n && n > 0) return n;
  return 1 << 20;
}

}  // namespace

size_t reserved_fds(int worker_threads) {
  const size_t loops = static_cast<size_t>(std::max(1, worker_threads)) + 2;  // + control and admin loops
  return kFixedReserve + kPerLoop * loops + Server::kMaxAdminConnections;
}

FdLimit raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {};
  FdLimit out{rl.rlim_cur, rl.rlim_max, rl.rlim_cur};
  const uint64_t want = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rlimit raised{static_cast<rlim_t>(want), rl.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = want;
  }
  return out;
}

std::expected<void, std::string> check_fd_limit(const FdLimit& limit, size_t max_connections, int worker_threads) {
  const uint64_t reserve = reserved_fds(worker_threads);
  const uint64_t needed = uint64_t{max_connections} + reserve;
  if (limit.soft == RLIM_INFINITY || limit.soft >= needed) return {};
  const uint64_t fits = limit.soft > reserve ? limit.soft - reserve : 0;
  return std::unexpected(fmt::format(
      "server.max_connections {} needs {} file descriptors ({} more for listeners, event loops, storage and admin "
      "connections), but the limit is {} (RLIMIT_NOFILE soft {}, hard {}); raise the hard limit (ulimit -Hn, "
      "systemd LimitNOFILE=) or set server.max_connections to at most {}",
      max_connections, needed, reserve, limit.soft, limit.soft, limit.hard, fits));
}

}  // namespace tollgate
