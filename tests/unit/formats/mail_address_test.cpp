// RFC 5321 §4.1.2 paths and mailboxes: what MAIL FROM and RCPT TO accept, what
// they refuse and why, and the key used to look addresses up.
#include "formats/mail_address.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

std::optional<ParsedPath> fwd(std::string_view s, std::string* why = nullptr) {
  return parse_path(s, PathKind::forward_path, why);
}
std::optional<ParsedPath> rev(std::string_view s, std::string* why = nullptr) {
  return parse_path(s, PathKind::reverse_path, why);
}

TEST(ParsePath, AngleBrackets) {
  auto p = fwd("<Alice@Example.TEST>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.local_part, "Alice");
  EXPECT_EQ(p->address.domain, "Example.TEST");  // as written
  EXPECT_EQ(p->address.to_string(), "Alice@Example.TEST");
  EXPECT_TRUE(p->params.empty());
}

// Real clients (and the seed articles) send a space after the colon and no brackets.
TEST(ParsePath, BareAddressWithoutBrackets) {
  auto p = rev(" bripengandre@163.com");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.to_string(), "bripengandre@163.com");
  auto q = rev("a@b.example SIZE=10");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->address.to_string(), "a@b.example");
  ASSERT_EQ(q->params.size(), 1u);
  EXPECT_EQ(q->params[0].keyword, "SIZE");
}

TEST(ParsePath, NullReversePath) {
  auto p = rev("<>");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->address.is_null());
  EXPECT_EQ(p->address.to_string(), "");
  std::string why;
  EXPECT_FALSE(fwd("<>", &why));
  EXPECT_EQ(why, "empty recipient address");
}

// RFC 5321 §4.1.1.3: RCPT TO:<postmaster> without a domain must be accepted.
TEST(ParsePath, BarePostmasterForwardPathOnly) {
  auto p = fwd("<postmaster>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.local_part, "postmaster");
  EXPECT_EQ(p->address.domain, "");
  EXPECT_FALSE(p->address.is_null());
  EXPECT_EQ(p->address.to_string(), "postmaster");
  EXPECT_TRUE(fwd("<PostMaster>"));
  EXPECT_FALSE(rev("<postmaster>"));
}

// RFC 5321 §4.1.2 / Appendix C: source routes are accepted and ignored.
TEST(ParsePath, SourceRoutesAreIgnored) {
  auto p = fwd("<@foo.com:Jones@XYZ.COM>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.to_string(), "Jones@XYZ.COM");
  auto q = rev("<@hosta.int,@jkl.org:userc@d.bar.org>");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->address.to_string(), "userc@d.bar.org");
  std::string why;
  EXPECT_FALSE(fwd("<@foo.com>", &why));
  EXPECT_EQ(why, "invalid source route");
}

TEST(ParsePath, QuotedLocalParts) {
  auto p = fwd(R"(<"john smith"@example.test>)");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.local_part, R"("john smith")");
  EXPECT_EQ(p->address.to_string(), R"("john smith"@example.test)");

  // A quoted '>' and '@' do not end or split the address.
  auto q = fwd(R"(<"a>b@c"@example.test> NOTIFY=NEVER)");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->address.local_part, R"("a>b@c")");
  EXPECT_EQ(q->address.domain, "example.test");
  EXPECT_EQ(q->params.size(), 1u);

  auto e = fwd(R"(<"a\"b"@example.test>)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address.local_part, R"("a\"b")");

  EXPECT_FALSE(fwd(R"(<"unterminated@example.test>)"));
  EXPECT_FALSE(fwd(R"(<"a"b"@example.test>)"));
  EXPECT_FALSE(fwd(R"(<"a\"@example.test>)"));
}

TEST(ParsePath, DomainLiterals) {
  EXPECT_TRUE(fwd("<a@[192.0.2.1]>"));
  EXPECT_TRUE(fwd("<a@[IPv6:2001:db8::1]>"));
  EXPECT_FALSE(fwd("<a@[]>"));
  EXPECT_FALSE(fwd("<a@[1.2.3.4>"));
}

TEST(ParsePath, Parameters) {
  auto p = rev("<a@b.example> size=1000 BODY=8BITMIME SMTPUTF8  RET=HDRS");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->params.size(), 4u);
  EXPECT_EQ(p->params[0].keyword, "SIZE");
  EXPECT_EQ(p->params[0].value, "1000");
  EXPECT_TRUE(p->params[0].has_value);
  EXPECT_EQ(p->params[1].value, "8BITMIME");
  EXPECT_EQ(p->params[2].keyword, "SMTPUTF8");
  EXPECT_FALSE(p->params[2].has_value);
  EXPECT_EQ(p->params[2].value, "");
  EXPECT_EQ(p->params[3].keyword, "RET");
  auto empty_value = rev("<a@b.example> ENVID=");
  ASSERT_TRUE(empty_value);
  EXPECT_TRUE(empty_value->params[0].has_value);
  EXPECT_EQ(empty_value->params[0].value, "");

  std::string why;
  EXPECT_FALSE(rev("<a@b.example> =1", &why));
  EXPECT_EQ(why, "empty parameter name");
  EXPECT_FALSE(rev("<a@b.example> SI_ZE=1", &why));
  EXPECT_EQ(why, "invalid parameter name");
  EXPECT_FALSE(rev("<a@b.example>SIZE=1", &why));
  EXPECT_EQ(why, "garbage after the address");
}

TEST(ParsePath, InvalidAddresses) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"", "missing address"},
      {"   ", "missing address"},
      {"<a@b.example", "missing '>' after the address"},
      {"<alice>", "address has no domain"},
      {"alice", "address has no domain"},
      {"<a@>", "invalid domain"},
      {"<@b.example>", "invalid source route"},
      {"<a..b@example.test>", "invalid local part"},
      {"<.a@example.test>", "invalid local part"},
      {"<a.@example.test>", "invalid local part"},
      {"<a b@example.test>", "invalid local part"},
      {"<a@example..test>", "invalid domain"},
      {"<a@.example.test>", "invalid domain"},
      {"<a@-example.test>", "invalid domain"},
      {"<a@example-.test>", "invalid domain"},
      {"<a@exa_mple.test>", "invalid domain"},
      {"<a@b@example.test>", "invalid local part"},
  };
  for (const auto& c : cases) {
    std::string why;
    EXPECT_FALSE(fwd(c.text, &why)) << c.text;
    EXPECT_EQ(why, c.reason) << c.text;
  }
}

// RFC 5321 §4.1.2: Domain = sub-domain *("." sub-domain); a trailing dot is
// not part of the syntax (it is DNS presentation form, not an SMTP domain).
TEST(ParsePath, TrailingDotInDomainIsInvalid) {
  EXPECT_FALSE(fwd("<a@example.test.>"));
  EXPECT_FALSE(parse_mailbox("a@example.test."));
}

// RFC 5321 §4.5.3.1.1: local part at most 64 octets; §4.5.3.1.2: domain 255.
TEST(ParsePath, LengthLimits) {
  std::string l64(64, 'a'), l65(65, 'a');
  EXPECT_TRUE(fwd("<" + l64 + "@example.test>"));
  std::string why;
  EXPECT_FALSE(fwd("<" + l65 + "@example.test>", &why));
  EXPECT_EQ(why, "local part longer than 64 octets");
  std::string label63(63, 'b'), label64(64, 'b');
  EXPECT_TRUE(fwd("<a@" + label63 + ".test>"));
  EXPECT_FALSE(fwd("<a@" + label64 + ".test>"));
  std::string huge = "<a@" + std::string(300, 'c') + ">";
  EXPECT_FALSE(fwd(huge, &why));
  EXPECT_EQ(why, "address too long");
}

TEST(ParseMailbox, WholeAddresses) {
  auto a = parse_mailbox("demo@example.test");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->local_part, "demo");
  EXPECT_EQ(a->domain, "example.test");
  EXPECT_TRUE(parse_mailbox(R"("x y"@example.test)"));
  EXPECT_FALSE(parse_mailbox("<demo@example.test>"));
  EXPECT_FALSE(parse_mailbox("demo"));
  EXPECT_FALSE(parse_mailbox("demo@"));
  EXPECT_FALSE(parse_mailbox("@example.test"));
  EXPECT_FALSE(parse_mailbox(""));
}

TEST(MailAddress, LookupKey) {
  EXPECT_EQ(parse_mailbox("Demo@Example.TEST")->lookup_key(), "demo@example.test");
  // Quotes that add nothing are removed: "demo" is demo.
  EXPECT_EQ(parse_mailbox(R"("Demo"@example.test)")->lookup_key(), "demo@example.test");
  EXPECT_EQ(parse_mailbox(R"("a.b"@example.test)")->lookup_key(), "a.b@example.test");
  EXPECT_EQ(parse_mailbox(R"("\d\e\m\o"@example.test)")->lookup_key(), "demo@example.test");
  // Quotes that matter stay.
  EXPECT_EQ(parse_mailbox(R"("John Smith"@example.test)")->lookup_key(), R"("john smith"@example.test)");
  EXPECT_EQ(parse_mailbox(R"("a..b"@example.test)")->lookup_key(), R"("a..b"@example.test)");
  // Non-ASCII is kept as is; only ASCII letters fold.
  EXPECT_EQ(parse_mailbox("Ünï@Example.test")->lookup_key(), "Ünï@example.test");
}

TEST(MailAddress, NeedsSmtputf8) {
  EXPECT_FALSE(parse_mailbox("demo@example.test")->needs_smtputf8());
  EXPECT_TRUE(parse_mailbox("用户@example.test")->needs_smtputf8());
  EXPECT_TRUE(parse_mailbox("demo@例子.测试")->needs_smtputf8());
  EXPECT_TRUE(fwd("<josé@example.test>")->address.needs_smtputf8());
  MailAddress null;
  EXPECT_FALSE(null.needs_smtputf8());
}

}  // namespace
}  // namespace tern
