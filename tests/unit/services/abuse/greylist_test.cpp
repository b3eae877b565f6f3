#include "services/abuse/greylist.hpp"

#include <gtest/gtest.h>

namespace tern::abuse {
namespace {

using namespace std::chrono_literals;
using V = Greylist::Verdict;
const Greylist::Clock::time_point t0 = Greylist::Clock::time_point{} + 1000h;

TEST(Greylist, NetworkIsSlash24OrSlash64) {
  EXPECT_EQ(greylist_network(*IpAddress::parse("192.0.2.77")), "192.0.2.0/24");
  EXPECT_EQ(greylist_network(*IpAddress::parse("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
}

TEST(Greylist, FirstAttemptDeferredRetryAfterDelayPasses) {
  Greylist g({300s, 4h, 36 * 24h, 1000});
  const std::string net = "192.0.2.0/24";
  EXPECT_EQ(g.check(net, "a@x.test", "b@y.test", t0), V::defer);
  EXPECT_EQ(g.remaining(net, "a@x.test", "b@y.test", t0 + 100s), 200);
  EXPECT_EQ(g.check(net, "a@x.test", "b@y.test", t0 + 299s), V::defer);
  EXPECT_EQ(g.check(net, "A@X.test", "b@Y.test", t0 + 300s), V::pass);
  // Another recipient is another triplet.
  EXPECT_EQ(g.check(net, "a@x.test", "c@y.test", t0 + 301s), V::defer);
}

TEST(Greylist, TooLateRetryStartsOver) {
  Greylist g({300s, 1h, 36 * 24h, 1000});
  const std::string net = "192.0.2.0/24";
  g.check(net, "a@x.test", "b@y.test", t0);
  EXPECT_EQ(g.check(net, "a@x.test", "b@y.test", t0 + 2h), V::defer);
  EXPECT_EQ(g.check(net, "a@x.test", "b@y.test", t0 + 2h + 300s), V::pass);
}

TEST(Greylist, WhitelistedClientsSkipAndExpire) {
  Greylist g({300s, 4h, 24h, 1000});
  const std::string net = "198.51.100.0/24";
  g.whitelist(net, t0);
  EXPECT_EQ(g.check(net, "new@x.test", "b@y.test", t0 + 1h), V::pass);
  EXPECT_EQ(g.check(net, "new@x.test", "b@y.test", t0 + 25h), V::defer);
}

TEST(Greylist, BoundedAndFailsOpenWhenFlooded) {
  Greylist g({300s, 1h, 24h, 2});
  g.check("n1", "a", "b", t0);
  g.check("n2", "a", "b", t0);
  EXPECT_EQ(g.check("n3", "a", "b", t0), V::pass);
  EXPECT_EQ(g.entries(), 2u);
  // After the horizon the stale ones go and new triplets are tracked again.
  EXPECT_EQ(g.check("n3", "a", "b", t0 + 2h), V::defer);
  EXPECT_EQ(g.entries(), 1u);
}

}  // namespace
}  // namespace tern::abuse
