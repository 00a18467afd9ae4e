// Shared helpers for the store's tests: a temporary directory, raw file
// access to damage files on purpose, and a recording visitor.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "persist/files/journal.h"

namespace tollgate::files::testing {

// A fresh directory from mkdtemp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tollgate-store-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Names in the directory, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) out.push_back(entry.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline uint64_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

struct Seen {
  uint8_t type;
  uint64_t seq;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

// A visitor that copies every record it is given.
struct Recorder {
  std::vector<Seen> records;
  RecordVisitor visitor() {
    return [this](const RecordView& r) { records.push_back({r.type, r.seq, std::string(r.payload)}); };
  }
};

// The payload test record `i` carries: varied lengths, including empty.
inline std::string payload_for(uint64_t i) {
  return std::string(i % 37, static_cast<char>('a' + i % 26)) + std::to_string(i);
}

}  // namespace tollgate::files::testing
