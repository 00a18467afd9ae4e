// Creating the directories the configuration names (socket parents,
// storage.dir) before the daemon binds or opens anything in them, with safe
// modes, and saying which directory when that fails.
// Thread-safety: plain functions; called on the main thread at start-up.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <string_view>

namespace tollgate {

// Modes of the directories tollgated creates: socket parents are
// traversable by the socket's group (0750), the store's directory is the
// daemon's alone (0700). Existing directories are left as they are.
inline constexpr mode_t kSocketDirMode = 0750;
inline constexpr mode_t kStorageDirMode = 0700;

// Creates `dir` and every missing parent with `mode` (exactly: the umask is
// not applied) and, when `group` is not -1, gives the directories it
// created that group (so a socket_group's members can reach the socket).
// An error names the directory that could not be made and why, and the
// config key `purpose` it serves ("server.socket").
[[nodiscard]] std::expected<void, std::string> make_directories(const std::string& dir, mode_t mode,
                                                                std::string_view purpose, gid_t group = -1);

// The parent directory of a file path ("." for a bare name).
std::string parent_directory(const std::string& path);

}  // namespace tollgate
