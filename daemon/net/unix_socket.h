// Creating and removing the daemon's listening Unix sockets safely.
// Thread-safety: plain functions, no shared state.
#pragma once

#include <expected>
#include <string>

namespace tollgate {

// Binds and listens on `path` with file mode `mode`, and — when `group` is
// not -1 — owned by that group (chgrp before the mode is widened, so the
// socket is never open to the wrong group). A leftover socket file is
// replaced only when nothing answers on it; a live daemon there, or a path
// that is not a socket, is an error that says so. Returns the non-blocking fd.
std::expected<int, std::string> listen_unix(const std::string& path, int mode, int backlog = 1024, int group = -1);

// Connects to `path` (blocking); for tests and clients. Returns the fd.
std::expected<int, std::string> connect_unix(const std::string& path);

}  // namespace tollgate
