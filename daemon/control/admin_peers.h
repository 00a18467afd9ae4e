// Who may use the admin socket: the decision, as a pure function of the
// config and the peer's credentials (net/peer_credentials.h).
//
// A peer is admitted when any of these holds:
//   * admit_owner (default true) and its uid is root (0) or the daemon's own
//     uid — so listing other uids or gids never locks those two out;
//   * its uid is in admin.allow_uids;
//   * its primary gid or one of its supplementary groups is in
//     admin.allow_gids (supplementary groups: SO_PEERGROUPS, exact; on kernels
//     without it, /proc/<pid>/status, which is racy — see peer_credentials.h).
// Thread-safety: pure; the policy is immutable once built.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "config/config.h"
#include "net/peer_credentials.h"

namespace tollgate {

struct AdminPeerPolicy {
  std::vector<uint32_t> uids;
  std::vector<uint32_t> gids;
  bool admit_owner = true;  // root and owner_uid
  uint32_t owner_uid = 0;   // the daemon's uid
};

// The policy of `admin` for a daemon running as `owner_uid`.
AdminPeerPolicy admin_peer_policy(const AdminConfig& admin, uint32_t owner_uid);

// True iff `peer` may use the admin socket under `policy`.
bool admin_peer_allowed(const AdminPeerPolicy& policy, const PeerCredentials& peer);

}  // namespace tollgate
