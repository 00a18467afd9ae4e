// An incremental reader of RESP2 (and RESP3 maps and nulls) *replies* for clients (the load generator,
// tests): bytes may arrive split anywhere; each complete top-level reply is
// summarised in a fixed-size Reply (type, integer, text, and the first few
// direct elements of an array, e.g. the 7-field CHECK reply). Nested arrays
// are parsed and skipped. Never allocates.
//
// Thread-safety: not thread-safe; one reader per connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tollgate {

enum class ReplyType : uint8_t { kSimpleString, kError, kInteger, kBulkString, kArray, kNil };

// One direct element of a top-level array reply.
struct ReplyElement {
  static constexpr size_t kMaxText = 64;

  ReplyType type = ReplyType::kNil;
  int64_t integer = 0;  // kInteger: the value; kArray / kBulkString: the length
  std::string_view text() const { return {text_, text_length_}; }

  char text_[kMaxText];  // first kMaxText bytes of a string element
  uint8_t text_length_ = 0;
};

struct Reply {
  static constexpr size_t kMaxText = 256;
  static constexpr size_t kMaxElements = 8;

  ReplyType type = ReplyType::kNil;
  int64_t integer = 0;    // kInteger: the value; kArray / kBulkString: the length
  std::string_view text;  // string or error text, first kMaxText bytes
  bool truncated = false; // text was longer than kMaxText
  // kArray: the first min(integer, kMaxElements) direct elements.
  std::array<ReplyElement, kMaxElements> elements;

  size_t captured_elements() const {
    return type == ReplyType::kArray && integer > 0
               ? (static_cast<size_t>(integer) < kMaxElements ? static_cast<size_t>(integer) : kMaxElements)
               : 0;
  }
};

class RespReplyReader {
 public:
  static constexpr int kMaxDepth = 16;
  static constexpr int64_t kMaxBulkLength = int64_t{512} << 20;  // as Redis

  enum class Status { kReply, kNeedMore, kProtocolError };

  // Consumes bytes from [data, end) and advances `data`. Returns kReply as
  // soon as one top-level reply is complete (reply() holds it until the next
  // feed), kNeedMore when all input is consumed mid-reply (state is kept),
  // kProtocolError on malformed input (sticky until reset()).
  [[nodiscard]] Status feed(const char*& data, const char* end);

  const Reply& reply() const { return reply_; }
  std::string_view error() const { return error_; }
  void reset();

 private:
  enum class State : uint8_t { kType, kLine, kBulkBody, kBulkCr, kBulkLf };

  Status fail(std::string_view why);
  Status on_line();                      // a complete header or simple line
  bool finish_scalar(ReplyType type, int64_t integer);  // true: top-level done
  bool finish_value();                   // pop completed arrays; true: top-level done
  void append_text(const char* p, size_t n);
  bool parse_integer(int64_t& out) const;

  State state_ = State::kType;
  char type_ = 0;
  bool protocol_error_ = false;
  std::string_view error_;

  // Current line or bulk payload (first kMaxText bytes).
  char text_[Reply::kMaxText];
  size_t text_length_ = 0;
  size_t text_total_ = 0;
  char last_byte_ = 0;  // last byte of the line so far, captured or not
  int64_t bulk_remaining_ = 0;
  int64_t bulk_length_ = 0;

  // Remaining elements of each open array, outermost first.
  std::array<int64_t, kMaxDepth> remaining_{};
  int depth_ = 0;

  char reply_text_[Reply::kMaxText];
  Reply reply_;
};

}  // namespace tollgate
