#include "resp/reply_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace tollgate::resp {
namespace {

using namespace std::string_literals;

std::string written(void (*write)(ReplyWriter&)) {
  std::string out;
  ReplyWriter writer(out);
  write(writer);
  return out;
}

// Verifies simple strings are encoded byte-exact, with CR/LF blanked.
TEST(RespReplyWriter, Simple) {
  EXPECT_EQ(written([](ReplyWriter& w) { w.simple("OK"); }), "+OK\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.simple(""); }), "+\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.simple("a\r\nb"); }), "+a  b\r\n");
}

// Verifies errors are encoded byte-exact and CR/LF in the message become spaces.
TEST(RespReplyWriter, Error) {
  EXPECT_EQ(written([](ReplyWriter& w) { w.error("ERR unknown command"); }),
            "-ERR unknown command\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.error("ERR bad\r\nline\n"); }), "-ERR bad  line \r\n");
}

// Verifies integers, including 0, -1, INT64_MIN and INT64_MAX.
TEST(RespReplyWriter, Integer) {
  EXPECT_EQ(written([](ReplyWriter& w) { w.integer(0); }), ":0\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.integer(-1); }), ":-1\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.integer(42); }), ":42\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::max()); }),
            ":9223372036854775807\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::min()); }),
            ":-9223372036854775808\r\n");
}

// Verifies bulk strings are length-prefixed and binary-safe, and the null bulk.
TEST(RespReplyWriter, BulkAndNullBulk) {
  EXPECT_EQ(written([](ReplyWriter& w) { w.bulk("hello"); }), "$5\r\nhello\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.bulk(""); }), "$0\r\n\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.bulk("a\r\n\0b"s); }), "$5\r\na\r\n\0b\r\n"s);
  EXPECT_EQ(written([](ReplyWriter& w) { w.null_bulk(); }), "$-1\r\n");
}

// Verifies array headers and the null array.
TEST(RespReplyWriter, ArrayAndNullArray) {
  EXPECT_EQ(written([](ReplyWriter& w) { w.array(0); }), "*0\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.array(7); }), "*7\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.array(std::numeric_limits<size_t>::max()); }),
            "*18446744073709551615\r\n");
  EXPECT_EQ(written([](ReplyWriter& w) { w.null_array(); }), "*-1\r\n");
}

// Verifies raw bytes are appended untouched.
TEST(RespReplyWriter, Raw) {
  EXPECT_EQ(written([](ReplyWriter& w) { w.raw("+PONG\r\n"); }), "+PONG\r\n");
}

// Verifies the writer appends after what the buffer already holds, building a CHECK-shaped reply.
TEST(RespReplyWriter, AppendsAndComposesCheckReply) {
  std::string out = "+PONG\r\n";
  ReplyWriter writer(out);
  writer.array(7);
  writer.integer(0);
  writer.simple("RATE");
  writer.bulk("per_second");
  writer.integer(0);
  writer.integer(250);
  writer.integer(1000);
  writer.integer(-1);
  EXPECT_EQ(out,
            "+PONG\r\n*7\r\n:0\r\n+RATE\r\n$10\r\nper_second\r\n:0\r\n:250\r\n:1000\r\n:-1\r\n");
  EXPECT_EQ(&writer.out(), &out);
}

}  // namespace
}  // namespace tollgate::resp

namespace tollgate::resp {
namespace {

// Verifies maps and nulls follow the protocol: RESP3 `%n` and `_`, RESP2 a flat array of 2n and `$-1` / `*-1`.
TEST(ReplyWriterProtocol, MapsAndNulls) {
  std::string buffer;
  ReplyWriter out(buffer);
  out.map(2);
  out.null_bulk();
  out.null_array();
  EXPECT_EQ(buffer, "*4\r\n$-1\r\n*-1\r\n");
  buffer.clear();
  out.set_protocol(3);
  out.map(2);
  out.null_bulk();
  out.null_array();
  out.array(1);
  EXPECT_EQ(buffer, "%2\r\n_\r\n_\r\n*1\r\n");
}

}  // namespace
}  // namespace tollgate::resp
