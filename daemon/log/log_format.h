// How tollgated's log lines look: one line per event, as text for people or
// as one JSON object per line for collectors (`log.format`). Either way a
// message's newlines and control characters are escaped, so an event never
// spans two lines and a message cannot forge a second one.
//
// JSON line: {"time":"2026-12-02T07:40:04.123Z","level":"info",
//             "message":"...","fields":{"pid":123,"thread":456}}
// (time in UTC with milliseconds; level one of debug, info, warn, error,
// critical; fields: the process and the thread that logged).
// Text line: 2026-12-02T15:40:04.123+0800 [info] message (local time).
//
// Thread-safety: configure_logging() at start-up, before other threads log;
// the formatters themselves are used by spdlog under its sink lock.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace tollgate {

enum class LogStyle : uint8_t { kText, kJson };

// The formatter of a style (owned by the caller; spdlog clones it per sink).
std::unique_ptr<spdlog::formatter> make_log_formatter(LogStyle style);

// Sets the default logger's formatter and level.
void configure_logging(LogStyle style, spdlog::level::level_enum level);

// Appends `text` with JSON string escaping (quotes, backslash, control
// characters as \n, \t, \u00XX); bytes >= 0x80 pass through (UTF-8).
void append_json_escaped(std::string_view text, spdlog::memory_buf_t& out);

// Appends `text` with \n, \r, \t and other control characters written as
// escapes, so it stays on one line.
void append_one_line(std::string_view text, spdlog::memory_buf_t& out);

// The level's name in log lines: debug, info, warn, error, critical.
std::string_view log_level_name(spdlog::level::level_enum level);

}  // namespace tollgate
