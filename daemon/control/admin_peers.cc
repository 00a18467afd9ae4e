#include "control/admin_peers.h"

#include <algorithm>

namespace tollgate {
namespace {

bool peer_listed(const std::vector<uint32_t>& ids, int64_t id) {
  return id >= 0 && std::find(ids.begin(), ids.end(), static_cast<uint32_t>(id)) != ids.end();
}

}  // namespace

AdminPeerPolicy admin_peer_policy(const AdminConfig& admin, uint32_t owner_uid) {
  return AdminPeerPolicy{admin.allow_uids, admin.allow_gids, admin.admit_owner, owner_uid};
}

bool admin_peer_allowed(const AdminPeerPolicy& policy, const PeerCredentials& peer) {
  if (peer.uid < 0) return false;  // no credentials: nobody to admit
  if (policy.admit_owner && (peer.uid == 0 || peer.uid == policy.owner_uid)) return true;
  if (peer_listed(policy.uids, peer.uid) || peer_listed(policy.gids, peer.gid)) return true;
  for (uint32_t g : peer.groups)
    if (peer_listed(policy.gids, g)) return true;
  return false;
}

}  // namespace tollgate
