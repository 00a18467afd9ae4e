// `<dir>/discarded/`: where recovery sets aside, never deletes, what it was
// told not to trust (`tollgated --recover=...`): copies of damaged journal
// segments, later segments, unusable snapshots, a damaged identity file. A
// name already there gets a ".1", ".2", ... suffix. Also lists the files of
// a store directory that hold state. Pure functions over a borrowed
// FileSystem; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "persist/files/file_system.h"

namespace tollgate::files {

// "<dir>/discarded".
std::string discarded_dir(const std::string& dir);

// A path in discarded_dir(dir) for `name` that does not exist yet. Creates
// the directory.
[[nodiscard]] Result<std::string> discarded_path(FileSystem& fs, const std::string& dir, const std::string& name);

// Moves the files `names` (in `dir`) to discarded_dir(dir) and makes the
// moves durable. Returns the new paths.
[[nodiscard]] Result<std::vector<std::string>> move_to_discarded(FileSystem& fs, const std::string& dir,
                                                                 const std::vector<std::string>& names);

// Names of the files in `dir` that hold a store's state: journal segments,
// snapshots and snapshot .tmp files (not the identity, lock or discarded/).
[[nodiscard]] Result<std::vector<std::string>> state_file_names(FileSystem& fs, const std::string& dir);

}  // namespace tollgate::files
