#include "formats/address_list.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

using Addrs = std::vector<std::string>;

TEST(ExtractAddresses, PlainAndNamed) {
  EXPECT_EQ(extract_addresses("a@x.test"), Addrs{"a@x.test"});
  EXPECT_EQ(extract_addresses("Ann <a@x.test>, b@y.test"), (Addrs{"a@x.test", "b@y.test"}));
}

TEST(ExtractAddresses, QuotedCommaAndCommentsDoNotSplit) {
  EXPECT_EQ(extract_addresses("\"Doe, J\" <j@y.test> (work, home), k@z.test"), (Addrs{"j@y.test", "k@z.test"}));
  EXPECT_EQ(extract_addresses("j@y.test (a (nested, comment))"), Addrs{"j@y.test"});
}

TEST(ExtractAddresses, GroupsAndEmptyGroups) {
  EXPECT_EQ(extract_addresses("team: b@z.test, c@z.test;, d@w.test"), (Addrs{"b@z.test", "c@z.test", "d@w.test"}));
  EXPECT_EQ(extract_addresses("undisclosed-recipients:;"), Addrs{});
}

TEST(ExtractAddresses, FoldedValueAndEncodedName) {
  EXPECT_EQ(extract_addresses("=?utf-8?B?5byg5LiJ?= <zhang@x.test>,\r\n Bob\r\n <bob@y.test>"),
            (Addrs{"zhang@x.test", "bob@y.test"}));
}

TEST(ExtractAddresses, ObsoleteRouteIsDropped) {
  EXPECT_EQ(extract_addresses("<@relay.test:a@x.test>"), Addrs{"a@x.test"});
}

TEST(ExtractAddresses, PhraseWithoutAddressIsSkipped) {
  EXPECT_EQ(extract_addresses("just words, a@b.test"), Addrs{"a@b.test"});
  EXPECT_EQ(extract_addresses("Broken <a@b.test"), Addrs{});
}

TEST(SplitHeader, UnfoldsAndStopsAtBody) {
  std::string m = "From: a@x.test\r\nTo: b@y.test,\r\n c@z.test\r\nBcc: d@w.test\r\n\r\nTo: not@header.test\r\n";
  auto h = split_header(m);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[1].name, "To");
  EXPECT_EQ(h[1].value, "b@y.test, c@z.test");
  EXPECT_EQ(m.substr(h[2].begin, h[2].end - h[2].begin), "Bcc: d@w.test\r\n");
}

TEST(SplitHeader, LfLineEnds) {
  auto h = split_header("Subject: hi\nTo: a@b.test\n\nbody\n");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].value, "a@b.test");
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {
// Found by fuzz_address_list: a quoted-pair quoting a line break must not
// put a raw LF into an address (it would reach RCPT TO).
TEST(ExtractAddresses, QuotedLineBreakNeverReachesAnAddress) {
  for (const auto& a : extract_addresses("\"x\\\n\"@y.test, \"a\\\r\nb\" <c@d.test>")) {
    EXPECT_EQ(a.find('\n'), std::string::npos) << a;
    EXPECT_EQ(a.find('\r'), std::string::npos) << a;
  }
  EXPECT_EQ(extract_addresses("\"a\\\r\nb\" <c@d.test>"), std::vector<std::string>{"c@d.test"});
}
}  // namespace
}  // namespace tern
