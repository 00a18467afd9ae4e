// The admin socket's peer decision (control/admin_peers.h) and the parsing of a
// peer's supplementary groups from /proc/<pid>/status.
#include "control/admin_peers.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

constexpr uint32_t kOwner = 1000;

PeerCredentials peer(int64_t uid, int64_t gid, std::vector<uint32_t> groups = {}) {
  PeerCredentials p;
  p.uid = uid;
  p.gid = gid;
  p.pid = 42;
  p.groups = std::move(groups);
  return p;
}

AdminPeerPolicy policy(std::vector<uint32_t> uids, std::vector<uint32_t> gids, bool admit_owner = true) {
  AdminConfig c;
  c.allow_uids = std::move(uids);
  c.allow_gids = std::move(gids);
  c.admit_owner = admit_owner;
  return admin_peer_policy(c, kOwner);
}

// Verifies the default admits root and the daemon's own uid only.
TEST(AdminPeers, DefaultIsRootAndOwner) {
  const AdminPeerPolicy p = policy({}, {});
  EXPECT_TRUE(admin_peer_allowed(p, peer(0, 0)));
  EXPECT_TRUE(admin_peer_allowed(p, peer(kOwner, 5000)));
  EXPECT_FALSE(admin_peer_allowed(p, peer(1001, 1001)));
  EXPECT_FALSE(admin_peer_allowed(p, peer(-1, -1)));  // no credentials
}

// Verifies listing gids (or uids) does not lock out root and the daemon's
// own uid, and admit_owner: false does.
TEST(AdminPeers, ListsDoNotLockOutTheOwner) {
  const AdminPeerPolicy gids_only = policy({}, {50});
  EXPECT_TRUE(admin_peer_allowed(gids_only, peer(0, 0)));
  EXPECT_TRUE(admin_peer_allowed(gids_only, peer(kOwner, kOwner)));
  EXPECT_TRUE(admin_peer_allowed(gids_only, peer(2000, 50)));
  EXPECT_FALSE(admin_peer_allowed(gids_only, peer(2000, 51)));
  const AdminPeerPolicy uids_only = policy({2000}, {});
  EXPECT_TRUE(admin_peer_allowed(uids_only, peer(0, 0)));
  EXPECT_TRUE(admin_peer_allowed(uids_only, peer(2000, 7)));
  const AdminPeerPolicy strict = policy({2000}, {50}, false);
  EXPECT_FALSE(admin_peer_allowed(strict, peer(0, 0)));
  EXPECT_FALSE(admin_peer_allowed(strict, peer(kOwner, kOwner)));
  EXPECT_TRUE(admin_peer_allowed(strict, peer(2000, 7)));
  EXPECT_TRUE(admin_peer_allowed(strict, peer(3000, 50)));
}

// Verifies a supplementary group in allow_gids admits the peer, whatever its
// primary group.
TEST(AdminPeers, SupplementaryGroupsCount) {
  const AdminPeerPolicy p = policy({}, {50}, false);
  EXPECT_FALSE(admin_peer_allowed(p, peer(3000, 3000)));
  EXPECT_FALSE(admin_peer_allowed(p, peer(3000, 3000, {10, 20})));
  EXPECT_TRUE(admin_peer_allowed(p, peer(3000, 3000, {10, 50, 20})));
}

// Verifies the Groups: line of /proc/<pid>/status is parsed (tabs, spaces,
// empty) and malformed ones are refused.
TEST(AdminPeers, ParsesProcStatusGroups) {
  std::vector<uint32_t> groups{99};
  EXPECT_TRUE(parse_status_groups("Name:\tx\nUid:\t0\t0\t0\t0\nGroups:\t4 24 27 4294967294 \nNgid:\t0\n", groups));
  EXPECT_EQ(groups, (std::vector<uint32_t>{4, 24, 27, 4294967294u}));
  EXPECT_TRUE(parse_status_groups("Groups:\t\nX:1\n", groups));
  EXPECT_TRUE(groups.empty());
  EXPECT_FALSE(parse_status_groups("Name:\tx\nNgid:\t0\n", groups));
  EXPECT_FALSE(parse_status_groups("Groups:\t4 x\n", groups));
  EXPECT_FALSE(parse_status_groups("Groups:\t4294967296\n", groups));
  EXPECT_FALSE(parse_status_groups("NotGroups:\t4\n", groups));
}

}  // namespace
}  // namespace tollgate
