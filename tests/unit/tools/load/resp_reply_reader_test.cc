#include "load/resp_reply_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace tollgate {
namespace {

using Status = RespReplyReader::Status;

constexpr std::string_view kCheckReply =
    "*7\r\n:0\r\n+RATE\r\n$5\r\nburst\r\n:0\r\n:250\r\n:2000\r\n:-1\r\n";

// Feeds `input` in chunks of the given sizes (last chunk gets the rest) and
// returns how many replies completed; stops at a protocol error.
int feed_chunks(RespReplyReader& reader, std::string_view input, size_t split_at,
                std::vector<Reply>* replies = nullptr, Status* last = nullptr) {
  int complete = 0;
  Status status = Status::kNeedMore;
  for (std::string_view part : {input.substr(0, split_at), input.substr(split_at)}) {
    const char* p = part.data();
    const char* end = p + part.size();
    while (p < end) {
      status = reader.feed(p, end);
      if (status == Status::kProtocolError) {
        if (last) *last = status;
        return complete;
      }
      if (status == Status::kReply) {
        ++complete;
        if (replies) replies->push_back(reader.reply());
      }
    }
  }
  if (last) *last = status;
  return complete;
}

void expect_check_reply(const Reply& r) {
  ASSERT_EQ(r.type, ReplyType::kArray);
  ASSERT_EQ(r.integer, 7);
  ASSERT_EQ(r.captured_elements(), 7u);
  EXPECT_EQ(r.elements[0].type, ReplyType::kInteger);
  EXPECT_EQ(r.elements[0].integer, 0);
  EXPECT_EQ(r.elements[1].type, ReplyType::kSimpleString);
  EXPECT_EQ(r.elements[1].text(), "RATE");
  EXPECT_EQ(r.elements[2].type, ReplyType::kBulkString);
  EXPECT_EQ(r.elements[2].text(), "burst");
  EXPECT_EQ(r.elements[2].integer, 5);
  EXPECT_EQ(r.elements[4].integer, 250);
  EXPECT_EQ(r.elements[5].integer, 2000);
  EXPECT_EQ(r.elements[6].integer, -1);
}

// Verifies the 7-element CHECK reply is read whole when split at every byte.
TEST(RespReplyReaderTest, CheckReplySplitAtEveryByte) {
  for (size_t split = 0; split <= kCheckReply.size(); ++split) {
    RespReplyReader reader;
    std::vector<Reply> replies;
    ASSERT_EQ(feed_chunks(reader, kCheckReply, split, &replies), 1) << split;
    expect_check_reply(replies[0]);
  }
}

// Verifies a byte-at-a-time stream of mixed replies yields each in order.
TEST(RespReplyReaderTest, MixedRepliesOneByteAtATime) {
  const std::string input = "+PONG\r\n-ERR unknown command 'PEEK'\r\n:42\r\n$-1\r\n*-1\r\n$0\r\n\r\n*0\r\n" +
                            std::string(kCheckReply);
  RespReplyReader reader;
  std::vector<Reply> replies;
  std::vector<std::string> texts;  // reply().text is only valid until the next feed
  for (char c : input) {
    const char* p = &c;
    const Status s = reader.feed(p, p + 1);
    ASSERT_NE(s, Status::kProtocolError) << reader.error();
    EXPECT_EQ(p, &c + 1);
    if (s == Status::kReply) {
      replies.push_back(reader.reply());
      texts.emplace_back(reader.reply().text);
    }
  }
  ASSERT_EQ(replies.size(), 8u);
  EXPECT_EQ(replies[0].type, ReplyType::kSimpleString);
  EXPECT_EQ(texts[0], "PONG");
  EXPECT_EQ(replies[1].type, ReplyType::kError);
  EXPECT_EQ(texts[1], "ERR unknown command 'PEEK'");
  EXPECT_EQ(replies[2].type, ReplyType::kInteger);
  EXPECT_EQ(replies[2].integer, 42);
  EXPECT_EQ(replies[3].type, ReplyType::kNil);
  EXPECT_EQ(replies[4].type, ReplyType::kNil);
  EXPECT_EQ(replies[5].type, ReplyType::kBulkString);
  EXPECT_EQ(texts[5], "");
  EXPECT_EQ(replies[6].type, ReplyType::kArray);
  EXPECT_EQ(replies[6].integer, 0);
  expect_check_reply(replies[7]);
}

// Verifies feed stops right after each reply, leaving the rest for the next call.
TEST(RespReplyReaderTest, StopsAfterEachReply) {
  const std::string_view input = ":1\r\n:2\r\n";
  RespReplyReader reader;
  const char* p = input.data();
  const char* end = p + input.size();
  ASSERT_EQ(reader.feed(p, end), Status::kReply);
  EXPECT_EQ(reader.reply().integer, 1);
  EXPECT_EQ(p, input.data() + 4);
  ASSERT_EQ(reader.feed(p, end), Status::kReply);
  EXPECT_EQ(reader.reply().integer, 2);
  EXPECT_EQ(reader.feed(p, end), Status::kNeedMore);
}

// Verifies nested arrays are skipped but counted as one direct element each.
TEST(RespReplyReaderTest, NestedArraysAreDirectElements) {
  const std::string_view input = "*3\r\n*2\r\n:1\r\n*1\r\n+x\r\n*0\r\n$3\r\nend\r\n";
  for (size_t split = 0; split <= input.size(); ++split) {
    RespReplyReader reader;
    std::vector<Reply> replies;
    ASSERT_EQ(feed_chunks(reader, input, split, &replies), 1) << split;
    const Reply& r = replies[0];
    EXPECT_EQ(r.integer, 3);
    EXPECT_EQ(r.elements[0].type, ReplyType::kArray);
    EXPECT_EQ(r.elements[0].integer, 2);
    EXPECT_EQ(r.elements[1].type, ReplyType::kArray);
    EXPECT_EQ(r.elements[1].integer, 0);
    EXPECT_EQ(r.elements[2].text(), "end");
  }
}

// Verifies long strings and arrays beyond the capture limits are consumed and truncated.
TEST(RespReplyReaderTest, LongValuesAreTruncatedNotRejected) {
  const std::string big(1000, 'a');
  std::string input = "+" + big + "\r\n$1000\r\n" + big + "\r\n*20\r\n";
  for (int i = 0; i < 20; ++i) input += "$100\r\n" + std::string(100, 'b') + "\r\n";
  for (size_t split : {size_t{0}, size_t{255}, size_t{258}, size_t{1003}, size_t{1500}}) {
    RespReplyReader reader;
    std::vector<Reply> replies;
    ASSERT_EQ(feed_chunks(reader, input, split, &replies), 3) << split;
    EXPECT_EQ(replies[0].text.size(), Reply::kMaxText);  // length survives the copy
    EXPECT_TRUE(replies[0].truncated);
    EXPECT_EQ(replies[1].integer, 1000);
    EXPECT_TRUE(replies[1].truncated);
    EXPECT_EQ(replies[2].captured_elements(), Reply::kMaxElements);
    EXPECT_EQ(replies[2].elements[7].text(), std::string(ReplyElement::kMaxText, 'b'));
  }
}

// Verifies malformed replies are protocol errors, and that the error is sticky until reset.
TEST(RespReplyReaderTest, MalformedInputIsProtocolError) {
  for (std::string_view bad : {"?x\r\n", ":12a\r\n", ":\r\n", "+OK\n", "$-2\r\n", "$3\r\nabcd\r\n",
                               "*-5\r\n", ":99999999999999999999\r\n", "$\r\n"}) {
    RespReplyReader reader;
    Status last;
    feed_chunks(reader, bad, 0, nullptr, &last);
    EXPECT_EQ(last, Status::kProtocolError) << bad;
    EXPECT_FALSE(reader.error().empty());
    const char* p = "+OK\r\n";
    EXPECT_EQ(reader.feed(p, p + 5), Status::kProtocolError);
    reader.reset();
    EXPECT_EQ(reader.feed(p, p + 5), Status::kReply);
  }
}

// Verifies nesting deeper than kMaxDepth is refused instead of overflowing.
TEST(RespReplyReaderTest, TooDeepNestingIsRefused) {
  std::string input;
  for (int i = 0; i <= RespReplyReader::kMaxDepth; ++i) input += "*1\r\n";
  RespReplyReader reader;
  Status last;
  feed_chunks(reader, input, 0, nullptr, &last);
  EXPECT_EQ(last, Status::kProtocolError);
}

// Verifies RESP3 maps read as the array of their pairs and `_` as nil (HELLO 3 replies in the commands fuzzer).
TEST(RespReplyReaderTest, Resp3MapsAndNulls) {
  RespReplyReader reader;
  const std::string map = "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n";
  const char* p = map.data();
  ASSERT_EQ(reader.feed(p, map.data() + map.size()), Status::kReply);
  EXPECT_EQ(p, map.data() + map.size());
  EXPECT_EQ(reader.reply().type, ReplyType::kArray);
  EXPECT_EQ(reader.reply().integer, 4);
  EXPECT_EQ(reader.reply().elements[3].type, ReplyType::kNil);
  RespReplyReader bad;
  const std::string wrong = "%-1\r\n";
  p = wrong.data();
  EXPECT_EQ(bad.feed(p, wrong.data() + wrong.size()), Status::kProtocolError);
}

}  // namespace
}  // namespace tollgate
