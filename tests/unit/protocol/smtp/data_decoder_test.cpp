// DataDecoder on its own: RFC 5321 §4.5.2 dot-unstuffing, the one true end
// <CRLF>.<CRLF>, the smuggling sequences that must not end a message, the
// limits it records, and independence from how the bytes are chunked.
#include "protocol/smtp/data_decoder.hpp"

#include <gtest/gtest.h>

namespace tern::smtp {
namespace {

struct Decoded {
  std::string out;
  std::size_t consumed = 0;
  bool done = false;
  bool bare = false;
  bool too_long = false;
  unsigned received = 0;
  bool too_many_hops = false;
};

// Feeds input in pieces of `chunk` octets (0: all at once), as the session
// does: stops feeding once the end is found.
Decoded decode(std::string_view input, std::size_t chunk = 0, std::size_t max_line = 1000, unsigned max_received = 50) {
  DataDecoder d(max_line, max_received);
  Decoded r;
  std::size_t step = chunk == 0 ? std::max<std::size_t>(input.size(), 1) : chunk;
  for (std::size_t pos = 0; pos < input.size() && !d.done(); pos += step) {
    auto piece = input.substr(pos, step);
    std::size_t used = d.feed(piece, r.out);
    r.consumed += used;
    if (used < piece.size()) {
      EXPECT_TRUE(d.done()) << "stopped early without an end";
    }
  }
  r.done = d.done();
  r.bare = d.saw_bare_newline();
  r.too_long = d.line_too_long();
  r.received = d.received_headers();
  r.too_many_hops = d.too_many_hops();
  return r;
}

TEST(DataDecoder, PlainMessageEndsAtCrlfDotCrlf) {
  auto r = decode("Subject: hi\r\n\r\nbody\r\n.\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.out, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_FALSE(r.bare);
  EXPECT_FALSE(r.too_long);
}

// The CRLF that ended the DATA command counts as the first line end, so a
// "." right away is an empty message.
TEST(DataDecoder, DotAtTheVeryStartIsAnEmptyMessage) {
  auto r = decode(".\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.consumed, 3u);
}

TEST(DataDecoder, DotUnstuffing) {
  auto r = decode("..x\r\n..\r\n...\r\na.b\r\n .\r\n.\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.out, ".x\r\n.\r\n..\r\na.b\r\n .\r\n");
}

TEST(DataDecoder, DotLinesThatAreNotTheEnd) {
  // ". " and ".x" are stuffed lines, not the end.
  auto r = decode(". \r\n.x\r\n");
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.out, " \r\nx\r\n");
}

TEST(DataDecoder, BytesAfterTheEndAreNotConsumed) {
  std::string input = "hello\r\n.\r\nQUIT\r\n";
  for (std::size_t chunk : {0, 1, 2, 3, 7}) {
    auto r = decode(input, chunk);
    EXPECT_TRUE(r.done) << chunk;
    EXPECT_EQ(r.consumed, input.size() - 6) << chunk;
    EXPECT_EQ(r.out, "hello\r\n") << chunk;
  }
  DataDecoder d;
  std::string out;
  EXPECT_EQ(d.feed(input, out), 10u);
  // Once done, it takes nothing more.
  EXPECT_EQ(d.feed("more\r\n", out), 0u);
  EXPECT_EQ(out, "hello\r\n");
}

TEST(DataDecoder, EndSplitAcrossFeeds) {
  DataDecoder d;
  std::string out;
  EXPECT_EQ(d.feed("line\r", out), 5u);
  EXPECT_EQ(d.feed("\n.", out), 2u);
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.feed("\r", out), 1u);
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.feed("\nafter", out), 1u);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, "line\r\n");
}

// SMTP smuggling: each of these must neither end the message nor pass
// silently; saw_bare_newline() makes the session refuse it at the real end.
struct Sequence {
  const char* name;
  std::string_view bytes;
};
void PrintTo(const Sequence& s, std::ostream* os) { *os << s.name; }
class DataDecoderSmuggling : public ::testing::TestWithParam<Sequence> {};

TEST_P(DataDecoderSmuggling, DoesNotEndAndIsFlagged) {
  std::string input = "text" + std::string(GetParam().bytes) + "MAIL FROM:<x@y>\r\n";
  for (std::size_t chunk : {0, 1, 2, 3, 7}) {
    auto r = decode(input, chunk);
    EXPECT_FALSE(r.done) << "chunk " << chunk;
    EXPECT_EQ(r.consumed, input.size()) << "chunk " << chunk;
    EXPECT_TRUE(r.bare) << "chunk " << chunk;
  }
  // And the real end still works afterwards.
  auto r = decode(input + ".\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(r.bare);
}

INSTANTIATE_TEST_SUITE_P(Sequences, DataDecoderSmuggling,
                         ::testing::Values(Sequence{"LF_dot_LF", "\n.\n"}, Sequence{"LF_dot_CRLF", "\n.\r\n"},
                                           Sequence{"CR_dot_CR", "\r.\r"}, Sequence{"CRLF_dot_LF", "\r\n.\n"},
                                           Sequence{"CRLF_dot_CR", "\r\n.\r"}, Sequence{"CR_dot_CRLF", "\r.\r\n"},
                                           Sequence{"CRLF_dot_CR_x", "\r\n.\rx"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(DataDecoder, BareCrAndLfAreDataAndFlagged) {
  auto lf = decode("a\nb\r\n.\r\n");
  EXPECT_TRUE(lf.done);
  EXPECT_TRUE(lf.bare);
  EXPECT_EQ(lf.out, "a\nb\r\n");
  auto cr = decode("a\rb\r\n.\r\n");
  EXPECT_TRUE(cr.done);
  EXPECT_TRUE(cr.bare);
  EXPECT_EQ(cr.out, "a\rb\r\n");
  auto crcr = decode("a\r\r\n.\r\n");
  EXPECT_TRUE(crcr.done);
  EXPECT_TRUE(crcr.bare);
  EXPECT_EQ(crcr.out, "a\r\r\n");
}

// RFC 5321 §4.5.3.1.6: 1000 octets with the CRLF, "not counting the leading
// dot duplicated for transparency".
TEST(DataDecoder, LineLengthLimit) {
  EXPECT_FALSE(decode(std::string(998, 'x') + "\r\n.\r\n").too_long);
  EXPECT_TRUE(decode(std::string(999, 'x') + "\r\n.\r\n").too_long);
  EXPECT_FALSE(decode(".." + std::string(997, 'x') + "\r\n.\r\n").too_long);  // stuffed ".xxx" of 998
  EXPECT_TRUE(decode(".." + std::string(998, 'x') + "\r\n.\r\n").too_long);
  EXPECT_FALSE(decode("." + std::string(998, 'x') + "\r\n.\r\n").too_long);  // the dot is removed
  // Only the line itself: many short lines are fine.
  std::string many;
  for (int i = 0; i < 1000; ++i) many += std::string(900, 'y') + "\r\n";
  EXPECT_FALSE(decode(many + ".\r\n").too_long);
  EXPECT_TRUE(decode(std::string(998, 'x') + "\r\n.\r\n", 0, 999).too_long);
}

TEST(DataDecoder, LineLengthLimitIsChunkIndependent) {
  std::string input = std::string(500, 'a') + "\r\n" + std::string(999, 'b') + "\r\n.\r\n";
  for (std::size_t chunk : {1, 2, 3, 7, 64, 0}) EXPECT_TRUE(decode(input, chunk).too_long) << chunk;
}

// RFC 5321 §6.3 loop detection counts Received: header fields, in the header
// section only, in any letter case.
TEST(DataDecoder, ReceivedHeadersAreCounted) {
  std::string headers = "Received: from a\r\n\tby b\r\nRECEIVED: from c\r\nreceived:from d\r\nX-Received: no\r\n"
                        " Received: folded, not a field\r\nSubject: s\r\n\r\nReceived: in the body\r\n.\r\n";
  for (std::size_t chunk : {1, 2, 3, 7, 64, 0}) {
    auto r = decode(headers, chunk);
    EXPECT_EQ(r.received, 3u) << chunk;
  }
  EXPECT_FALSE(decode(headers, 0, 1000, 3).too_many_hops);
  EXPECT_TRUE(decode(headers, 0, 1000, 2).too_many_hops);
}

TEST(DataDecoder, ChunkSizeIndependence) {
  const std::string input =
      "Received: from x\r\nSubject: t\r\n\r\n..dot\r\nbare\nlf\r\nbare\rcr\r\n.\r\r\n" + std::string(1200, 'z') +
      "\r\n\r\n..\r\n.\r\nleftover";
  auto whole = decode(input);
  ASSERT_TRUE(whole.done);
  for (std::size_t chunk = 1; chunk <= 70; ++chunk) {
    auto r = decode(input, chunk);
    ASSERT_EQ(r.out, whole.out) << chunk;
    ASSERT_EQ(r.consumed, whole.consumed) << chunk;
    ASSERT_EQ(r.bare, whole.bare) << chunk;
    ASSERT_EQ(r.too_long, whole.too_long) << chunk;
    ASSERT_EQ(r.received, whole.received) << chunk;
  }
  EXPECT_EQ(whole.consumed, input.size() - std::string("leftover").size());
}

TEST(DataDecoder, OutputIsNeverLongerThanInput) {
  for (std::string_view s : {"..\r\n", ".\r.\r", "\r\r\r\r", ".\r\n", "x\r\n.\rq"}) {
    auto r = decode(s);
    EXPECT_LE(r.out.size(), r.consumed) << s;
  }
}

}  // namespace
}  // namespace tern::smtp
