#include "resp/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace tollgate::resp {
namespace {

// Lengths with more digits than this are rejected outright: every limit is far
// below 10^18, and it keeps the value inside int64 and the rescan of a partial
// header line bounded.
constexpr size_t kMaxLengthDigits = 18;

// isspace() in the C locale, as sdssplitargs uses between arguments.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// What ends an unquoted inline argument in sdssplitargs.
bool ends_unquoted(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
  }
}

}  // namespace

size_t max_request_bytes(const ParserLimits& limits) {
  auto digits = [](uint64_t v) {
    size_t n = 1;
    while (v >= 10) {
      v /= 10;
      ++n;
    }
    return n;
  };
  // `*N\r\n`, then N times `$len\r\n<len bytes>\r\n`; or one inline line and its CRLF.
  const uint64_t bulk = 1 + digits(limits.max_bulk) + 2 + uint64_t{limits.max_bulk} + 2;
  const uint64_t multibulk = 1 + digits(limits.max_args) + 2 + uint64_t{limits.max_args} * bulk;
  const uint64_t largest = std::max<uint64_t>(multibulk, uint64_t{limits.max_inline} + 2);
  const uint64_t skipped = uint64_t{limits.max_inline} + 1;  // empty requests skipped before it
  return static_cast<size_t>(std::min<uint64_t>(largest + skipped, SIZE_MAX));
}

Parser::Parser(ParserLimits limits) : limits_(limits) {
  spans_.reserve(16);
  args_.reserve(16);
}

void Parser::reset() {
  state_ = State::kFrameStart;
  failed_ = false;
  pos_ = 0;
  frame_start_ = 0;
  inline_scan_ = 0;
  expected_args_ = 0;
  bulk_len_ = 0;
  consumed_ = 0;
  spans_.clear();
  args_.clear();
  error_len_ = 0;
}

ParseStatus Parser::parse(std::string_view input) {
  if (failed_) return ParseStatus::kError;
  args_.clear();
  consumed_ = 0;
  if (pos_ > input.size()) return fail("Protocol error: input shrank between parse calls");
  if (state_ == State::kFrameStart && pos_ == 0 && parse_whole_frame(input)) return ParseStatus::kCommand;

  while (true) {
    std::optional<ParseStatus> done;
    switch (state_) {
      case State::kFrameStart:
        if (pos_ >= input.size()) return need_more();
        frame_start_ = pos_;
        ++bytes_examined_;
        if (input[pos_] == '*') {
          state_ = State::kMultibulkHeader;
        } else {
          state_ = State::kInline;
          inline_scan_ = pos_;
        }
        break;
      case State::kMultibulkHeader: done = parse_multibulk_header(input); break;
      case State::kBulkHeader: done = parse_bulk_header(input); break;
      case State::kBulkData: done = parse_bulk_data(input); break;
      case State::kInline: done = parse_inline(input); break;
    }
    if (done) return *done;
  }
}

namespace {

// A decimal of 1 to 9 digits without a leading zero (a lone "0" is fine),
// then CRLF, at `at`; advances `at` past the CRLF. False for anything else.
bool small_length(std::string_view input, size_t& at, size_t& value, size_t& digits) {
  const size_t start = at;
  size_t v = 0;
  while (at < input.size() && at - start < 10 && input[at] >= '0' && input[at] <= '9')
    v = v * 10 + static_cast<size_t>(input[at++] - '0');
  digits = at - start;
  if (digits == 0 || digits > 9 || (digits > 1 && input[start] == '0')) return false;
  if (at + 1 >= input.size() || input[at] != '\r' || input[at + 1] != '\n') return false;
  at += 2;
  value = v;
  return true;
}

}  // namespace

// The common case in one pass: a whole, well-formed `*N` frame at the start
// of the input with N >= 1 and small lengths, all within the limits. Anything
// else (incomplete, an empty or malformed frame, a limit passed, a sign or a
// leading zero, 10+ digits) returns false having changed nothing but args_,
// and the state machine parses the same bytes, answering exactly as before.
// bytes_examined_ grows as the state machine would count the same frame.
bool Parser::parse_whole_frame(std::string_view input) {
  if (input.empty() || input[0] != '*') return false;
  size_t at = 1, count = 0, digits = 0;
  if (!small_length(input, at, count, digits) || count == 0 || count > limits_.max_args) return false;
  uint64_t examined = 1 + 1 + digits;
  for (size_t a = 0; a < count; ++a) {
    size_t length = 0;
    bool well_formed = at < input.size() && input[at] == '$';
    if (well_formed) {
      ++at;  // past the '$'
      well_formed = small_length(input, at, length, digits) && length <= limits_.max_bulk &&
                    input.size() - at >= length + 2 && input[at + length] == '\r' && input[at + length + 1] == '\n';
    }
    if (!well_formed) {
      args_.clear();
      return false;
    }
    args_.push_back(input.substr(at, length));
    at += length + 2;
    examined += 1 + digits + 2;
  }
  bytes_examined_ += examined;
  command_done(at);
  return true;
}

// Reads the decimal after the type byte at `at`, up to CRLF, with Redis's
// string2ll rules (optional '-', no '+', no leading zeros, no "-0").
Parser::LengthResult Parser::parse_length(std::string_view input, size_t at, int64_t& value,
                                          size_t& next) {
  bool negative = false;
  size_t digits = 0;
  int64_t magnitude = 0;
  const size_t end = std::min(input.size(), at + 2 + kMaxLengthDigits + 1);  // sign, digits, CR
  for (size_t i = at + 1; i < end; ++i) {
    const char c = input[i];
    if (c == '\r') {
      bytes_examined_ += i - at;
      if (i + 1 >= input.size()) return LengthResult::kNeedMore;
      if (input[i + 1] != '\n' || digits == 0) return LengthResult::kInvalid;
      value = negative ? -magnitude : magnitude;
      next = i + 2;
      return LengthResult::kOk;
    }
    if (c == '-' && i == at + 1) {
      negative = true;
      continue;
    }
    if (c < '0' || c > '9') return LengthResult::kInvalid;
    if (digits > 0 && magnitude == 0) return LengthResult::kInvalid;  // leading zero
    if (digits == 0 && c == '0' && negative) return LengthResult::kInvalid;
    if (++digits > kMaxLengthDigits) return LengthResult::kInvalid;
    magnitude = magnitude * 10 + (c - '0');
  }
  bytes_examined_ += end - at;
  return end < input.size() ? LengthResult::kInvalid : LengthResult::kNeedMore;
}

std::optional<ParseStatus> Parser::parse_multibulk_header(std::string_view input) {
  int64_t count = 0;
  size_t next = 0;
  switch (parse_length(input, pos_, count, next)) {
    case LengthResult::kNeedMore: return need_more();
    case LengthResult::kInvalid: return fail("Protocol error: invalid multibulk length");
    case LengthResult::kOk: break;
  }
  pos_ = next;
  if (count <= 0) {  // `*0`, `*-1`: an empty request, skipped as Redis does
    state_ = State::kFrameStart;
    return std::nullopt;
  }
  if (static_cast<uint64_t>(count) > limits_.max_args) {
    return fail_limit("invalid multibulk length", count, "max_args", limits_.max_args);
  }
  expected_args_ = static_cast<size_t>(count);
  spans_.clear();
  spans_.reserve(expected_args_);
  state_ = State::kBulkHeader;
  return std::nullopt;
}

std::optional<ParseStatus> Parser::parse_bulk_header(std::string_view input) {
  if (pos_ >= input.size()) return need_more();
  const char type = input[pos_];
  if (type != '$') {
    char shown[8];
    const bool printable = type >= 0x20 && type < 0x7f;
    auto end = printable ? fmt::format_to_n(shown, sizeof(shown), "{}", type)
                         : fmt::format_to_n(shown, sizeof(shown), "\\x{:02x}",
                                            static_cast<unsigned char>(type));
    auto written = fmt::format_to_n(error_buf_, sizeof(error_buf_),
                                    "Protocol error: expected '$', got '{}'",
                                    std::string_view(shown, end.out - shown));
    error_len_ = std::min(written.size, sizeof(error_buf_));
    failed_ = true;
    return ParseStatus::kError;
  }
  int64_t length = 0;
  size_t next = 0;
  switch (parse_length(input, pos_, length, next)) {
    case LengthResult::kNeedMore: return need_more();
    case LengthResult::kInvalid: return fail("Protocol error: invalid bulk length");
    case LengthResult::kOk: break;
  }
  if (length < 0) return fail("Protocol error: invalid bulk length");
  if (static_cast<uint64_t>(length) > limits_.max_bulk) {
    return fail_limit("invalid bulk length", length, "max_bulk", limits_.max_bulk);
  }
  bulk_len_ = static_cast<size_t>(length);
  pos_ = next;
  state_ = State::kBulkData;
  return std::nullopt;
}

// O(1) until the whole payload and its CRLF are there: the payload is never scanned.
std::optional<ParseStatus> Parser::parse_bulk_data(std::string_view input) {
  if (input.size() - pos_ < bulk_len_ + 2) return need_more();
  bytes_examined_ += 2;
  if (input[pos_ + bulk_len_] != '\r' || input[pos_ + bulk_len_ + 1] != '\n') {
    return fail("Protocol error: expected CRLF after bulk data");
  }
  spans_.push_back({pos_, bulk_len_});
  pos_ += bulk_len_ + 2;
  if (spans_.size() < expected_args_) {
    state_ = State::kBulkHeader;
    return std::nullopt;
  }
  for (const Span& span : spans_) args_.push_back(input.substr(span.offset, span.length));
  return command_done(pos_);
}

// Finds the line end (searching only bytes not searched before), then splits
// the line like sdssplitargs. A line with no arguments is skipped.
std::optional<ParseStatus> Parser::parse_inline(std::string_view input) {
  const char* base = input.data();
  const void* newline = inline_scan_ < input.size()
                            ? std::memchr(base + inline_scan_, '\n', input.size() - inline_scan_)
                            : nullptr;
  if (newline == nullptr) {
    bytes_examined_ += input.size() - inline_scan_;
    inline_scan_ = input.size();
    size_t line_so_far = input.size() - frame_start_;
    if (input.back() == '\r') --line_so_far;  // may be the CR of a CRLF
    if (line_so_far > limits_.max_inline) {
      return fail_limit("too big inline request", line_so_far, "max_inline", limits_.max_inline);
    }
    return need_more();
  }
  const size_t newline_at = static_cast<const char*>(newline) - base;
  bytes_examined_ += newline_at - inline_scan_ + 1;
  size_t line_end = newline_at;
  if (line_end > frame_start_ && input[line_end - 1] == '\r') --line_end;
  const std::string_view line = input.substr(frame_start_, line_end - frame_start_);
  if (line.size() > limits_.max_inline) {
    return fail_limit("too big inline request", line.size(), "max_inline", limits_.max_inline);
  }
  pos_ = newline_at + 1;
  switch (split_inline(line)) {
    case SplitResult::kUnbalancedQuotes:
      args_.clear();
      return fail("Protocol error: unbalanced quotes in request");
    case SplitResult::kTooManyArgs:
      args_.clear();
      return fail_limit("too many arguments in inline request", limits_.max_args + 1, "max_args",
                        limits_.max_args);
    case SplitResult::kOk: break;
  }
  if (args_.empty()) {
    state_ = State::kFrameStart;
    return std::nullopt;
  }
  return command_done(pos_);
}

// Unquoted arguments are views into `line`; an argument with quotes is
// unescaped into scratch_, reserved up front to the line's size so that the
// views already taken stay valid.
Parser::SplitResult Parser::split_inline(std::string_view line) {
  scratch_.clear();
  bool scratch_ready = false;
  const size_t n = line.size();
  bytes_examined_ += n;
  size_t i = 0;
  while (true) {
    while (i < n && is_space(line[i])) ++i;
    if (i >= n) return SplitResult::kOk;
    if (args_.size() == limits_.max_args) return SplitResult::kTooManyArgs;
    const size_t start = i;
    while (i < n && !ends_unquoted(line[i]) && line[i] != '"' && line[i] != '\'') ++i;
    if (i < n && (line[i] == '"' || line[i] == '\'')) {
      if (!scratch_ready) {
        if (scratch_.capacity() < n) scratch_.reserve(n);
        scratch_ready = true;
      }
      bool balanced = true;
      i = split_quoted(line, start, i, balanced);
      if (!balanced) return SplitResult::kUnbalancedQuotes;
    } else {
      args_.push_back(line.substr(start, i - start));
    }
  }
}

// Continues the argument that began at `start` from the quote at `i`, with
// sdssplitargs's rules: "..." knows \xHH, \n \r \t \b \a and \<any>; '...'
// knows only \'; a closing quote must be followed by a space or the line end.
// Returns the index just past the argument.
size_t Parser::split_quoted(std::string_view line, size_t start, size_t i, bool& balanced) {
  const size_t n = line.size();
  const size_t out_start = scratch_.size();
  scratch_.append(line.data() + start, i - start);
  bool in_double = false;
  bool in_single = false;
  auto closes_here = [&](size_t at) { return at + 1 >= n || is_space(line[at + 1]); };
  while (true) {
    if (in_double || in_single) {
      if (i >= n) {
        balanced = false;
        return i;
      }
      const char c = line[i];
      if (in_double && c == '\\' && i + 3 < n && line[i + 1] == 'x' &&
          hex_value(line[i + 2]) >= 0 && hex_value(line[i + 3]) >= 0) {
        scratch_.push_back(static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3])));
        i += 4;
      } else if (in_double && c == '\\' && i + 1 < n) {
        scratch_.push_back(unescape(line[i + 1]));
        i += 2;
      } else if (in_single && c == '\\' && i + 1 < n && line[i + 1] == '\'') {
        scratch_.push_back('\'');
        i += 2;
      } else if ((in_double && c == '"') || (in_single && c == '\'')) {
        if (!closes_here(i)) {
          balanced = false;
          return i;
        }
        ++i;
        break;
      } else {
        scratch_.push_back(c);
        ++i;
      }
    } else {
      if (i >= n || ends_unquoted(line[i])) break;
      const char c = line[i++];
      if (c == '"') {
        in_double = true;
      } else if (c == '\'') {
        in_single = true;
      } else {
        scratch_.push_back(c);
      }
    }
  }
  args_.push_back(std::string_view(scratch_.data() + out_start, scratch_.size() - out_start));
  return i;
}

// Bytes of skipped empty requests stay unconsumed until a command follows
// them; bound them so a client cannot grow the buffer with empty lines.
ParseStatus Parser::need_more() {
  const size_t skipped = state_ == State::kFrameStart ? pos_ : frame_start_;
  if (skipped > limits_.max_inline) {
    return fail_limit("too many empty requests", skipped, "max_inline", limits_.max_inline);
  }
  return ParseStatus::kNeedMore;
}

ParseStatus Parser::command_done(size_t end) {
  consumed_ = end;
  state_ = State::kFrameStart;
  pos_ = 0;
  frame_start_ = 0;
  inline_scan_ = 0;
  spans_.clear();
  return ParseStatus::kCommand;
}

ParseStatus Parser::fail(std::string_view message) {
  error_len_ = std::min(message.size(), sizeof(error_buf_));
  std::memcpy(error_buf_, message.data(), error_len_);
  failed_ = true;
  return ParseStatus::kError;
}

ParseStatus Parser::fail_limit(std::string_view what, uint64_t value, std::string_view limit_name,
                               uint64_t limit) {
  auto written = fmt::format_to_n(error_buf_, sizeof(error_buf_), "Protocol error: {} ({} > {} {})",
                                  what, value, limit_name, limit);
  error_len_ = std::min(written.size, sizeof(error_buf_));
  failed_ = true;
  return ParseStatus::kError;
}

}  // namespace tollgate::resp
