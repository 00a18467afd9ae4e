// The path rules of the configuration, and the groups it names.
//
// Rule: a relative path in the config file (server.socket,
// server.admin_socket, storage.dir, storage.redis.socket) means a path
// relative to the directory holding the config file, never to the daemon's
// working directory, so the same file starts the same daemon from anywhere
// (nginx's prefix rule). An absent server.admin_socket sits next to the data
// socket: `run/tollgate.sock` → `run/tollgate.admin.sock`.
// Thread-safety: plain functions (lookup_group uses the reentrant getgrnam_r).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

// `path` made absolute against `base_dir` when relative, lexically
// normalised (`conf/../run/x` → `run/x`); an absolute path is only
// normalised. An empty base_dir leaves the path as written.
std::string resolve_config_path(std::string_view base_dir, std::string_view path);

// The directory of a config file, absolute (against the working directory
// at the time of the call) and normalised.
std::string config_base_dir(std::string_view config_file);

// The admin socket's default for a data socket: the same directory and
// name, `.sock` replaced (or, without it, followed) by `.admin.sock`.
std::string default_admin_socket(std::string_view data_socket);

// The gid of a group given by name or as a decimal number; nullopt when no
// such group exists (a number is taken as it is: chown accepts any gid).
std::optional<uint32_t> lookup_group(std::string_view group);

}  // namespace tollgate
