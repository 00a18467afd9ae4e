#include "resp/reply_writer.h"

#include <algorithm>
#include <charconv>

namespace tollgate::resp {

void ReplyWriter::simple(std::string_view s) { line('+', s); }

void ReplyWriter::error(std::string_view msg) { line('-', msg); }

// One append of the whole frame; the body is blanked in place after copying.
void ReplyWriter::line(char type, std::string_view body) {
  const size_t start = out_.size();
  out_.push_back(type);
  out_.append(body);
  out_.append("\r\n", 2);
  const auto first = out_.begin() + static_cast<std::ptrdiff_t>(start + 1);
  const auto last = first + static_cast<std::ptrdiff_t>(body.size());
  std::replace_if(first, last, [](char c) { return c == '\r' || c == '\n'; }, ' ');
}

// Formats `type`, the number and CRLF in a stack buffer, then appends once.
// Takes the magnitude separately so INT64_MIN needs no special case.
void ReplyWriter::header(char type, uint64_t magnitude, bool negative) {
  char buffer[24];  // type + '-' + 20 digits + CRLF
  char* p = buffer;
  *p++ = type;
  if (negative) *p++ = '-';
  p = std::to_chars(p, buffer + sizeof(buffer), magnitude).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out_.append(buffer, static_cast<size_t>(p - buffer));
}

void ReplyWriter::integer(int64_t v) {
  const bool negative = v < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  header(':', magnitude, negative);
}

void ReplyWriter::bulk(std::string_view s) {
  header('$', s.size(), false);
  out_.append(s);
  out_.append("\r\n", 2);
}

void ReplyWriter::null_bulk() {
  if (protocol_ >= 3) out_.append("_\r\n", 3);
  else out_.append("$-1\r\n", 5);
}

void ReplyWriter::map(size_t n) {
  if (protocol_ >= 3) header('%', n, false);
  else header('*', 2 * n, false);
}

void ReplyWriter::array(size_t n) { header('*', n, false); }

void ReplyWriter::null_array() {
  if (protocol_ >= 3) out_.append("_\r\n", 3);
  else out_.append("*-1\r\n", 5);
}

}  // namespace tollgate::resp
