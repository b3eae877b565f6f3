// Authentication-Results (RFC 8601): the field we write (quoting, comments,
// folding at 78 columns, no header injection) and finding the fields a
// sender forged with our authserv-id (§5), in real-looking headers.
#include "formats/authentication_results.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

std::vector<std::string> lines_of(const std::string& field) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < field.size()) {
    auto crlf = field.find("\r\n", pos);
    out.push_back(field.substr(pos, crlf - pos));
    pos = crlf == std::string::npos ? field.size() : crlf + 2;
  }
  return out;
}

TEST(AuthenticationResults, TypicalField) {
  AuthenticationResults ar{"mx.example.org",
                           {spf_method("pass", "alice@example.com", "mail.example.com"),
                            dkim_method("pass", "example.com", "sel1", "AbCdEfGhIjKlMnOp"),
                            dmarc_method("pass", "reject", "none", "example.com"),
                            iprev_method("pass", "192.0.2.1", "mail.example.com")}};
  EXPECT_EQ(format_authentication_results(ar),
            "Authentication-Results: mx.example.org;\r\n"
            "\tspf=pass smtp.mailfrom=alice@example.com smtp.helo=mail.example.com;\r\n"
            "\tdkim=pass header.d=example.com header.s=sel1 header.b=AbCdEfGh;\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.com;\r\n"
            "\tiprev=pass (mail.example.com) policy.iprev=192.0.2.1\r\n");
}

TEST(AuthenticationResults, NoResults) {
  EXPECT_EQ(format_authentication_results({"mx.example.org", {}}), "Authentication-Results: mx.example.org; none\r\n");
}

// §2.2: values that are not tokens (or local@domain) are quoted-strings.
TEST(AuthenticationResults, Quoting) {
  EXPECT_EQ(auth_value("example.com"), "example.com");
  EXPECT_EQ(auth_value("user@example.com"), "user@example.com");
  EXPECT_EQ(auth_value("@example.com"), "@example.com");
  EXPECT_EQ(auth_value("a b"), "\"a b\"");
  EXPECT_EQ(auth_value("\"quoted\"@example.com"), "\"\\\"quoted\\\"@example.com\"");
  EXPECT_EQ(auth_value("x;y"), "\"x;y\"");
  EXPECT_EQ(auth_value("ab/cd+e="), "\"ab/cd+e=\"");  // header.b is base64
  EXPECT_EQ(auth_value(""), "\"\"");
  EXPECT_EQ(auth_value("back\\slash"), "\"back\\\\slash\"");
}

// Nothing a sender controls may end the field or open a new one.
TEST(AuthenticationResults, ControlCharactersAreDropped) {
  AuthenticationResults ar{"mx.example.org",
                           {spf_method("pass", "a@example.com\r\nX-Injected: yes"),
                            AuthMethodResult{"dkim", "fail", "bad (sig)\r\n", "body hash\nmismatch", {}}}};
  auto field = format_authentication_results(ar);
  EXPECT_EQ(field.find("\r\nX-Injected"), std::string::npos);
  for (const auto& line : lines_of(field)) {
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\r'), std::string::npos);
  }
  EXPECT_NE(field.find("(bad \\(sig\\))"), std::string::npos);
  EXPECT_NE(field.find("reason=\"body hashmismatch\""), std::string::npos);
  EXPECT_NE(field.find("smtp.mailfrom=\"a@example.comX-Injected: yes\""), std::string::npos);
}

TEST(AuthenticationResults, FoldsAt78Columns) {
  std::vector<AuthMethodResult> results;
  for (int i = 0; i < 3; ++i)
    results.push_back(dkim_method(i == 1 ? "fail" : "pass", "a-rather-long-signing-domain-name.example.com",
                                  "selector-2026-11", "abcdefghijkl"));
  results.push_back(AuthMethodResult{"dmarc", "fail",
                                     "a comment that goes on for quite a few words so that it has to be folded "
                                     "somewhere in the middle",
                                     "", {{"header", "from", "a-rather-long-signing-domain-name.example.com"}}});
  auto field = format_authentication_results({"mx.example.org", results});
  auto lines = lines_of(field);
  ASSERT_GT(lines.size(), 5u);
  for (const auto& line : lines) EXPECT_LE(line.size(), 78u) << line;
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i][0], '\t');
  // Unfolding (RFC 5322 §2.2.3) gives back single-line text; the fold's
  // TAB stands where a space was.
  std::string unfolded;
  for (const auto& l : lines) unfolded += l;
  for (char& c : unfolded) c = c == '\t' ? ' ' : c;
  EXPECT_NE(unfolded.find("(a comment that goes on"), std::string::npos);
  EXPECT_NE(unfolded.find("in the middle) header.from="), std::string::npos);
}

TEST(AuthenticationResults, AuthservIdOf) {
  EXPECT_EQ(authserv_id_of(" mx.example.org; spf=pass"), "mx.example.org");
  EXPECT_EQ(authserv_id_of(" (comment (nested)) \r\n\tmx.example.org 1; none"), "mx.example.org");
  EXPECT_EQ(authserv_id_of(" \"mx.example.org\"; none"), "mx.example.org");
  EXPECT_EQ(authserv_id_of("mx.example.org;"), "mx.example.org");
  EXPECT_FALSE(authserv_id_of(" ; spf=pass"));
  EXPECT_FALSE(authserv_id_of(" (unterminated"));
  EXPECT_FALSE(authserv_id_of(""));
  EXPECT_FALSE(authserv_id_of(" \"open"));
}

constexpr std::string_view kHeader =
    "Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n"
    "\tby mx.example.org with ESMTPS id 4abc; Mon, 23 Nov 2026 08:00:00 +0000\r\n"
    "Authentication-Results: MX.Example.ORG; spf=pass smtp.mailfrom=example.com\r\n"
    "Authentication-Results: other.example.net;\r\n"
    "\tdkim=pass header.d=example.com\r\n"
    "authentication-results: (forged by the sender)\r\n"
    " mx.example.org;\r\n"
    "\tdkim=pass header.d=bank.example\r\n"
    "X-Authentication-Results: mx.example.org; none\r\n"
    "Authentication-Results: mx.example.org.evil; none\r\n"
    "Authentication-Results : \"mx.example.org\"; dmarc=pass\r\n"
    "Subject: Authentication-Results: mx.example.org; none\r\n"
    "From: Alice <alice@example.com>\r\n"
    "\r\n"
    "Authentication-Results: mx.example.org; none\r\n";

TEST(AuthenticationResults, FindsOnlyOursInTheHeader) {
  auto ranges = find_authentication_results(kHeader, "mx.example.org");
  ASSERT_EQ(ranges.size(), 3u);
  auto field = [&](std::size_t i) { return kHeader.substr(ranges[i].begin, ranges[i].end - ranges[i].begin); };
  EXPECT_EQ(field(0), "Authentication-Results: MX.Example.ORG; spf=pass smtp.mailfrom=example.com\r\n");
  EXPECT_EQ(field(1),
            "authentication-results: (forged by the sender)\r\n mx.example.org;\r\n\tdkim=pass header.d=bank.example\r\n");
  EXPECT_EQ(field(2), "Authentication-Results : \"mx.example.org\"; dmarc=pass\r\n");
}

TEST(AuthenticationResults, RemoveKeepsEverythingElse) {
  std::string out = remove_authentication_results(kHeader, "mx.example.org");
  EXPECT_EQ(out,
            "Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n"
            "\tby mx.example.org with ESMTPS id 4abc; Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            "Authentication-Results: other.example.net;\r\n"
            "\tdkim=pass header.d=example.com\r\n"
            "X-Authentication-Results: mx.example.org; none\r\n"
            "Authentication-Results: mx.example.org.evil; none\r\n"
            "Subject: Authentication-Results: mx.example.org; none\r\n"
            "From: Alice <alice@example.com>\r\n"
            "\r\n"
            "Authentication-Results: mx.example.org; none\r\n");
  EXPECT_EQ(remove_authentication_results(out, "mx.example.org"), out);
}

TEST(AuthenticationResults, LfLineEndsAndLastFieldWithoutNewline) {
  std::string_view h = "A: b\nAuthentication-Results: mx.test; none\n continued\nAuthentication-Results: mx.test;";
  EXPECT_EQ(remove_authentication_results(h, "mx.test"), "A: b\n");
}

// What we write is what we later recognise as ours.
TEST(AuthenticationResults, RoundTrip) {
  auto field = format_authentication_results({"mx.example.org", {spf_method("fail", "x@y.test")}});
  auto ranges = find_authentication_results(field + "\r\n", "mx.example.org");
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], (HeaderRange{0, field.size()}));
}

}  // namespace
}  // namespace tern
