#include "services/abuse/dnsbl.hpp"

#include <gtest/gtest.h>

#include "tests/unit/services/dns/fake_resolver.hpp"

namespace tern::abuse {
namespace {

using dns::testing::FakeResolver;

TEST(Dnsbl, QueryNamesFollowRfc5782) {
  EXPECT_EQ(dnsbl_query_name(*IpAddress::parse("192.0.2.99"), "bl.example."), "99.2.0.192.bl.example");
  EXPECT_EQ(dnsbl_query_name(*IpAddress::parse("2001:db8:1:2:3:4:567:89ab"), "bl.example"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example");
  EXPECT_EQ(rhsbl_query_name("spam.example", "dbl.example"), "spam.example.dbl.example");
}

TEST(Dnsbl, OnlyLoopbackAnswersOutsideTheErrorRangeAreListings) {
  EXPECT_TRUE(is_listing(*IpAddress::parse("127.0.0.2")));
  EXPECT_TRUE(is_listing(*IpAddress::parse("127.0.0.10")));
  EXPECT_FALSE(is_listing(*IpAddress::parse("127.255.255.254")));  // "query refused"
  EXPECT_FALSE(is_listing(*IpAddress::parse("192.0.2.1")));        // a wildcarding resolver
}

TEST(Dnsbl, ReportsTheListingZonesInOrder) {
  FakeResolver r;
  r.deferred = true;
  r.a("2.0.0.127.one.test", {"127.0.0.2"});
  r.status("2.0.0.127.two.test", dns::RrType::a, dns::DnsStatus::nxdomain);
  r.a("2.0.0.127.three.test", {"127.0.0.4"});
  r.status("2.0.0.127.four.test", dns::RrType::a, dns::DnsStatus::temporary);
  std::optional<std::vector<DnsblHit>> got;
  check_dnsbl(r, *IpAddress::parse("127.0.0.2"), {"one.test", "two.test", "three.test", "four.test"},
              [&](std::vector<DnsblHit> h) { got = std::move(h); });
  EXPECT_FALSE(got);
  r.run(/*reverse=*/true);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].zone, "one.test");
  EXPECT_EQ((*got)[0].answer, "127.0.0.2");
  EXPECT_EQ((*got)[1].zone, "three.test");
}

TEST(Dnsbl, NoZonesAnswersAtOnce) {
  FakeResolver r;
  bool called = false;
  check_rhsbl(r, "x.test", {}, [&](std::vector<DnsblHit> h) {
    called = true;
    EXPECT_TRUE(h.empty());
  });
  EXPECT_TRUE(called);
  EXPECT_TRUE(r.asked.empty());
}

}  // namespace
}  // namespace tern::abuse
