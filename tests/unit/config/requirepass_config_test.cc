// server.requirepass and server.requirepass_file: the data socket's password,
// inline or read from a file (its first line) at every load.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using testing::joined;
using testing::parse_errors;
using testing::parse_ok;

using testing::kKeyClass;
using testing::with_server;

struct TempFile {
  TempFile() {
    char name[] = "/tmp/tgpassXXXXXX";
    const int fd = ::mkstemp(name);
    ::close(fd);
    path = name;
  }
  ~TempFile() { ::unlink(path.c_str()); }
  void write(const std::string& content) const { std::ofstream(path, std::ios::trunc) << content; }
  std::string path;
};

// Verifies no password by default, an inline one, and a file's first line without its newline (CRLF too).
TEST(RequirepassConfig, InlineAndFile) {
  EXPECT_EQ(parse_ok(kKeyClass).server.password, "");
  EXPECT_EQ(parse_ok(with_server("  requirepass: \"s3 cret\"\n")).server.password, "s3 cret");
  TempFile f;
  f.write("from-file\nsecond line ignored\n");
  EXPECT_EQ(parse_ok(with_server("  requirepass_file: " + f.path + "\n")).server.password, "from-file");
  f.write("crlf\r\n");
  EXPECT_EQ(parse_ok(with_server("  requirepass_file: " + f.path + "\n")).server.password, "crlf");
  f.write("no-newline");
  EXPECT_EQ(parse_ok(with_server("  requirepass_file: " + f.path + "\n")).server.password, "no-newline");
}

// Verifies both keys at once, a missing or unreadable file, and an empty first line are config errors.
TEST(RequirepassConfig, Errors) {
  TempFile f;
  f.write("x\n");
  EXPECT_NE(joined(parse_errors(with_server("  requirepass: a\n  requirepass_file: " + f.path + "\n")))
                .find("either requirepass or requirepass_file"),
            std::string::npos);
  EXPECT_NE(joined(parse_errors(with_server("  requirepass_file: /nonexistent/tollgate-pass\n")))
                .find("cannot read /nonexistent/tollgate-pass"),
            std::string::npos);
  f.write("\nsecond\n");
  EXPECT_NE(joined(parse_errors(with_server("  requirepass_file: " + f.path + "\n"))).find("holds no password"),
            std::string::npos);
}

}  // namespace
}  // namespace tollgate
