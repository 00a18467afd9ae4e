#include "cli/error_messages.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "cli/json_writer.h"
#include "cli/reply_value.h"
#include "cli/table.h"

namespace tollgate::cli {
namespace {

// Verifies connect failures say whether the daemon is absent or refusing, naming the path.
TEST(CliErrors, ConnectMessages) {
  EXPECT_EQ(connect_error_message("run/admin.sock", ENOENT), "tollgated is not running at run/admin.sock (no socket)");
  EXPECT_EQ(connect_error_message("/tmp/t.sock", ECONNREFUSED),
            "tollgated is not running at /tmp/t.sock (connection refused)");
  EXPECT_NE(connect_error_message("/x", EACCES).find("permission denied"), std::string::npos);
  EXPECT_NE(connect_error_message("/x", ENAMETOOLONG).find("too long"), std::string::npos);
  EXPECT_NE(connect_error_message("/x", EIO).find("/x"), std::string::npos);
}

// Verifies the peer-uid refusal is recognised with or without the ERR prefix, in any case.
TEST(CliErrors, PermissionDenied) {
  EXPECT_TRUE(is_permission_denied("ERR permission denied"));
  EXPECT_TRUE(is_permission_denied("ERR Permission denied: uid 1000 is not allowed"));
  EXPECT_TRUE(is_permission_denied("permission denied"));
  EXPECT_FALSE(is_permission_denied("ERR no such contract 'permission denied'"));
  EXPECT_EQ(daemon_error_message("ERR permission denied (uid 1000)", 1000),
            "not allowed: your uid 1000 is not in admin.allow_uids (ask an operator)");
  EXPECT_EQ(daemon_error_message("ERR no such contract 'x'", 0), "no such contract 'x'");
  EXPECT_EQ(daemon_error_message("WRONG thing", 0), "WRONG thing");
}

// Verifies an admin socket that hangs up at once is reported as a refusal; the data socket is not.
TEST(CliErrors, ClosedEarly) {
  EXPECT_EQ(closed_early_message("run/admin.sock", true, 7).rfind(not_allowed_message(7), 0), 0u);
  EXPECT_EQ(closed_early_message("run/t.sock", false, 7),
            "tollgated at run/t.sock closed the connection without answering");
}

// Verifies multi-problem errors split on newlines and "; ", dropping blanks and CRs.
TEST(CliErrors, SplitLines) {
  EXPECT_EQ(split_error_lines("a.yaml:1: x\nb.yaml:2: y\r\n"), (std::vector<std::string>{"a.yaml:1: x", "b.yaml:2: y"}));
  EXPECT_EQ(split_error_lines("a:1: x; a:2: y;  ; a:3: z"),
            (std::vector<std::string>{"a:1: x", "a:2: y", "a:3: z"}));
  EXPECT_EQ(split_error_lines("single problem"), (std::vector<std::string>{"single problem"}));
  EXPECT_TRUE(split_error_lines("").empty());
}

// Verifies field/value arrays accept integers and nil, and reject odd lengths and nesting.
TEST(CliValue, FieldPairs) {
  const auto ok = field_pairs(Value::array({Value::bulk("seq"), Value::number(3), Value::status("id"), Value::nil()}));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, (FieldList{{"seq", "3"}, {"id", ""}}));
  EXPECT_FALSE(field_pairs(Value::array({Value::bulk("a")})).has_value());
  EXPECT_FALSE(field_pairs(Value::array({Value::bulk("a"), Value::array({})})).has_value());
  EXPECT_FALSE(field_pairs(Value::bulk("a")).has_value());
}

// Verifies JSON strings escape quotes, controls and invalid UTF-8 but keep valid UTF-8.
TEST(CliJson, Quote) {
  EXPECT_EQ(json_quote("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\u0001")");
  EXPECT_EQ(json_quote("北京 ü"), "\"北京 ü\"");
  EXPECT_EQ(json_quote("\xff\xc3"), R"("\u00ff\u00c3")");
  EXPECT_EQ(JsonWriter().begin_array().begin_object().end_object().number(-1).null().end_array().finish(),
            "[{},-1,null]\n");
}

// Verifies tables pad by terminal columns (CJK counts two), right-align numbers and never leave trailing blanks.
TEST(CliTable, Render) {
  Table table({"name", "n"}, {Table::Align::kLeft, Table::Align::kRight});
  table.add_row({"北京", "1"});
  table.add_row({"ab", "100"});
  table.add_row({"x"});
  table.add_row({"ü", "2"});
  EXPECT_EQ(table.render(), "name    n\n北京    1\nab    100\nx\nü       2\n");
}

}  // namespace
}  // namespace tollgate::cli
