#include "log/log_format.h"

#include <unistd.h>

#include <ctime>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>

namespace tollgate {
namespace {

void append(spdlog::memory_buf_t& out, std::string_view text) { out.append(text.data(), text.data() + text.size()); }

// {"time":...,"level":...,"message":...,"fields":{...}}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto since_epoch = msg.time.time_since_epoch();
    const time_t seconds = static_cast<time_t>(duration_cast<std::chrono::seconds>(since_epoch).count());
    const auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char stamp[32];
    const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    fmt::format_to(std::back_inserter(dest), R"({{"time":"{}.{:03}Z","level":"{}","message":")",
                   std::string_view(stamp, n), millis, log_level_name(msg.level));
    append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    fmt::format_to(std::back_inserter(dest), R"(","fields":{{"pid":{},"thread":{})", pid_, msg.thread_id);
    if (msg.logger_name.size() > 0) {
      append(dest, R"(,"logger":")");
      append_json_escaped(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
      append(dest, "\"");
    }
    append(dest, "}}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  long pid_ = static_cast<long>(::getpid());
};

// The pattern's prefix, then the message escaped onto one line.
class TextFormatter final : public spdlog::formatter {
 public:
  TextFormatter()
      : prefix_(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e%z [", spdlog::pattern_time_type::local,
                                                            "")) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    prefix_->format(msg, dest);
    append(dest, log_level_name(msg.level));
    append(dest, "] ");
    append_one_line(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    append(dest, "\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(); }

 private:
  std::unique_ptr<spdlog::pattern_formatter> prefix_;
};

}  // namespace

std::string_view log_level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

void append_json_escaped(std::string_view text, spdlog::memory_buf_t& out) {
  for (const char c : text) {
    switch (c) {
      case '"': append(out, "\\\""); break;
      case '\\': append(out, "\\\\"); break;
      case '\n': append(out, "\\n"); break;
      case '\r': append(out, "\\r"); break;
      case '\t': append(out, "\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out.push_back(c);
        }
    }
  }
}

void append_one_line(std::string_view text, spdlog::memory_buf_t& out) {
  for (const char c : text) {
    switch (c) {
      case '\n': append(out, "\\n"); break;
      case '\r': append(out, "\\r"); break;
      case '\t': append(out, "\\t"); break;
      case '\\': append(out, "\\\\"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out.push_back(c);
        }
    }
  }
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogStyle style) {
  if (style == LogStyle::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<TextFormatter>();
}

void configure_logging(LogStyle style, spdlog::level::level_enum level) {
  spdlog::set_formatter(make_log_formatter(style));
  spdlog::set_level(level);
}

}  // namespace tollgate
