// ReplyParser: RFC 5321 §4.2 reply syntax, RFC 3463/2034 enhanced codes, the
// limits, and malformed input as error values. Every stream is also parsed in
// chunks of 1, 2, 3, 7 and 64 octets and must give the same replies.
#include "protocol/smtp/reply_parser.hpp"

#include <gtest/gtest.h>

namespace tern::smtp {
namespace {

struct Parsed {
  std::vector<Reply> replies;
  std::optional<std::string> error;
  bool mid_reply = false;
};

Parsed parse_all(std::string_view stream, std::size_t chunk = 0, ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  Parsed p;
  std::size_t step = chunk == 0 ? std::max<std::size_t>(stream.size(), 1) : chunk;
  for (std::size_t pos = 0; pos < stream.size() && !p.error; pos += step) {
    std::string_view piece = stream.substr(pos, step);
    while (!piece.empty()) {
      auto r = parser.parse(piece);
      if (!r) {
        p.error = r.error().reason;
        EXPECT_TRUE(parser.failed());
        break;
      }
      if (!*r) {
        EXPECT_TRUE(piece.empty()) << "need-more with bytes left";
        break;
      }
      p.replies.push_back(std::move(**r));
    }
  }
  p.mid_reply = parser.mid_reply();
  return p;
}

std::string wire(const std::vector<Reply>& replies) {
  std::string out;
  for (const auto& r : replies) r.render(out, true);
  return out;
}

// Parses in every chunking, checks they agree, returns the whole-input parse.
Parsed parse_every_way(std::string_view stream, ReplyLimits limits = {}) {
  Parsed whole = parse_all(stream, 0, limits);
  for (std::size_t c : {1, 2, 3, 7, 64}) {
    Parsed p = parse_all(stream, c, limits);
    EXPECT_EQ(wire(p.replies), wire(whole.replies)) << "chunk " << c;
    EXPECT_EQ(p.error.has_value(), whole.error.has_value()) << "chunk " << c;
    EXPECT_EQ(p.mid_reply, whole.mid_reply) << "chunk " << c;
  }
  return whole;
}

TEST(ReplyParser, SingleLine) {
  auto p = parse_every_way("220 mx.example.test ESMTP ready\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].code, 220);
  EXPECT_EQ(p.replies[0].enhanced, "");
  EXPECT_EQ(p.replies[0].lines, std::vector<std::string>{"mx.example.test ESMTP ready"});
  EXPECT_FALSE(p.error);
  EXPECT_FALSE(p.mid_reply);
}

TEST(ReplyParser, MultiLineEhlo) {
  auto p = parse_every_way(
      "250-mx.example.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].code, 250);
  EXPECT_EQ(p.replies[0].lines,
            (std::vector<std::string>{"mx.example.test Hello", "PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN",
                                      "8BITMIME"}));
}

TEST(ReplyParser, EnhancedCodeOnEveryLineIsKeptOnce) {
  auto p = parse_every_way("550-5.1.1 The email account that you tried to reach\r\n550 5.1.1 does not exist.\r\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].code, 550);
  EXPECT_EQ(p.replies[0].enhanced, "5.1.1");
  EXPECT_EQ(p.replies[0].lines,
            (std::vector<std::string>{"The email account that you tried to reach", "does not exist."}));
  EXPECT_EQ(reply_summary(p.replies[0]), "550 5.1.1 The email account that you tried to reach does not exist.");
}

TEST(ReplyParser, EnhancedCodeForms) {
  EXPECT_EQ(enhanced_code_length("2.1.0 Ok", 250), 5u);
  EXPECT_EQ(enhanced_code_length("2.1.0", 250), 5u);
  EXPECT_EQ(enhanced_code_length("4.7.123 later", 451), 7u);
  EXPECT_EQ(enhanced_code_length("5.123.456 x", 554), 9u);
  EXPECT_EQ(enhanced_code_length("5.1.1 x", 250), 0u);    // class must match the reply
  EXPECT_EQ(enhanced_code_length("3.0.0 x", 354), 0u);    // there is no class 3
  EXPECT_EQ(enhanced_code_length("2.1.0Ok", 250), 0u);
  EXPECT_EQ(enhanced_code_length("2.1234.0 x", 250), 0u);
  EXPECT_EQ(enhanced_code_length("2..0 x", 250), 0u);
  EXPECT_EQ(enhanced_code_length("2.1. x", 250), 0u);
  EXPECT_EQ(enhanced_code_length("Ok", 250), 0u);
  EXPECT_EQ(enhanced_code_length("", 250), 0u);

  auto p = parse_every_way("250 2.0.0\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 5.0.0 odd\r\n");
  ASSERT_EQ(p.replies.size(), 3u);
  EXPECT_EQ(p.replies[0].enhanced, "2.0.0");
  EXPECT_EQ(p.replies[0].lines, std::vector<std::string>{""});
  EXPECT_EQ(p.replies[1].enhanced, "");
  EXPECT_EQ(p.replies[2].enhanced, "");
  EXPECT_EQ(p.replies[2].lines, std::vector<std::string>{"5.0.0 odd"});
}

TEST(ReplyParser, BareCodeAndEmptyText) {
  auto p = parse_every_way("250\r\n250-\r\n250 \r\n");
  ASSERT_EQ(p.replies.size(), 2u);
  EXPECT_EQ(p.replies[0].lines, std::vector<std::string>{""});
  EXPECT_EQ(p.replies[1].lines, (std::vector<std::string>{"", ""}));
}

TEST(ReplyParser, SeveralRepliesInOneRead) {
  // A pipelined group's answers (RFC 2920 §3.1) arrive together.
  auto p = parse_every_way("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <b@x.test>: unknown\r\n354 go\r\n");
  ASSERT_EQ(p.replies.size(), 4u);
  EXPECT_EQ(p.replies[2].code, 550);
  EXPECT_EQ(p.replies[2].lines[0], "<b@x.test>: unknown");
  EXPECT_EQ(p.replies[3].code, 354);
}

TEST(ReplyParser, BareLfIsTolerated) {
  auto p = parse_every_way("250-a\n250 b\n");
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].lines, (std::vector<std::string>{"a", "b"}));
}

TEST(ReplyParser, PartialReplyWaits) {
  auto p = parse_every_way("250-first\r\n250 sec");
  EXPECT_TRUE(p.replies.empty());
  EXPECT_FALSE(p.error);
  EXPECT_TRUE(p.mid_reply);
}

TEST(ReplyParser, MalformedCodes) {
  for (const char* bad : {"abc hello\r\n", "25 short\r\n", "2x0 x\r\n", "150 one\r\n", "650 six\r\n", "250x\r\n",
                          "250+x\r\n", "\r\n", " 250 x\r\n", "25\r\n"}) {
    auto p = parse_every_way(bad);
    EXPECT_TRUE(p.error) << bad;
    EXPECT_TRUE(p.replies.empty()) << bad;
  }
}

TEST(ReplyParser, MixedCodesInOneReply) {
  auto p = parse_every_way("250-a\r\n251 b\r\n");
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->find("mixes"), std::string::npos);
}

TEST(ReplyParser, ErrorIsSticky) {
  ReplyParser parser;
  std::string_view in = "xyz\r\n250 ok\r\n";
  EXPECT_FALSE(parser.parse(in));
  std::string_view more = "250 ok\r\n";
  EXPECT_FALSE(parser.parse(more));
  EXPECT_TRUE(parser.failed());
}

TEST(ReplyParser, LineLengthLimit) {
  ReplyLimits limits;
  // Exactly at the limit (CRLF included) is fine; one more is not.
  std::string ok = "250 " + std::string(limits.max_line - 6, 'x') + "\r\n";
  ASSERT_EQ(ok.size(), limits.max_line);
  auto p = parse_every_way(ok);
  EXPECT_FALSE(p.error);
  ASSERT_EQ(p.replies.size(), 1u);
  auto q = parse_every_way("250 " + std::string(limits.max_line - 5, 'x') + "\r\n");
  EXPECT_TRUE(q.error);
  // A line that never ends is refused once it passes the limit, without
  // waiting for the end (and without buffering it).
  auto r = parse_all("250 " + std::string(100000, 'x'), 7);
  EXPECT_TRUE(r.error);
}

TEST(ReplyParser, LineCountLimit) {
  std::string hundred;
  for (int i = 0; i < 99; ++i) hundred += "250-x\r\n";
  hundred += "250 end\r\n";
  auto p = parse_every_way(hundred);
  EXPECT_FALSE(p.error);
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].lines.size(), 100u);
  auto q = parse_every_way("250-x\r\n" + hundred);
  EXPECT_TRUE(q.error);
  auto endless = std::string();
  for (int i = 0; i < 1000; ++i) endless += "250-x\r\n";
  EXPECT_TRUE(parse_all(endless, 3).error);
}

TEST(ReplyParser, CustomLimits) {
  auto p = parse_every_way("250-a\r\n250-b\r\n250 c\r\n", ReplyLimits{64, 2});
  EXPECT_TRUE(p.error);
  auto q = parse_every_way("250 " + std::string(58, 'x') + "\r\n", ReplyLimits{64, 2});  // 64 octets
  EXPECT_FALSE(q.error);
}

TEST(ReplyParser, RenderRoundTrip) {
  std::string text = "250-mx Hello\r\n250 SIZE 1\r\n550-5.7.1 a\r\n550 5.7.1 b\r\n221 2.0.0 Bye\r\n";
  auto p = parse_every_way(text);
  EXPECT_EQ(wire(p.replies), text);
}

TEST(ReplyParser, ControlAndHighOctetsStayText) {
  auto p = parse_every_way(std::string("250 a\rb\x01\xc3\xa9\r\n"));
  ASSERT_EQ(p.replies.size(), 1u);
  EXPECT_EQ(p.replies[0].lines[0], std::string("a\rb\x01\xc3\xa9"));
}

}  // namespace
}  // namespace tern::smtp
