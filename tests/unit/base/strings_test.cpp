// ASCII-only string helpers shared by every layer.
#include "base/strings.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(Strings, CaseFoldingIsAsciiOnly) {
  EXPECT_EQ(to_lower("MiXeD 123 ÄÖ"), "mixed 123 ÄÖ");
  EXPECT_TRUE(iequals("Received:", "RECEIVED:"));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("Ä", "ä"));
  EXPECT_TRUE(istarts_with("FROM:<a@b>", "from:"));
  EXPECT_FALSE(istarts_with("FRO", "from:"));
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('['), '[');
}

TEST(Strings, Trim) {
  EXPECT_EQ(trim("  a b \t"), "a b");
  EXPECT_EQ(trim("\t\t"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("\r\na\r\n"), "\r\na\r\n");  // only blanks and tabs
}

// Client text in logs: no control bytes, no raw non-ASCII, no way to fake a
// key="value" boundary, bounded length.
TEST(Strings, LogEscape) {
  EXPECT_EQ(log_escape("plain text"), "plain text");
  EXPECT_EQ(log_escape("a\r\nb"), "a\\x0d\\x0ab");
  EXPECT_EQ(log_escape("say \"hi\" \\"), "say \\x22hi\\x22 \\x5c");
  EXPECT_EQ(log_escape("é"), "\\xc3\\xa9");
  EXPECT_EQ(log_escape(std::string(300, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(log_escape(std::string(10, 'x'), 10), "xxxxxxxxxx");
}

}  // namespace
}  // namespace tern
