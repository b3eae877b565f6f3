// RFC 2045 §6.7 quoted-printable: the encoder's line rules (76 octets, soft
// breaks, "=" and trailing whitespace escaped, CRLF kept as a hard break) and
// exact round trips through the strict decoder.
#include "formats/quoted_printable.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace tern {
namespace {

// Every encoded line: at most 76 octets, no whitespace at its end, only
// CRLF line ends, and nothing but printable ASCII.
void expect_well_formed(const std::string& encoded) {
  std::size_t start = 0;
  while (start < encoded.size()) {
    auto end = encoded.find("\r\n", start);
    if (end == std::string::npos) end = encoded.size();
    const std::string line = encoded.substr(start, end - start);
    EXPECT_LE(line.size(), 76u) << line;
    if (!line.empty()) {
      EXPECT_TRUE(line.back() != ' ' && line.back() != '\t') << line;
    }
    EXPECT_FALSE(line == ".") << "a lone dot line";
    for (unsigned char c : line) EXPECT_TRUE((c >= 33 && c <= 126) || c == ' ' || c == '\t') << int(c);
    start = end + 2;
  }
}

void expect_round_trip(const std::string& data) {
  const std::string encoded = qp_encode(data);
  expect_well_formed(encoded);
  auto decoded = qp_decode(encoded);
  ASSERT_TRUE(decoded) << encoded;
  EXPECT_EQ(*decoded, data) << encoded;
}

TEST(QuotedPrintable, PlainTextIsUnchanged) {
  EXPECT_EQ(qp_encode(""), "");
  EXPECT_EQ(qp_encode("Hello, world!\r\nSecond line\r\n"), "Hello, world!\r\nSecond line\r\n");
  EXPECT_EQ(qp_encode("no final line break"), "no final line break");
}

TEST(QuotedPrintable, EqualsSignIsEscaped) {
  EXPECT_EQ(qp_encode("a=b"), "a=3Db");
  EXPECT_EQ(qp_encode("=\r\n=="), "=3D\r\n=3D=3D");
  expect_round_trip("=");
  expect_round_trip("=3D is not a literal");
}

TEST(QuotedPrintable, NonAsciiIsEscapedInUpperCaseHex) {
  EXPECT_EQ(qp_encode("caf\xc3\xa9"), "caf=C3=A9");
  EXPECT_EQ(qp_encode("\xe4\xbd\xa0\xe5\xa5\xbd"), "=E4=BD=A0=E5=A5=BD");
}

// Rule 3: whitespace at the end of a line would be stripped in transport.
TEST(QuotedPrintable, TrailingWhitespaceIsEncoded) {
  EXPECT_EQ(qp_encode("a \r\nb"), "a=20\r\nb");
  EXPECT_EQ(qp_encode("a\t\r\n"), "a=09\r\n");
  EXPECT_EQ(qp_encode("end  "), "end =20");
  EXPECT_EQ(qp_encode("in the middle"), "in the middle");
  EXPECT_EQ(qp_encode(" "), "=20");
  expect_round_trip("trailing   \r\n\t\r\n \r\n");
}

// Rule 4: CRLF is the line break; a lone CR or LF is data.
TEST(QuotedPrintable, LoneCrAndLfAreData) {
  EXPECT_EQ(qp_encode("a\nb\rc"), "a=0Ab=0Dc");
  EXPECT_EQ(qp_encode("a\r\r\nb"), "a=0D\r\nb");
  expect_round_trip("\n\r\n\r\r\n\n");
}

TEST(QuotedPrintable, LongLinesGetSoftBreaks) {
  EXPECT_EQ(qp_encode(std::string(76, 'a')), std::string(76, 'a'));  // exactly fits
  EXPECT_EQ(qp_encode(std::string(77, 'a')), std::string(75, 'a') + "=\r\naa");
  EXPECT_EQ(qp_encode(std::string(76, 'a') + "\r\n"), std::string(76, 'a') + "\r\n");
  expect_round_trip(std::string(1000, 'x'));
  expect_round_trip(std::string(300, '='));  // an escape is never split across lines
  expect_round_trip(std::string(200, ' ') + "x");
  std::string utf8;
  for (int i = 0; i < 100; ++i) utf8 += "\xe4\xbd\xa0";
  expect_round_trip(utf8);
}

TEST(QuotedPrintable, EscapeNeverSplitAtTheEdge) {
  // 74 literal octets, then "=": the escape needs three, so it moves on.
  EXPECT_EQ(qp_encode(std::string(74, 'a') + "=b"), std::string(74, 'a') + "=\r\n=3Db");
  // ... but as the last octet of the text line it may use the whole line.
  EXPECT_EQ(qp_encode(std::string(73, 'a') + "="), std::string(73, 'a') + "=3D");
}

// A line that is only "." ends the SMTP DATA if a relay forgets to stuff it.
TEST(QuotedPrintable, LoneDotsAndFromAreEscaped) {
  EXPECT_EQ(qp_encode(".\r\n"), "=2E\r\n");
  EXPECT_EQ(qp_encode("a\r\n.\r\nb"), "a\r\n=2E\r\nb");
  EXPECT_EQ(qp_encode("a.b"), "a.b");
  EXPECT_EQ(qp_encode("From here\r\n"), "=46rom here\r\n");
  EXPECT_EQ(qp_encode("Fromage"), "Fromage");
  // A soft break must not leave a dot at the start of the next line either.
  std::string text = std::string(75, 'a') + ".";
  text += "b";
  const std::string encoded = qp_encode(text);
  EXPECT_EQ(encoded, std::string(75, 'a') + "=\r\n=2Eb");
  expect_round_trip(text);
  expect_round_trip(".\r\n..\r\n.");
}

TEST(QuotedPrintable, RoundTripsArbitraryBytes) {
  std::uint64_t x = 42;
  for (int n = 0; n < 300; ++n) {
    std::string data;
    for (int i = 0; i < n * 7; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      // Weighted towards the interesting octets.
      static constexpr char pick[] = {' ', '\t', '\r', '\n', '=', '.', 'F', 'a', '\0', '\xff'};
      data += (x >> 60) < 10 ? pick[x >> 60] : static_cast<char>(x >> 33);
    }
    expect_round_trip(data);
  }
}

TEST(QuotedPrintableDecode, AcceptsWhatRfc2045Allows) {
  EXPECT_EQ(qp_decode("caf=c3=a9"), "caf\xc3\xa9");  // lower-case hex
  EXPECT_EQ(qp_decode("soft=\r\nbreak"), "softbreak");
  EXPECT_EQ(qp_decode("padding= \t\r\nafter"), "paddingafter");
  EXPECT_EQ(qp_decode("trailing   \r\nspace"), "trailing\r\nspace");
  EXPECT_EQ(qp_decode("last="), "last");
  EXPECT_EQ(qp_decode(""), "");
}

TEST(QuotedPrintableDecode, RefusesMalformedInput) {
  EXPECT_FALSE(qp_decode("=G1"));
  EXPECT_FALSE(qp_decode("=4"));
  EXPECT_FALSE(qp_decode("a=4\r\n"));
  EXPECT_FALSE(qp_decode("bare\nlf"));
  EXPECT_FALSE(qp_decode("bare\rcr"));
}

}  // namespace
}  // namespace tern
