// DotStuffer: RFC 5321 §4.5.2 transparency on the sending side, the end of
// data, and independence from how the message is chunked. Every case is also
// checked by decoding with the server's DataDecoder, which must give back the
// original message.
#include "protocol/smtp/dot_stuffer.hpp"

#include <gtest/gtest.h>

#include "protocol/smtp/data_decoder.hpp"

namespace tern::smtp {
namespace {

std::string stuff(std::string_view message, std::size_t chunk = 0) {
  DotStuffer s;
  std::string out;
  std::size_t step = chunk == 0 ? std::max<std::size_t>(message.size(), 1) : chunk;
  for (std::size_t pos = 0; pos < message.size(); pos += step) s.feed(message.substr(pos, step), out);
  EXPECT_EQ(s.bytes_in(), message.size());
  s.finish(out);
  return out;
}

// The stuffed stream, decoded the way our server does it.
std::string unstuff(std::string_view wire) {
  DataDecoder d;
  std::string out;
  std::size_t used = d.feed(wire, out);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(used, wire.size()) << "the end of data must be the last thing";
  return out;
}

constexpr std::size_t chunks[] = {1, 2, 3, 7, 64, 0};

TEST(DotStuffer, PlainMessage) {
  EXPECT_EQ(stuff("Subject: hi\r\n\r\nbody\r\n"), "Subject: hi\r\n\r\nbody\r\n.\r\n");
}

TEST(DotStuffer, LeadingDotsAreDoubled) {
  std::string msg = ".hidden\r\nx\r\n.\r\n..two\r\nmid.dle\r\n.";
  std::string want = "..hidden\r\nx\r\n..\r\n...two\r\nmid.dle\r\n..\r\n.\r\n";
  for (std::size_t c : chunks) EXPECT_EQ(stuff(msg, c), want) << "chunk " << c;
  EXPECT_EQ(unstuff(want), msg + "\r\n");
}

// The one sequence that matters most: a line holding only "." inside the
// message must not end it, however the chunks fall around it.
TEST(DotStuffer, LoneDotLineAcrossEveryChunkBoundary) {
  std::string msg = "a\r\n.\r\nMAIL FROM:<evil@example.test>\r\n";
  for (std::size_t c : chunks) {
    std::string wire = stuff(msg, c);
    EXPECT_EQ(wire, "a\r\n..\r\nMAIL FROM:<evil@example.test>\r\n.\r\n") << "chunk " << c;
    EXPECT_EQ(unstuff(wire), msg);
  }
  // Every split point of a two-piece feed.
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    DotStuffer s;
    std::string out;
    s.feed(std::string_view(msg).substr(0, cut), out);
    s.feed(std::string_view(msg).substr(cut), out);
    s.finish(out);
    EXPECT_EQ(out, "a\r\n..\r\nMAIL FROM:<evil@example.test>\r\n.\r\n") << "cut " << cut;
  }
}

TEST(DotStuffer, DotAtTheVeryStart) {
  for (std::size_t c : chunks) EXPECT_EQ(stuff(".\r\n", c), "..\r\n.\r\n");
}

TEST(DotStuffer, MissingFinalCrlfIsAdded) {
  EXPECT_EQ(stuff("no newline"), "no newline\r\n.\r\n");
  EXPECT_EQ(stuff("ends in cr\r"), "ends in cr\r\r\n.\r\n");
  EXPECT_EQ(stuff("ends in lf\n"), "ends in lf\n\r\n.\r\n");
  // Split so the last chunk is a single octet: the CRLF check spans chunks.
  DotStuffer s;
  std::string out;
  s.feed("x\r", out);
  s.feed("\n", out);
  s.finish(out);
  EXPECT_EQ(out, "x\r\n.\r\n");
}

TEST(DotStuffer, EmptyMessageIsJustTheDot) {
  // The CRLF that ended "DATA" starts the data (RFC 5321 §4.1.1.4).
  EXPECT_EQ(stuff(""), ".\r\n");
  DotStuffer s;
  std::string out;
  s.feed("", out);
  s.finish(out);
  EXPECT_EQ(out, ".\r\n");
}

// SMTP smuggling, sending side: a dot after a bare LF or CR is doubled too, so
// no receiver, strict or lenient, sees an end of data before ours.
TEST(DotStuffer, DotAfterBareLineEndsIsDoubled) {
  for (std::size_t c : chunks) {
    EXPECT_EQ(stuff("a\n.\r\nb\r\n", c), "a\n..\r\nb\r\n.\r\n") << c;
    EXPECT_EQ(stuff("a\r.\rb\r\n", c), "a\r..\rb\r\n.\r\n") << c;
  }
}

TEST(DotStuffer, ReusableAfterFinish) {
  DotStuffer s;
  std::string out;
  s.feed("x", out);
  s.finish(out);
  s.feed(".y\r\n", out);
  s.finish(out);
  EXPECT_EQ(out, "x\r\n.\r\n..y\r\n.\r\n");
}

TEST(DotStuffer, LargeMessageRoundTrips) {
  std::string msg;
  for (int i = 0; i < 2000; ++i) msg += (i % 3 == 0 ? "." : "") + std::string(i % 70, 'x') + "\r\n";
  for (std::size_t c : {1, 5, 1000, 0}) EXPECT_EQ(unstuff(stuff(msg, c)), msg) << c;
}

}  // namespace
}  // namespace tern::smtp
