// Reply rendering: RFC 5321 §4.2.1 multi-line form and RFC 2034 enhanced codes.
#include "protocol/smtp/reply.hpp"

#include <gtest/gtest.h>

namespace tern::smtp {
namespace {

std::string render(const Reply& r, bool enhanced) {
  std::string out;
  r.render(out, enhanced);
  return out;
}

TEST(Reply, SingleLine) {
  Reply r{250, "2.1.0", "Ok"};
  EXPECT_EQ(render(r, false), "250 Ok\r\n");
  EXPECT_EQ(render(r, true), "250 2.1.0 Ok\r\n");
  EXPECT_TRUE(r.positive());
  EXPECT_FALSE((Reply{451, "4.3.0", "later"}).positive());
}

TEST(Reply, MultiLineUsesDashOnAllButTheLast) {
  Reply r{250, "", std::vector<std::string>{"host Hello", "PIPELINING", "HELP"}};
  EXPECT_EQ(render(r, true), "250-host Hello\r\n250-PIPELINING\r\n250 HELP\r\n");
  Reply h{214, "2.0.0", std::vector<std::string>{"a", "b"}};
  EXPECT_EQ(render(h, true), "214-2.0.0 a\r\n214 2.0.0 b\r\n");
  EXPECT_EQ(render(h, false), "214-a\r\n214 b\r\n");
}

TEST(Reply, NoEnhancedCodeWhenItHasNone) {
  EXPECT_EQ(render(Reply{354, "", "go ahead"}, true), "354 go ahead\r\n");
}

TEST(Reply, RenderAppends) {
  std::string out = "x";
  Reply{221, "2.0.0", "Bye"}.render(out, true);
  EXPECT_EQ(out, "x221 2.0.0 Bye\r\n");
}

}  // namespace
}  // namespace tern::smtp
