#include "app/directories.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

namespace tollgate {

std::string parent_directory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Walks up to the first existing ancestor, then creates downwards; mkdir's
// EEXIST (another process made it meanwhile) is fine if it is a directory.
std::expected<void, std::string> make_directories(const std::string& dir, mode_t mode, std::string_view purpose,
                                                  gid_t group) {
  namespace fs = std::filesystem;
  std::vector<fs::path> missing;
  fs::path at = fs::path(dir).lexically_normal();
  while (!at.empty()) {
    struct stat st {};
    if (::stat(at.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return std::unexpected(fmt::format("{} is not a directory (needed for {} {})", at.string(), purpose, dir));
      break;
    }
    if (errno != ENOENT && errno != ENOTDIR)
      return std::unexpected(fmt::format("cannot reach directory {} (for {} {}): {}", at.string(), purpose, dir,
                                         std::strerror(errno)));
    missing.push_back(at);
    const fs::path up = at.parent_path();
    if (up == at) break;
    at = up;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), mode) != 0) {
      const int error = errno;
      struct stat st {};
      if (error == EEXIST && ::stat(it->c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
      return std::unexpected(fmt::format("cannot create directory {} (for {} {}): {}", it->string(), purpose, dir,
                                         std::strerror(error)));
    }
    // mkdir applied the umask; the documented mode is exact.
    if (::chmod(it->c_str(), mode) != 0 ||
        (group != static_cast<gid_t>(-1) && ::chown(it->c_str(), static_cast<uid_t>(-1), group) != 0)) {
      return std::unexpected(fmt::format("cannot set mode/group of directory {} (for {} {}): {}", it->string(),
                                         purpose, dir, std::strerror(errno)));
    }
  }
  return {};
}

}  // namespace tollgate
