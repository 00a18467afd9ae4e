// Incremental zero-copy RESP2 request parser; one per connection, not thread-safe; borrows input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::resp {

// Bounds on what one request may claim; exceeding one is a protocol error.
struct ParserLimits {
  size_t max_args = 1024;         // arguments in one command
  size_t max_bulk = 1 << 20;      // bytes in one bulk argument
  size_t max_inline = 64 * 1024;  // bytes in one inline line (without its end of line)
};

// The most input bytes one request can occupy within these limits: the
// empty requests the parser skips before it (bounded by max_inline) plus the
// largest multibulk frame or inline line. A connection's input buffer never
// needs to grow past this (plus room for one read).
size_t max_request_bytes(const ParserLimits& limits);

enum class ParseStatus {
  kCommand,   // one command parsed: see args() and consumed()
  kNeedMore,  // incomplete: nothing consumed, call again with the same bytes plus more
  kError,     // malformed or over a limit: reply -ERR error() and close the connection
};

class Parser {
 public:
  explicit Parser(ParserLimits limits = {});

  // Parses one command from the start of `input`, skipping (and counting as
  // consumed) empty inline lines and `*0` / `*-N` frames before it.
  //
  // kCommand: args() are views into `input` (or into this parser's scratch, for
  // quoted inline arguments), valid until the caller discards those bytes or
  // calls parse()/reset() again; the first consumed() bytes were used.
  // kNeedMore: nothing is consumed; call again with the same bytes plus more.
  // Progress is remembered (offsets, the bulk length awaited), so total work
  // is linear in the bytes received however finely they are split.
  // kError: error() is a Redis-style message; the state stays kError until reset().
  // Never throws; allocates only while growing to a new high-water mark.
  [[nodiscard]] ParseStatus parse(std::string_view input);

  std::span<const std::string_view> args() const { return args_; }
  size_t consumed() const { return consumed_; }
  std::string_view error() const { return {error_buf_, error_len_}; }

  // Forgets partial progress and any error (after the caller compacts or clears
  // its buffer, or to reuse the parser for a new connection).
  void reset();

  // Input bytes the parser has looked at since construction (scanned for a
  // line end, a length or a quote). Bulk payloads are not scanned; exposed so
  // tests can check that split input costs linear work.
  uint64_t bytes_examined() const { return bytes_examined_; }

  const ParserLimits& limits() const { return limits_; }

  // After kNeedMore: the input size the request in progress needs at least
  // (it awaits a bulk payload that ends there), or 0 when that is not known
  // yet. Lets the caller grow its buffer to fit instead of doubling past it.
  size_t awaiting_until() const { return state_ == State::kBulkData ? pos_ + bulk_len_ + 2 : 0; }

 private:
  enum class State : uint8_t {
    kFrameStart,       // at the first byte of a frame
    kMultibulkHeader,  // at `*N\r\n`
    kBulkHeader,       // at `$len\r\n`
    kBulkData,         // at the payload of a bulk of bulk_len_ bytes
    kInline,           // inside an inline line starting at frame_start_
  };
  enum class LengthResult : uint8_t { kOk, kNeedMore, kInvalid };
  enum class SplitResult : uint8_t { kOk, kUnbalancedQuotes, kTooManyArgs };
  struct Span {
    size_t offset;
    size_t length;
  };

  // Each step returns the status to hand back, or nullopt to keep parsing.
  std::optional<ParseStatus> parse_multibulk_header(std::string_view input);
  std::optional<ParseStatus> parse_bulk_header(std::string_view input);
  std::optional<ParseStatus> parse_bulk_data(std::string_view input);
  std::optional<ParseStatus> parse_inline(std::string_view input);
  bool parse_whole_frame(std::string_view input);
  ParseStatus need_more();
  ParseStatus command_done(size_t end);
  ParseStatus fail(std::string_view message);
  ParseStatus fail_limit(std::string_view what, uint64_t value, std::string_view limit_name,
                         uint64_t limit);

  LengthResult parse_length(std::string_view input, size_t at, int64_t& value, size_t& next);
  SplitResult split_inline(std::string_view line);
  size_t split_quoted(std::string_view line, size_t start, size_t i, bool& balanced);

  ParserLimits limits_;
  State state_ = State::kFrameStart;
  bool failed_ = false;
  size_t pos_ = 0;            // next unparsed byte of the current element
  size_t frame_start_ = 0;    // first byte of the current frame; bytes before it were skipped
  size_t inline_scan_ = 0;    // how far the search for an inline line end got
  size_t expected_args_ = 0;  // N of the current `*N` frame
  size_t bulk_len_ = 0;       // length of the bulk whose payload is awaited
  size_t consumed_ = 0;
  uint64_t bytes_examined_ = 0;
  std::vector<Span> spans_;              // multibulk args parsed so far, as offsets
  std::vector<std::string_view> args_;   // the last command
  std::string scratch_;                  // unescaped quoted inline args
  char error_buf_[160] = {};
  size_t error_len_ = 0;
};

}  // namespace tollgate::resp
