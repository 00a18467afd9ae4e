#include "control/monitor_event_file.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace tollgate {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

MonitorEventFile::~MonitorEventFile() {
  if (file_ != nullptr) std::fclose(file_);
}

void MonitorEventFile::configure(const MonitorEventsConfig& config) {
  max_bytes_ = config.max_bytes;
  keep_ = config.keep;
  if (config.file == path_) return;
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  path_ = config.file;
}

void MonitorEventFile::rotate() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  for (int i = keep_ - 1; i >= 1; --i)
    std::rename(fmt::format("{}.{}", path_, i).c_str(), fmt::format("{}.{}", path_, i + 1).c_str());
  std::rename(path_.c_str(), (path_ + ".1").c_str());
}

bool MonitorEventFile::write(std::string_view json) {
  if (path_.empty()) return true;
  if (file_ != nullptr && size_ + static_cast<int64_t>(json.size()) + 1 > max_bytes_ && size_ > 0) rotate();
  if (file_ == nullptr) {
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) {
      spdlog::error("monitor_events.file {}: cannot open: {}", path_, std::strerror(errno));
      return false;
    }
    struct stat st {};
    size_ = ::fstat(fileno(file_), &st) == 0 ? st.st_size : 0;
    if (size_ > 0 && size_ + static_cast<int64_t>(json.size()) + 1 > max_bytes_) {
      rotate();
      return write(json);
    }
  }
  const bool ok = std::fwrite(json.data(), 1, json.size(), file_) == json.size() && std::fputc('\n', file_) != EOF &&
                  std::fflush(file_) == 0;
  if (!ok) spdlog::error("monitor_events.file {}: write failed: {}", path_, std::strerror(errno));
  size_ += static_cast<int64_t>(json.size()) + 1;
  return ok;
}

}  // namespace tollgate
