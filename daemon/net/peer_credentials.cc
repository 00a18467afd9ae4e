#include "net/peer_credentials.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <string>

namespace tollgate {
namespace {

// SO_PEERGROUPS: true when the option exists (whatever it returned).
bool read_peer_groups(int fd, std::vector<uint32_t>& out) {
#ifdef SO_PEERGROUPS
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      out.assign(groups.begin(), groups.end());
      return true;
    }
    if (errno != ERANGE) return errno != ENOPROTOOPT;
    groups.resize(len / sizeof(gid_t) + 1);  // the kernel said how much it needs
  }
  return true;  // kept changing size: no groups rather than guessed ones
#else
  (void)fd;
  (void)out;
  return false;
#endif
}

void read_proc_groups(int64_t pid, std::vector<uint32_t>& out) {
  if (pid <= 0) return;
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string text;
  char buffer[4096];
  ssize_t n;
  while (text.size() < (1 << 20) && (n = ::read(fd, buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  std::vector<uint32_t> groups;
  if (parse_status_groups(text, groups)) out = std::move(groups);
}

}  // namespace

bool parse_status_groups(std::string_view status, std::vector<uint32_t>& out) {
  constexpr std::string_view kKey = "Groups:";
  std::string_view line;
  for (size_t pos = 0; pos < status.size();) {
    const size_t eol = std::min(status.find('\n', pos), status.size());
    if (status.substr(pos, eol - pos).starts_with(kKey)) {
      line = status.substr(pos + kKey.size(), eol - pos - kKey.size());
      break;
    }
    pos = eol + 1;
  }
  if (line.data() == nullptr) return false;
  out.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    uint32_t value = 0;
    auto [next, error] = std::from_chars(line.data() + i, line.data() + line.size(), value);
    if (error != std::errc() || (next != line.data() + line.size() && *next != ' ' && *next != '\t')) return false;
    out.push_back(value);
    i = static_cast<size_t>(next - line.data());
  }
  return true;
}

PeerCredentials read_peer_credentials(int fd, bool with_groups) {
  PeerCredentials peer;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.uid = cred.uid;
    peer.gid = cred.gid;
    peer.pid = cred.pid;
  }
  if (!with_groups) return peer;
  if (read_peer_groups(fd, peer.groups)) {
    peer.groups_source = PeerCredentials::GroupsSource::kPeerGroups;
  } else {
    read_proc_groups(peer.pid, peer.groups);
    peer.groups_source = PeerCredentials::GroupsSource::kProcStatus;
  }
  return peer;
}

}  // namespace tollgate
