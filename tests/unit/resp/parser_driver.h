// Test helper: feeds bytes to a Parser the way a connection does (append,
// parse until kNeedMore, discard consumed bytes) and records what came out.
// Not thread-safe; owns its buffer and copies of the parsed commands.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resp/parser.h"

namespace tollgate::resp::testing {

using Command = std::vector<std::string>;

struct ParseOutcome {
  std::vector<Command> commands;
  std::string error;  // empty unless the parser returned kError
  size_t leftover = 0;  // bytes buffered but not consumed at the end

  bool operator==(const ParseOutcome&) const = default;
};

class ParserDriver {
 public:
  explicit ParserDriver(ParserLimits limits = {}) : parser_(limits) {}

  // Appends `bytes` and drains every complete command.
  void feed(std::string_view bytes) {
    if (failed_) return;
    buffer_.append(bytes);
    while (true) {
      const ParseStatus status = parser_.parse(buffer_);
      if (status == ParseStatus::kNeedMore) {
        ++need_more_calls_;
        return;
      }
      if (status == ParseStatus::kError) {
        outcome_.error = std::string(parser_.error());
        failed_ = true;
        return;
      }
      Command command;
      for (std::string_view arg : parser_.args()) command.emplace_back(arg);
      outcome_.commands.push_back(std::move(command));
      buffer_.erase(0, parser_.consumed());
    }
  }

  // Feeds `bytes` in pieces of `chunk` bytes.
  void feed_in_chunks(std::string_view bytes, size_t chunk) {
    for (size_t i = 0; i < bytes.size(); i += chunk) feed(bytes.substr(i, chunk));
  }

  ParseOutcome outcome() const {
    ParseOutcome result = outcome_;
    result.leftover = buffer_.size();
    return result;
  }
  const Parser& parser() const { return parser_; }
  size_t need_more_calls() const { return need_more_calls_; }

 private:
  Parser parser_;
  std::string buffer_;
  ParseOutcome outcome_;
  bool failed_ = false;
  size_t need_more_calls_ = 0;
};

// Parses `bytes` fed in one piece.
inline ParseOutcome parse_whole(std::string_view bytes, ParserLimits limits = {}) {
  ParserDriver driver(limits);
  driver.feed(bytes);
  return driver.outcome();
}

}  // namespace tollgate::resp::testing
