// The RFC5322.From domain for DMARC (RFC 7489 §6.6.1): display names,
// comments, folding, groups; no From, two From fields or two addresses are
// errors.
#include "services/dmarc/header_from.hpp"

#include <gtest/gtest.h>

namespace tern::dmarc {
namespace {

std::string domain(std::string_view header) {
  auto d = header_from_domain(header);
  return d ? *d : "ERROR: " + d.error();
}

TEST(HeaderFrom, PlainAndDisplayName) {
  EXPECT_EQ(domain("From: alice@Example.COM\r\nTo: b@x.test\r\n\r\nbody"), "example.com");
  EXPECT_EQ(domain("from: \"Alice, Smith\" <alice@mail.example.org>\r\n"), "mail.example.org");
  EXPECT_EQ(domain("FROM : Alice <alice@example.org.>\n"), "example.org");
  EXPECT_EQ(domain("From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\r\n"), "example.de");
}

TEST(HeaderFrom, FoldedWithComments) {
  EXPECT_EQ(domain("Subject: hi\r\nFrom: (the (nested) boss)\r\n Bob\r\n\t<bob@(comment)example.net>\r\n"
                   "To: x@y.test\r\n\r\n"),
            "example.net");
  EXPECT_EQ(domain("From: bob@example.net (Bob \\) <evil@attacker.test>)\r\n"), "example.net");
  EXPECT_EQ(domain("From: \"quoted <fake@attacker.test>\" <real@example.com>\r\n"), "example.com");
  EXPECT_EQ(domain("From: \"a@b\"@example.com\r\n"), "example.com");
}

TEST(HeaderFrom, GroupWithOneMember) {
  EXPECT_EQ(domain("From: Team: alice@example.com;\r\n"), "example.com");
}

TEST(HeaderFrom, ObsoleteRoute) { EXPECT_EQ(domain("From: <@relay.test:alice@example.com>\r\n"), "example.com"); }

TEST(HeaderFrom, Utf8Domain) { EXPECT_EQ(domain("From: a@b\xc3\xbc" "cher.example\r\n"), "b\xc3\xbc" "cher.example"); }

TEST(HeaderFrom, ErrorsOfRfc7489Section661) {
  EXPECT_NE(domain("To: a@b.test\r\n\r\nFrom: x@y.test\r\n").find("no From field"), std::string::npos);
  EXPECT_NE(domain("From: a@x.test\r\nFrom: b@x.test\r\n").find("more than one From"), std::string::npos);
  EXPECT_NE(domain("From: a@x.test, b@y.test\r\n").find("2 addresses"), std::string::npos);
  EXPECT_NE(domain("From: a@x.test,\r\n b@x.test\r\n").find("2 addresses"), std::string::npos);
  EXPECT_NE(domain("From: undisclosed-recipients:;\r\n").find("no address"), std::string::npos);
  EXPECT_NE(domain("From: \r\n").find("no address"), std::string::npos);
  EXPECT_NE(domain("From: Alice\r\n").find("no local@domain"), std::string::npos);
  EXPECT_NE(domain("From: a@[192.0.2.1]\r\n").find("literal"), std::string::npos);
  EXPECT_NE(domain("From: a@exa mple.com\r\n").find("not a domain"), std::string::npos);
  EXPECT_NE(domain("From: <a@example.com\r\n").find("unterminated"), std::string::npos);
  EXPECT_NE(domain("From: (open <a@example.com>\r\n").find("unterminated comment"), std::string::npos);
  EXPECT_NE(domain("From: a@example..com\r\n").find("not a domain"), std::string::npos);
}

}  // namespace
}  // namespace tern::dmarc
