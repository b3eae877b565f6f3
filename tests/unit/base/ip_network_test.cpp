// IPv4/IPv6 addresses and CIDR networks (trusted_networks, peer logging).
#include "base/ip_network.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

IpAddress ip(std::string_view s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}

IpNetwork net(std::string_view s) {
  auto n = IpNetwork::parse(s);
  EXPECT_TRUE(n) << s;
  return n.value_or(IpNetwork{});
}

TEST(IpAddress, ParseAndPrint) {
  EXPECT_EQ(ip("192.0.2.1").to_string(), "192.0.2.1");
  EXPECT_FALSE(ip("192.0.2.1").v6);
  EXPECT_EQ(ip("2001:DB8::1").to_string(), "2001:db8::1");
  EXPECT_TRUE(ip("::1").v6);
  for (std::string_view bad : {"", "1.2.3", "1.2.3.256", "localhost", "[::1]", "1.2.3.4 ", "::g"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

// An IPv4-mapped IPv6 peer is the IPv4 host it names.
TEST(IpAddress, MappedIpv4IsIpv4) {
  auto a = ip("::ffff:127.0.0.1");
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a, ip("127.0.0.1"));
}

TEST(IpNetwork, ContainsIpv4) {
  auto loop = net("127.0.0.0/8");
  EXPECT_TRUE(loop.contains(ip("127.0.0.1")));
  EXPECT_TRUE(loop.contains(ip("127.255.255.255")));
  EXPECT_FALSE(loop.contains(ip("128.0.0.1")));
  EXPECT_FALSE(loop.contains(ip("::1")));
  EXPECT_TRUE(loop.contains(ip("::ffff:127.1.2.3")));

  // A prefix that does not end on a byte boundary.
  auto n = net("10.128.0.0/9");
  EXPECT_TRUE(n.contains(ip("10.200.1.1")));
  EXPECT_FALSE(n.contains(ip("10.127.255.255")));
  auto odd = net("192.168.1.64/27");
  EXPECT_TRUE(odd.contains(ip("192.168.1.95")));
  EXPECT_FALSE(odd.contains(ip("192.168.1.96")));
  EXPECT_FALSE(odd.contains(ip("192.168.1.63")));

  // Host bits in the base do not matter.
  EXPECT_TRUE(net("10.1.2.3/8").contains(ip("10.9.9.9")));
}

TEST(IpNetwork, ContainsIpv6) {
  auto n = net("2001:db8::/32");
  EXPECT_TRUE(n.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(n.contains(ip("2001:db9::1")));
  EXPECT_FALSE(n.contains(ip("32.1.13.184")));  // same leading bytes, other family
  auto host = net("::1");
  EXPECT_EQ(host.prefix, 128);
  EXPECT_TRUE(host.contains(ip("::1")));
  EXPECT_FALSE(host.contains(ip("::2")));
  EXPECT_TRUE(net("fe80::/10").contains(ip("febf::1")));
  EXPECT_FALSE(net("fe80::/10").contains(ip("fec0::1")));
}

TEST(IpNetwork, EdgePrefixes) {
  EXPECT_TRUE(net("0.0.0.0/0").contains(ip("203.0.113.9")));
  EXPECT_TRUE(net("::/0").contains(ip("2001:db8::1")));
  EXPECT_EQ(net("192.0.2.7").prefix, 32);
  EXPECT_TRUE(net("192.0.2.7").contains(ip("192.0.2.7")));
  EXPECT_FALSE(net("192.0.2.7/32").contains(ip("192.0.2.8")));
  EXPECT_TRUE(net("::1/128").contains(ip("::1")));
}

TEST(IpNetwork, ParseRejects) {
  for (std::string_view bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0.0/ 8",
                               "x/8", "/8", ""})
    EXPECT_FALSE(IpNetwork::parse(bad)) << bad;
}

}  // namespace
}  // namespace tern
