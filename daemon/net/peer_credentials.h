// Who is on the other end of an accepted Unix socket: SO_PEERCRED (uid, gid,
// pid as of connect()) and, when asked, the peer's supplementary groups.
//
// Supplementary groups come from SO_PEERGROUPS (Linux ≥ 4.13): the kernel's
// copy taken at connect(), exact. Where the socket option is missing
// (ENOPROTOOPT: older kernels), they are read from /proc/<pid>/status
// ("Groups:") instead, which is racy: the peer may have changed its groups
// since it connected, or exited and had its pid reused by another process,
// so that fallback can admit or refuse on groups that are not the
// connecting process's. `groups_source` says which was used.
// Thread-safety: pure functions of the fd (and /proc).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace tollgate {

struct PeerCredentials {
  int64_t uid = -1;  // -1: unknown (getsockopt failed)
  int64_t gid = -1;  // primary group
  int64_t pid = -1;
  std::vector<uint32_t> groups;  // supplementary groups (may include gid)
  enum class GroupsSource : uint8_t { kNone, kPeerGroups, kProcStatus } groups_source = GroupsSource::kNone;
};

// Reads SO_PEERCRED of `fd`; with `with_groups`, the supplementary groups
// too (SO_PEERGROUPS, else /proc/<pid>/status). Allocates only with_groups.
PeerCredentials read_peer_credentials(int fd, bool with_groups);

// Parses the "Groups:" line of a /proc/<pid>/status text; false when there is
// none or it is malformed. Exposed for tests.
bool parse_status_groups(std::string_view status, std::vector<uint32_t>& out);

}  // namespace tollgate
