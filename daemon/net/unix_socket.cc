#include "net/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace tollgate {
namespace {

std::expected<sockaddr_un, std::string> make_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return std::unexpected(fmt::format("socket path '{}' is empty or longer than {} bytes", path,
                                       sizeof(addr.sun_path) - 1));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace

std::expected<int, std::string> connect_unix(const std::string& path) {
  auto addr = make_address(path);
  if (!addr) return std::unexpected(addr.error());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    int err = errno;
    ::close(fd);
    return std::unexpected(fmt::format("connect {}: {}", path, std::strerror(err)));
  }
  return fd;
}

std::expected<int, std::string> listen_unix(const std::string& path, int mode, int backlog, int group) {
  auto addr = make_address(path);
  if (!addr) return std::unexpected(addr.error());
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return std::unexpected(fmt::format("{} exists and is not a socket; refusing to replace it", path));
    if (auto probe = connect_unix(path)) {
      ::close(*probe);
      return std::unexpected(
          fmt::format("another daemon is already serving on {} (stop it first, or choose another socket path)", path));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return std::unexpected(fmt::format("cannot remove stale socket {}: {}", path, std::strerror(errno)));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(fmt::format("socket: {}", std::strerror(errno)));
  // Create the file with no permissions and widen it after bind, so there is
  // no moment in which it is more open than configured.
  mode_t old_mask = ::umask(0777);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr));
  int err = errno;
  ::umask(old_mask);
  if (rc != 0) {
    ::close(fd);
    return std::unexpected(fmt::format("bind {}: {}", path, std::strerror(err)));
  }
  if (group >= 0 && ::chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(group)) != 0) {
    err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return std::unexpected(fmt::format("cannot give socket {} to group {}: {} (the daemon's user must be root or a "
                                       "member of that group)",
                                       path, group, std::strerror(err)));
  }
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0 || ::listen(fd, backlog) != 0) {
    err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return std::unexpected(fmt::format("listen {}: {}", path, std::strerror(err)));
  }
  return fd;
}

}  // namespace tollgate
