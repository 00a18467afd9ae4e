// What the CLI tells an operator when something goes wrong: connection
// failures, the admin socket's peer-uid refusal and daemon error replies,
// mapped to one actionable sentence each. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tollgate::cli {

// A failed connect() to `path` with `error_number` (errno):
// ENOENT -> "tollgated is not running at <path> (no socket)",
// ECONNREFUSED -> "tollgated is not running at <path> (connection refused)".
[[nodiscard]] std::string connect_error_message(std::string_view path, int error_number);

// True for the admin socket's refusal ("ERR permission denied ...").
[[nodiscard]] bool is_permission_denied(std::string_view error_text);

// "not allowed: your uid N is not in admin.allow_uids (ask an operator)".
[[nodiscard]] std::string not_allowed_message(unsigned uid);

// The daemon closed the connection before answering: on the admin socket
// this is how a refused peer is told no.
[[nodiscard]] std::string closed_early_message(std::string_view path, bool admin_socket, unsigned uid);

// The text to print for an error reply: the permission refusal becomes
// not_allowed_message(uid); otherwise the message without its "ERR " prefix.
[[nodiscard]] std::string daemon_error_message(std::string_view error_text, unsigned uid);

// Splits a multi-problem error (RELOAD) into one line per problem: parts are
// separated by "\n" or "; "; blank parts are dropped, "\r" trimmed.
[[nodiscard]] std::vector<std::string> split_error_lines(std::string_view text);

}  // namespace tollgate::cli
