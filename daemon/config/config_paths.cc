#include "config/config_paths.h"

#include <grp.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <vector>

#include "config/config.h"

namespace tollgate {

std::string resolve_config_path(std::string_view base_dir, std::string_view path) {
  namespace fs = std::filesystem;
  if (path.empty()) return std::string(path);
  fs::path p{std::string(path)};
  if (p.is_relative()) {
    if (base_dir.empty()) return std::string(path);
    p = fs::path(std::string(base_dir)) / p;
  }
  std::string out = p.lexically_normal().string();
  // A directory written with its trailing slash ("var/") keeps it.
  if (out.size() > 1 && out.back() == '/' && path.back() != '/') out.pop_back();
  return out;
}

std::string config_base_dir(std::string_view config_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = fs::absolute(fs::path(std::string(config_file)), ec);
  if (ec) file = fs::path(std::string(config_file));
  return file.parent_path().lexically_normal().string();
}

std::string default_admin_socket(std::string_view data_socket) {
  constexpr std::string_view kSock = ".sock";
  std::string_view stem = data_socket;
  if (stem.size() > kSock.size() && stem.ends_with(kSock)) stem.remove_suffix(kSock.size());
  return std::string(stem) + std::string(ConfigDefaults::kAdminSocketSuffix);
}

std::optional<uint32_t> lookup_group(std::string_view group) {
  if (group.empty()) return std::nullopt;
  uint32_t gid = 0;
  auto [end, ec] = std::from_chars(group.data(), group.data() + group.size(), gid);
  if (ec == std::errc() && end == group.data() + group.size()) return gid;
  const std::string name(group);
  std::vector<char> buffer(4096);
  for (;;) {
    struct group entry {};
    struct group* found = nullptr;
    const int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return static_cast<uint32_t>(found->gr_gid);
  }
}

}  // namespace tollgate
