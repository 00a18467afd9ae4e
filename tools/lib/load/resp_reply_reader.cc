#include "load/resp_reply_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace tollgate {

void RespReplyReader::reset() {
  state_ = State::kType;
  protocol_error_ = false;
  error_ = {};
  text_length_ = text_total_ = 0;
  depth_ = 0;
  reply_ = Reply{};
}

RespReplyReader::Status RespReplyReader::fail(std::string_view why) {
  protocol_error_ = true;
  error_ = why;
  return Status::kProtocolError;
}

void RespReplyReader::append_text(const char* p, size_t n) {
  const size_t room = sizeof(text_) - text_length_;
  const size_t take = std::min(room, n);
  std::memcpy(text_ + text_length_, p, take);
  text_length_ += take;
  text_total_ += n;
  if (n != 0) last_byte_ = p[n - 1];
}

bool RespReplyReader::parse_integer(int64_t& out) const {
  // The line is in text_ without its CRLF; at most 19 digits plus a sign.
  if (text_total_ == 0 || text_total_ > 20) return false;
  size_t i = 0;
  const bool negative = text_[0] == '-';
  if (negative) ++i;
  if (i == text_length_) return false;
  int64_t value = 0;
  for (; i < text_length_; ++i) {
    const char c = text_[i];
    if (c < '0' || c > '9') return false;
    if (value > (INT64_MAX - (c - '0')) / 10) return false;
    value = value * 10 + (c - '0');
  }
  out = negative ? -value : value;
  return true;
}

// A value (scalar or emptied array) just completed: pop every array it
// completes in turn. True when the top-level reply is complete.
bool RespReplyReader::finish_value() {
  while (depth_ > 0) {
    if (--remaining_[depth_ - 1] > 0) return false;
    --depth_;
  }
  return true;
}

bool RespReplyReader::finish_scalar(ReplyType type, int64_t integer) {
  const std::string_view text(text_, text_length_);
  if (depth_ == 0) {
    reply_.type = type;
    reply_.integer = integer;
    std::memcpy(reply_text_, text.data(), text.size());
    reply_.text = std::string_view(reply_text_, text.size());
    reply_.truncated = text_total_ > text_length_;
    return true;
  }
  if (depth_ == 1) {
    const int64_t index = reply_.integer - remaining_[0];
    if (index < static_cast<int64_t>(Reply::kMaxElements)) {
      ReplyElement& e = reply_.elements[static_cast<size_t>(index)];
      e.type = type;
      e.integer = integer;
      const size_t n = std::min(text.size(), ReplyElement::kMaxText);
      std::memcpy(e.text_, text.data(), n);
      e.text_length_ = static_cast<uint8_t>(n);
    }
  }
  return finish_value();
}

RespReplyReader::Status RespReplyReader::on_line() {
  int64_t n = 0;
  switch (type_) {
    case '+':
      return finish_scalar(ReplyType::kSimpleString, 0) ? Status::kReply : Status::kNeedMore;
    case '-':
      return finish_scalar(ReplyType::kError, 0) ? Status::kReply : Status::kNeedMore;
    case ':':
      if (!parse_integer(n)) return fail("bad integer reply");
      text_length_ = text_total_ = 0;
      return finish_scalar(ReplyType::kInteger, n) ? Status::kReply : Status::kNeedMore;
    case '$':
      if (!parse_integer(n) || n < -1 || n > kMaxBulkLength) return fail("bad bulk length");
      text_length_ = text_total_ = 0;
      if (n == -1) return finish_scalar(ReplyType::kNil, 0) ? Status::kReply : Status::kNeedMore;
      bulk_length_ = bulk_remaining_ = n;
      state_ = n == 0 ? State::kBulkCr : State::kBulkBody;
      return Status::kNeedMore;
    case '_':  // RESP3 null
      if (text_total_ != 0) return fail("bad null reply");
      return finish_scalar(ReplyType::kNil, 0) ? Status::kReply : Status::kNeedMore;
    case '%':  // RESP3 map of n pairs: read as the array of its 2n elements
    case '*': {
      if (!parse_integer(n) || n < -1) return fail("bad array length");
      if (type_ == '%') {
        if (n < 0 || n > std::numeric_limits<int64_t>::max() / 2) return fail("bad map length");
        n *= 2;
      }
      text_length_ = text_total_ = 0;
      if (n == -1) return finish_scalar(ReplyType::kNil, 0) ? Status::kReply : Status::kNeedMore;
      // Record the array where a scalar would go, then open it.
      if (n == 0) return finish_scalar(ReplyType::kArray, 0) ? Status::kReply : Status::kNeedMore;
      if (depth_ == kMaxDepth) return fail("arrays nested too deep");
      if (depth_ == 0) {
        reply_.type = ReplyType::kArray;
        reply_.integer = n;
        reply_.text = {};
        reply_.truncated = false;
      } else if (depth_ == 1) {
        const int64_t index = reply_.integer - remaining_[0];
        if (index < static_cast<int64_t>(Reply::kMaxElements)) {
          ReplyElement& e = reply_.elements[static_cast<size_t>(index)];
          e.type = ReplyType::kArray;
          e.integer = n;
          e.text_length_ = 0;
        }
      }
      remaining_[depth_++] = n;
      return Status::kNeedMore;
    }
    default:
      return fail("unknown reply type byte");
  }
}

RespReplyReader::Status RespReplyReader::feed(const char*& data, const char* end) {
  if (protocol_error_) return Status::kProtocolError;
  while (data < end) {
    switch (state_) {
      case State::kType:
        type_ = *data++;
        text_length_ = text_total_ = 0;
        last_byte_ = 0;
        state_ = State::kLine;
        break;
      case State::kLine: {
        const char* newline = static_cast<const char*>(std::memchr(data, '\n', end - data));
        if (newline == nullptr) {
          append_text(data, end - data);
          data = end;
          break;
        }
        append_text(data, newline - data);
        data = newline + 1;
        if (text_total_ == 0 || last_byte_ != '\r') return fail("line not terminated by CRLF");
        if (text_total_ == text_length_) --text_length_;
        --text_total_;
        state_ = State::kType;
        const Status s = on_line();
        if (s != Status::kNeedMore) return s;
        break;
      }
      case State::kBulkBody: {
        const size_t take = static_cast<size_t>(std::min<int64_t>(bulk_remaining_, end - data));
        append_text(data, take);
        data += take;
        bulk_remaining_ -= static_cast<int64_t>(take);
        if (bulk_remaining_ == 0) state_ = State::kBulkCr;
        break;
      }
      case State::kBulkCr:
        if (*data++ != '\r') return fail("bulk string not terminated by CRLF");
        state_ = State::kBulkLf;
        break;
      case State::kBulkLf:
        if (*data++ != '\n') return fail("bulk string not terminated by CRLF");
        state_ = State::kType;
        if (finish_scalar(ReplyType::kBulkString, bulk_length_)) return Status::kReply;
        break;
    }
  }
  return Status::kNeedMore;
}

}  // namespace tollgate
