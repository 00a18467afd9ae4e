#include "persist/files/discarded.h"

#include <algorithm>

#include "persist/files/seq_names.h"

namespace tollgate::files {

std::string discarded_dir(const std::string& dir) { return join_path(dir, "discarded"); }

Result<std::string> discarded_path(FileSystem& fs, const std::string& dir, const std::string& name) {
  const std::string aside = discarded_dir(dir);
  if (auto made = fs.mkdir(aside); !made) return std::unexpected(std::move(made.error()));
  auto names = fs.readdir(aside);
  if (!names) return std::unexpected(std::move(names.error()));
  std::string candidate = name;
  for (int n = 1; std::find(names->begin(), names->end(), candidate) != names->end(); ++n)
    candidate = name + "." + std::to_string(n);
  return join_path(aside, candidate);
}

Result<std::vector<std::string>> move_to_discarded(FileSystem& fs, const std::string& dir,
                                                   const std::vector<std::string>& names) {
  std::vector<std::string> moved;
  for (const std::string& name : names) {
    auto target = discarded_path(fs, dir, name);
    if (!target) return std::unexpected(std::move(target.error()));
    if (auto r = fs.rename(join_path(dir, name), *target); !r) return std::unexpected(std::move(r.error()));
    moved.push_back(*target);
  }
  if (!moved.empty()) {
    if (auto d = fsync_directory(fs, discarded_dir(dir)); !d) return std::unexpected(std::move(d.error()));
    if (auto d = fsync_directory(fs, dir); !d) return std::unexpected(std::move(d.error()));
  }
  return moved;
}

Result<std::vector<std::string>> state_file_names(FileSystem& fs, const std::string& dir) {
  auto names = fs.readdir(dir);
  if (!names) return std::unexpected(std::move(names.error()));
  std::vector<std::string> state;
  for (const std::string& name : *names) {
    const bool segment = parse_seq_file_name("journal.", name).has_value();
    const bool snapshot = parse_seq_file_name("snapshot.", name).has_value() ||
                          (name.ends_with(".tmp") && parse_seq_file_name("snapshot.", name.substr(0, name.size() - 4)));
    if (segment || snapshot) state.push_back(name);
  }
  std::sort(state.begin(), state.end());
  return state;
}

}  // namespace tollgate::files
