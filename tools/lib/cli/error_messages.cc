#include "cli/error_messages.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace tollgate::cli {
namespace {

bool starts_with_ignore_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    const auto a = static_cast<unsigned char>(text[i]);
    const auto b = static_cast<unsigned char>(prefix[i]);
    if (std::tolower(a) != std::tolower(b)) return false;
  }
  return true;
}

std::string_view without_err_prefix(std::string_view text) {
  if (starts_with_ignore_case(text, "ERR ")) text.remove_prefix(4);
  return text;
}

}  // namespace

std::string connect_error_message(std::string_view path, int error_number) {
  switch (error_number) {
    case ENOENT: return fmt::format("tollgated is not running at {} (no socket)", path);
    case ECONNREFUSED: return fmt::format("tollgated is not running at {} (connection refused)", path);
    case EACCES:
    case EPERM:
      return fmt::format("cannot open {}: permission denied by the socket file's mode (ask an operator)", path);
    case ENAMETOOLONG: return fmt::format("cannot connect to {}: the socket path is too long", path);
    default: return fmt::format("cannot connect to tollgated at {}: {}", path, std::strerror(error_number));
  }
}

bool is_permission_denied(std::string_view error_text) {
  return starts_with_ignore_case(without_err_prefix(error_text), "permission denied");
}

std::string not_allowed_message(unsigned uid) {
  return fmt::format("not allowed: your uid {} is not in admin.allow_uids (ask an operator)", uid);
}

std::string closed_early_message(std::string_view path, bool admin_socket, unsigned uid) {
  if (admin_socket)
    return not_allowed_message(uid) + fmt::format("; tollgated at {} closed the connection at once", path);
  return fmt::format("tollgated at {} closed the connection without answering", path);
}

std::string daemon_error_message(std::string_view error_text, unsigned uid) {
  if (is_permission_denied(error_text)) return not_allowed_message(uid);
  return std::string(without_err_prefix(error_text));
}

std::vector<std::string> split_error_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (true) {
    const size_t newline = text.find('\n');
    const size_t semicolon = text.find("; ");
    const size_t cut = std::min(newline, semicolon);
    std::string_view part = text.substr(0, cut);
    while (!part.empty() && (part.back() == '\r' || part.back() == ' ')) part.remove_suffix(1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (!part.empty()) lines.emplace_back(part);
    if (cut == std::string_view::npos) break;
    text.remove_prefix(cut + (cut == newline ? 1 : 2));
  }
  return lines;
}

}  // namespace tollgate::cli
