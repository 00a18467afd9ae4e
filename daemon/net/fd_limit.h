// The process's file-descriptor limit (RLIMIT_NOFILE) against what the
// server needs: raised at start-up from the soft toward the hard limit, and
// checked so that a max_connections the limit cannot serve is refused with a
// clear error instead of surfacing later as EMFILE under load.
// Thread-safety: call at start-up, before threads exist (setrlimit is
// process-wide).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>

namespace tollgate {

struct FdLimit {
  uint64_t soft = 0;  // in force
  uint64_t hard = 0;
  uint64_t raised_from = 0;  // the soft limit before raise_fd_limit (== soft if unchanged)
};

// Descriptors the daemon needs besides its data connections: stdio and log,
// listeners and the spare one, each event loop's own descriptors (epoll,
// wake-ups, signals), the store's files or Redis connection, and
// Server::kMaxAdminConnections admin connections.
size_t reserved_fds(int worker_threads);

// Sets the soft limit to the hard one (capped at /proc/sys/fs/nr_open when
// the hard limit is unlimited). A failure leaves the limit as it was and is
// not an error: the check below decides.
FdLimit raise_fd_limit();

// An error naming both numbers and the way out when `limit.soft` cannot hold
// `max_connections` plus reserved_fds(worker_threads).
std::expected<void, std::string> check_fd_limit(const FdLimit& limit, size_t max_connections, int worker_threads);

}  // namespace tollgate
