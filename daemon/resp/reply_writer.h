// Appends RESP2 or RESP3 replies to a buffer; not thread-safe; the caller
// owns the buffer, which outlives it. The protocol (2 by default) changes
// only how maps and nulls are written: RESP3 `%n` / `_`, RESP2 a flat array
// of 2n elements / `$-1` `*-1`.
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
  // `%n` (RESP3) or `*2n` (RESP2); the caller then writes n key/value pairs.
  void map(size_t n);

  void set_protocol(int protocol) { protocol_ = protocol; }
  int protocol() const { return protocol_; }

  std::string& out() { return out_; }

 private:
  void line(char type, std::string_view body);  // type, body with CR/LF blanked, CRLF
  void header(char type, uint64_t magnitude, bool negative);

  std::string& out_;
  int protocol_ = 2;
};

}  // namespace tollgate::resp
