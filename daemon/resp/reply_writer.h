// Appends RESP2 replies to a buffer; not thread-safe; the caller owns the buffer, which outlives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::resp {

class ReplyWriter {
 public:
  explicit ReplyWriter(std::string& out) : out_(out) {}

  // `+s\r\n`. CR and LF in `s` become spaces so the reply stays one frame.
  void simple(std::string_view s);
  // `-msg\r\n`; `msg` carries its own prefix ("ERR ..."). CR and LF become spaces.
  void error(std::string_view msg);
  void integer(int64_t v);        // `:v\r\n`
  void bulk(std::string_view s);  // `$len\r\ns\r\n`, binary-safe
  void null_bulk();               // `$-1\r\n`
  void array(size_t n);           // `*n\r\n`; the caller then writes n elements
  void null_array();              // `*-1\r\n`
  void raw(std::string_view resp) { out_.append(resp); }  // pre-encoded bytes (reply caches)

  std::string& out() { return out_; }

 private:
  void line(char type, std::string_view body);  // type, body with CR/LF blanked, CRLF
  void header(char type, uint64_t magnitude, bool negative);

  std::string& out_;
};

}  // namespace tollgate::resp
