// DKIM canonicalization (RFC 6376 §3.4): the RFC's own examples, the edge
// cases of each rule, the body fed in every chunk size, header parsing, and
// which fields an h= list selects.
#include "services/dkim/dkim_canon.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::dkim {
namespace {

std::string header_block_canon(Canon c, std::string_view block) {
  std::string out;
  for (const auto& f : parse_message(block).fields) out += canonicalize_header(c, f.text);
  return out;
}

// RFC 6376 §3.4.5, "Canonicalization Examples".
constexpr std::string_view example_header = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n";
constexpr std::string_view example_body = " C \r\nD \t E\r\n\r\n\r\n";

TEST(DkimCanon, Rfc6376ExampleHeadersRelaxed) {
  EXPECT_EQ(header_block_canon(Canon::relaxed, example_header), "a:X\r\nb:Y Z\r\n");
}

TEST(DkimCanon, Rfc6376ExampleHeadersSimple) {
  EXPECT_EQ(header_block_canon(Canon::simple, example_header), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
}

TEST(DkimCanon, Rfc6376ExampleBodyRelaxed) {
  EXPECT_EQ(canonicalize_body(Canon::relaxed, example_body), " C\r\nD E\r\n");
}

TEST(DkimCanon, Rfc6376ExampleBodySimple) {
  EXPECT_EQ(canonicalize_body(Canon::simple, example_body), " C \r\nD \t E\r\n");
}

TEST(DkimCanon, EmptyBody) {
  // §3.4.3: "a completely empty or missing body is canonicalized as a single
  // CRLF"; §3.4.4: relaxed adds a CRLF only to a non-empty body.
  EXPECT_EQ(canonicalize_body(Canon::simple, ""), "\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, ""), "");
  EXPECT_EQ(canonicalize_body(Canon::simple, "\r\n\r\n\r\n"), "\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "\r\n\r\n\r\n"), "");
  // Lines of only white space become empty, and trailing empty lines go.
  EXPECT_EQ(canonicalize_body(Canon::relaxed, " \t\r\n  \r\n"), "");
  EXPECT_EQ(canonicalize_body(Canon::simple, " \t\r\n  \r\n"), " \t\r\n  \r\n");
}

TEST(DkimCanon, BodyWithoutFinalCrlfGetsOne) {
  EXPECT_EQ(canonicalize_body(Canon::simple, "abc"), "abc\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "abc"), "abc\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "abc \t "), "abc\r\n");
  EXPECT_EQ(canonicalize_body(Canon::simple, "abc \t "), "abc \t \r\n");
}

TEST(DkimCanon, TrailingEmptyLinesGoInnerOnesStay) {
  std::string_view body = "a\r\n\r\n\r\nb\r\n\r\n";
  EXPECT_EQ(canonicalize_body(Canon::simple, body), "a\r\n\r\n\r\nb\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, body), "a\r\n\r\n\r\nb\r\n");
}

TEST(DkimCanon, RelaxedBodyWhitespace) {
  // Leading white space shrinks to one SP but stays; trailing goes.
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "\t\t x  y\t\tz \r\n"), " x y z\r\n");
  // An empty-looking line in the middle keeps its line end.
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "a\r\n   \r\nb\r\n"), "a\r\n\r\nb\r\n");
  // Only SP and HTAB are WSP: a vertical tab or a NBSP byte is content.
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "a\v \xa0 b\r\n"), "a\v \xa0 b\r\n");
}

TEST(DkimCanon, BareCrAndLfAreContent) {
  // Only CRLF ends a line (the signer converts bare ones first, §5.3).
  EXPECT_EQ(canonicalize_body(Canon::simple, "a\nb\r"), "a\nb\r\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "a \n b\r"), "a \n b\r\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "a\r\r\n"), "a\r\r\n");
  EXPECT_EQ(canonicalize_body(Canon::relaxed, "\r\r\n\r\n"), "\r\r\n");
  EXPECT_EQ(canonicalize_body(Canon::simple, "x\n\n"), "x\n\n\r\n");
}

TEST(DkimCanon, EightBitBytesPassThrough) {
  std::string body = "caf\xc3\xa9 \xe2\x82\xac\r\n";
  body += '\0';
  body += "z\r\n";
  EXPECT_EQ(canonicalize_body(Canon::relaxed, body), body);
  EXPECT_EQ(canonicalize_body(Canon::simple, body), body);
}

// The streaming canonicalizer must not care where the input is cut.
std::string canon_in_chunks(Canon c, std::string_view in, std::size_t chunk) {
  BodyCanonicalizer b(c);
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += chunk) b.feed(in.substr(i, chunk), out);
  b.finish(out);
  return out;
}

const std::vector<std::string> tricky_bodies = {
    "",
    "\r\n",
    "\r",
    "\n",
    " ",
    "abc",
    std::string(example_body),
    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n",
    "a \t \r\n \r\n\t\r\n\r\n",
    "x\r\r\n\r\r\r\n \r \n\r\n",
    "line one   \r\n  line two\t\r\n\r\n  \r\nlast  ",
    "no newline at all, just   spaces   ",
    std::string(3000, ' ') + "\r\n" + std::string(3000, 'x') + std::string(100, '\t'),
};

TEST(DkimCanon, BodyInEveryChunkSizeMatchesWhole) {
  for (Canon c : {Canon::simple, Canon::relaxed}) {
    for (const auto& body : tricky_bodies) {
      std::string whole = canonicalize_body(c, body);
      for (std::size_t chunk : {1, 2, 3, 7, 64}) {
        EXPECT_EQ(canon_in_chunks(c, body, chunk), whole)
            << to_string(c) << " chunk " << chunk << " body " << ::testing::PrintToString(body);
      }
    }
  }
}

TEST(DkimCanon, BodyCutAtEveryPointMatchesWhole) {
  for (Canon c : {Canon::simple, Canon::relaxed}) {
    for (const auto& body : tricky_bodies) {
      if (body.size() > 100) continue;
      std::string whole = canonicalize_body(c, body);
      for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        BodyCanonicalizer b(c);
        std::string out;
        b.feed(std::string_view(body).substr(0, cut), out);
        b.feed("", out);
        b.feed(std::string_view(body).substr(cut), out);
        b.finish(out);
        EXPECT_EQ(out, whole) << to_string(c) << " cut " << cut << " body " << ::testing::PrintToString(body);
      }
    }
  }
}

TEST(DkimCanon, FinishTwiceAndFeedAfterFinishAddNothing) {
  BodyCanonicalizer b(Canon::simple);
  std::string out;
  b.feed("a", out);
  b.finish(out);
  b.finish(out);
  b.feed("more", out);
  EXPECT_EQ(out, "a\r\n");
}

TEST(DkimCanon, RelaxedHeaderRules) {
  // Name lower-cased, value case kept.
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "SUBJect: AbC"), "subject:AbC\r\n");
  // WSP around the colon goes, runs inside shrink, trailing goes.
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "Subject \t:  a \t b  "), "subject:a b\r\n");
  // Unfolding: the fold's CRLF goes and the WSP on both sides of it become one SP.
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "To: a@b, \r\n\tc@d,\r\n  e@f"), "to:a@b, c@d, e@f\r\n");
  // A value that is only white space, folded.
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "X-Empty:  \r\n  "), "x-empty:\r\n");
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "X-Empty:"), "x-empty:\r\n");
  // Only the first colon separates; later ones are value.
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "Date: Fri, 11 Jul 2003 21:00:37 -0700"),
            "date:Fri, 11 Jul 2003 21:00:37 -0700\r\n");
  // 8-bit value bytes are kept as they are.
  EXPECT_EQ(canonicalize_header(Canon::relaxed, "Subject: caf\xc3\xa9"), "subject:caf\xc3\xa9\r\n");
}

TEST(DkimCanon, SimpleHeaderIsVerbatim) {
  EXPECT_EQ(canonicalize_header(Canon::simple, "SUBJect :  A \r\n\tB "), "SUBJect :  A \r\n\tB \r\n");
}

TEST(DkimCanon, ParseMessageFieldsAndBody) {
  auto m = parse_message(
      "From: a@b\r\n"
      "Subject: one\r\n"
      " two\r\n"
      "\tthree\r\n"
      "X-Spaced  : v\r\n"
      "\r\n"
      "body line\r\n"
      "\r\n"
      "Not: a header\r\n");
  ASSERT_EQ(m.fields.size(), 3u);
  EXPECT_EQ(m.fields[0].name, "From");
  EXPECT_EQ(m.fields[0].text, "From: a@b");
  EXPECT_EQ(m.fields[1].name, "Subject");
  EXPECT_EQ(m.fields[1].text, "Subject: one\r\n two\r\n\tthree");
  EXPECT_EQ(m.fields[2].name, "X-Spaced");
  EXPECT_EQ(m.body, "body line\r\n\r\nNot: a header\r\n");
  EXPECT_EQ(m.header_size, 56u);
}

TEST(DkimCanon, ParseMessageEdges) {
  // No empty line: all header, no body.
  auto m = parse_message("From: a@b\r\nTo: c@d");
  ASSERT_EQ(m.fields.size(), 2u);
  EXPECT_EQ(m.fields[1].text, "To: c@d");
  EXPECT_EQ(m.body, "");
  // Empty header: the body starts after the first CRLF.
  m = parse_message("\r\nbody");
  EXPECT_TRUE(m.fields.empty());
  EXPECT_EQ(m.body, "body");
  // A line without a colon is a field nobody can select.
  m = parse_message("garbage line\r\nFrom: x\r\n\r\n");
  ASSERT_EQ(m.fields.size(), 2u);
  EXPECT_EQ(m.fields[0].name, "");
  // A continuation with nothing above it stands alone.
  m = parse_message(" lead: x\r\nFrom: y\r\n\r\n");
  ASSERT_EQ(m.fields.size(), 2u);
  EXPECT_EQ(m.fields[0].name, " lead");
  // A bare LF does not end a line.
  m = parse_message("From: a\nTo: b\r\n\r\nx");
  ASSERT_EQ(m.fields.size(), 1u);
  EXPECT_EQ(m.fields[0].text, "From: a\nTo: b");
  EXPECT_TRUE(parse_message("").fields.empty());
}

TEST(DkimCanon, ToCrlf) {
  EXPECT_EQ(to_crlf("a\nb\r\nc\rd\n\n"), "a\r\nb\r\nc\r\nd\r\n\r\n");
  EXPECT_EQ(to_crlf("\r\r\n\n\r"), "\r\n\r\n\r\n\r\n");
  EXPECT_EQ(to_crlf("no line end"), "no line end");
}

TEST(DkimCanon, SelectFieldsBottomUpAndMissingOnesEmpty) {
  auto m = parse_message(
      "Received: r1\r\n"
      "From: first\r\n"
      "Received: r2\r\n"
      "to: t\r\n"
      "\r\n");
  std::vector<std::string> h = {"received", "From", "Received", "received", "TO", "cc", "from"};
  auto sel = select_fields(m.fields, h);
  ASSERT_EQ(sel.size(), 4u);
  EXPECT_EQ(sel[0]->text, "Received: r2");  // §5.4.2: the last instance first
  EXPECT_EQ(sel[1]->text, "From: first");
  EXPECT_EQ(sel[2]->text, "Received: r1");
  EXPECT_EQ(sel[3]->text, "to: t");  // the third "received", "cc" and the second "from" select nothing
}

TEST(DkimCanon, HeaderHashInputLayout) {
  auto m = parse_message("From: A <a@b>\r\nSubject:  Hi \r\n\r\n");
  std::vector<std::string> h = {"from", "subject", "from"};
  std::string sig = "DKIM-Signature: v=1; a=rsa-sha256;\r\n\th=from:subject:from; bh=xyz=;\r\n\tb=";
  EXPECT_EQ(header_hash_input(Canon::relaxed, m.fields, h, sig),
            "from:A <a@b>\r\nsubject:Hi\r\ndkim-signature:v=1; a=rsa-sha256; h=from:subject:from; bh=xyz=; b=");
  EXPECT_EQ(header_hash_input(Canon::simple, m.fields, h, sig),
            "From: A <a@b>\r\nSubject:  Hi \r\n" + sig);
}

}  // namespace
}  // namespace tern::dkim
