// MX routing over a scripted resolver: preference order, shuffling of equal
// preferences (with an injected random source), CNAME chains and loops, the
// implicit MX, null MX, NXDOMAIN, temporary failures and "mail loops back to
// myself" (RFC 5321 §5.1, RFC 7505).
#include "services/dns/mx_router.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <set>

#include "tests/unit/services/dns/fake_resolver.hpp"

namespace tern::dns {
namespace {

using testing::FakeResolver;

std::vector<std::string> host_names(const Route& r) {
  std::vector<std::string> out;
  for (const auto& h : r.hosts) out.push_back(h.host);
  return out;
}

std::vector<std::string> addresses(const RouteHost& h) {
  std::vector<std::string> out;
  for (const auto& a : h.addresses) out.push_back(a.to_string());
  return out;
}

// Random numbers from a script; records the ranges asked for.
struct ScriptedRandom {
  std::shared_ptr<std::deque<std::size_t>> values = std::make_shared<std::deque<std::size_t>>();
  std::shared_ptr<std::vector<std::size_t>> ranges = std::make_shared<std::vector<std::size_t>>();
  std::function<std::size_t(std::size_t)> fn() const {
    return [v = values, r = ranges](std::size_t n) {
      r->push_back(n);
      std::size_t x = v->empty() ? 0 : v->front();
      if (!v->empty()) v->pop_front();
      return x % n;
    };
  }
};

class MxRouterTest : public ::testing::Test {
 protected:
  MxRouterSettings settings() {
    MxRouterSettings s;
    s.local_names = {"mx.self.test"};
    s.random_below = [](std::size_t) { return 0; };  // no shuffling unless a test asks
    return s;
  }

  Result<Route> route(const std::string& domain, std::optional<MxRouterSettings> s = std::nullopt) {
    MxRouter router(dns, s ? *s : settings());
    std::optional<Result<Route>> result;
    int calls = 0;
    router.route(domain, [&](Result<Route> r) {
      ++calls;
      result = std::move(r);
    });
    dns.run();
    EXPECT_EQ(calls, 1);
    if (!result) return std::unexpected(Error::temporary("no answer", "done never called"));
    return std::move(*result);
  }

  static std::string status_of(const Result<Route>& r) {
    return r ? "ok" : std::string(split_status(r.error().client_text).first);
  }

  FakeResolver dns;
};

TEST_F(MxRouterTest, OrderedByPreference) {
  dns.mx("d.test", {{20, "mx2.d.test"}, {10, "mx1.d.test"}, {30, "mx3.d.test"}});
  dns.a("mx1.d.test", {"127.0.0.2"});
  dns.a("mx2.d.test", {"127.0.0.3"});
  dns.a("mx3.d.test", {"127.0.0.4"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(host_names(*r), (std::vector<std::string>{"mx1.d.test", "mx2.d.test", "mx3.d.test"}));
  EXPECT_EQ(r->hosts[0].preference, 10);
  EXPECT_EQ(addresses(r->hosts[0]), std::vector<std::string>{"127.0.0.2"});
  EXPECT_FALSE(r->implicit_mx);
  EXPECT_EQ(r->domain, "d.test");
}

// RFC 5321 §5.1: hosts of equal preference are tried in random order.
TEST_F(MxRouterTest, EqualPreferencesAreShuffledWithTheInjectedSource) {
  dns.mx("d.test", {{10, "a.d.test"}, {10, "b.d.test"}, {10, "c.d.test"}, {5, "first.d.test"}, {20, "last.d.test"}});
  for (auto h : {"a.d.test", "b.d.test", "c.d.test", "first.d.test", "last.d.test"}) dns.a(h, {"127.0.0.2"});
  ScriptedRandom rnd;
  *rnd.values = {0, 0};  // Fisher-Yates over [a b c]: swap c and a -> [c b a], then b and c -> [b c a]
  auto s = settings();
  s.random_below = rnd.fn();
  auto r = route("d.test", s);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(host_names(*r),
            (std::vector<std::string>{"first.d.test", "b.d.test", "c.d.test", "a.d.test", "last.d.test"}));
  // Only the run of three was shuffled: ranges 3 then 2.
  EXPECT_EQ(*rnd.ranges, (std::vector<std::size_t>{3, 2}));
}

TEST_F(MxRouterTest, ShuffleWithTheDefaultSourceReachesEveryOrder) {
  dns.mx("d.test", {{10, "a.d.test"}, {10, "b.d.test"}, {10, "c.d.test"}});
  for (auto h : {"a.d.test", "b.d.test", "c.d.test"}) dns.a(h, {"127.0.0.2"});
  auto s = settings();
  s.random_below = nullptr;
  std::set<std::vector<std::string>> orders;
  for (int i = 0; i < 300; ++i) {
    auto r = route("d.test", s);
    ASSERT_TRUE(r);
    orders.insert(host_names(*r));
  }
  EXPECT_EQ(orders.size(), 6u);  // all 3! orders (a miss has probability ~1e-23)
}

TEST_F(MxRouterTest, DuplicateHostsKeepTheirBestPlace) {
  dns.mx("d.test", {{20, "mx.d.test"}, {10, "MX.d.test."}, {30, "other.d.test"}});
  dns.a("mx.d.test", {"127.0.0.2"});
  dns.a("other.d.test", {"127.0.0.3"});
  auto r = route("d.test");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->hosts.size(), 2u);
  EXPECT_EQ(r->hosts[0].preference, 10);
  EXPECT_EQ(dns.count("mx.d.test", RrType::a), 1u);
}

// Seed §4 and RFC 5321 §5.1: the CNAME's target is processed as if it were
// the initial name. A static zone answers only the CNAME: the router asks again.
TEST_F(MxRouterTest, FollowsCnameIntoAnotherZone) {
  dns.cname("sh.abc.test", "shmail.abc.test");
  dns.mx("shmail.abc.test", {{5, "shmail.abc.test"}});
  dns.a("shmail.abc.test", {"127.0.0.2"});
  auto r = route("sh.abc.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->cname_chain, std::vector<std::string>{"shmail.abc.test"});
  EXPECT_EQ(host_names(*r), std::vector<std::string>{"shmail.abc.test"});
  EXPECT_EQ(r->hosts[0].preference, 5);
  EXPECT_EQ(dns.count("shmail.abc.test", RrType::mx), 1u);
}

TEST_F(MxRouterTest, FollowsAChainOfCnames) {
  dns.cname("d.test", "c1.test");
  dns.cname("c1.test", "c2.test");
  dns.cname("c2.test", "c3.test");
  dns.mx("c3.test", {{10, "mx.c3.test"}});
  dns.a("mx.c3.test", {"127.0.0.2"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->cname_chain, (std::vector<std::string>{"c1.test", "c2.test", "c3.test"}));
}

// libunbound usually follows the chain itself: then one answer holds it all.
TEST_F(MxRouterTest, UsesAChainTheResolverAlreadyFollowed) {
  DnsAnswer a;
  a.status = DnsStatus::ok;
  a.cname_chain = {"target.other.test"};
  a.records.emplace_back(MxRecord{10, "mx.other.test"});
  dns.set("alias.d.test", RrType::mx, a);
  dns.a("mx.other.test", {"127.0.0.3"});
  auto r = route("alias.d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->cname_chain, std::vector<std::string>{"target.other.test"});
  EXPECT_EQ(dns.count("target.other.test", RrType::mx), 0u);
}

TEST_F(MxRouterTest, CnameLoopIsTemporary) {
  dns.cname("a.test", "b.test");
  dns.cname("b.test", "a.test");
  auto r = route("a.test");
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
  EXPECT_EQ(status_of(r), "4.4.3");
  EXPECT_NE(r.error().detail.find("CNAME loop"), std::string::npos) << r.error().detail;
}

TEST_F(MxRouterTest, CnameToItself) {
  dns.cname("a.test", "A.test.");
  auto r = route("a.test");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("CNAME loop"), std::string::npos) << r.error().detail;
}

TEST_F(MxRouterTest, CnameChainLimitIsEight) {
  auto chain = [&](const std::string& prefix, int hops) {
    for (int i = 0; i < hops; ++i)
      dns.cname(prefix + std::to_string(i) + ".test", prefix + std::to_string(i + 1) + ".test");
    std::string end = prefix + std::to_string(hops) + ".test";
    dns.mx(end, {{10, "mx." + end}});
    dns.a("mx." + end, {"127.0.0.2"});
  };
  chain("ok", 8);
  chain("long", 9);
  auto ok = route("ok0.test");
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->cname_chain.size(), 8u);
  auto too_long = route("long0.test");
  ASSERT_FALSE(too_long);
  EXPECT_FALSE(too_long.error().permanent());
  EXPECT_NE(too_long.error().detail.find("longer than 8"), std::string::npos) << too_long.error().detail;
}

// RFC 5321 §5.1: no MX records: the domain is its own MX, preference 0.
TEST_F(MxRouterTest, ImplicitMx) {
  dns.a("d.test", {"127.0.0.2"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_TRUE(r->implicit_mx);
  ASSERT_EQ(r->hosts.size(), 1u);
  EXPECT_EQ(r->hosts[0].host, "d.test");
  EXPECT_EQ(r->hosts[0].preference, 0);
  EXPECT_EQ(addresses(r->hosts[0]), std::vector<std::string>{"127.0.0.2"});
}

TEST_F(MxRouterTest, ImplicitMxAtTheEndOfACname) {
  dns.cname("www.d.test", "host.other.test");
  dns.a("host.other.test", {"127.0.0.5"});
  auto r = route("www.d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_TRUE(r->implicit_mx);
  EXPECT_EQ(host_names(*r), std::vector<std::string>{"host.other.test"});
}

TEST_F(MxRouterTest, ImplicitMxWithoutAddressIsPermanent) {
  dns.status("d.test", RrType::txt, DnsStatus::ok);  // the name exists, with other data only
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(status_of(r), "5.1.2");
}

// RFC 7505 §3.
TEST_F(MxRouterTest, NullMx) {
  dns.mx("d.test", {{0, "."}});
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(r.error().client_text, "5.1.10 Domain does not accept mail (null MX, RFC 7505)");
  auto [status, text] = split_status(r.error().client_text);
  EXPECT_EQ(status, "5.1.10");
  EXPECT_EQ(text, "Domain does not accept mail (null MX, RFC 7505)");
  EXPECT_TRUE(dns.count("d.test", RrType::a) == 0 && dns.count(".", RrType::a) == 0);
}

TEST_F(MxRouterTest, NullMxAmongOthersIsIgnored) {
  dns.mx("d.test", {{0, "."}, {10, "mx.d.test"}});
  dns.a("mx.d.test", {"127.0.0.2"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(host_names(*r), std::vector<std::string>{"mx.d.test"});
}

TEST_F(MxRouterTest, NxdomainIsPermanent) {
  auto r = route("nowhere.test");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(status_of(r), "5.1.2");
}

TEST_F(MxRouterTest, DanglingCnameIsNxdomain) {
  DnsAnswer a;
  a.status = DnsStatus::nxdomain;
  a.cname_chain = {"gone.other.test"};
  dns.set("d.test", RrType::mx, a);
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_NE(r.error().detail.find("gone.other.test"), std::string::npos);
}

TEST_F(MxRouterTest, ServfailIsTemporary) {
  dns.status("d.test", RrType::mx, DnsStatus::temporary, "rcode SERVFAIL");
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
  EXPECT_EQ(status_of(r), "4.4.3");
  EXPECT_NE(r.error().detail.find("SERVFAIL"), std::string::npos);
}

TEST_F(MxRouterTest, MalformedDomainIsPermanent) {
  dns.status("bad..test", RrType::mx, DnsStatus::permanent_error);
  EXPECT_EQ(status_of(route("bad..test")), "5.1.2");
  EXPECT_EQ(status_of(route("")), "5.1.2");
  EXPECT_TRUE(dns.asked.size() == 1);  // the empty domain is not asked for
}

TEST_F(MxRouterTest, HostWithoutAddressIsSkipped) {
  dns.mx("d.test", {{10, "gone.d.test"}, {20, "noaddr.d.test"}, {30, "broken.d.test"}, {40, "ok.d.test"}});
  dns.status("noaddr.d.test", RrType::txt, DnsStatus::ok);
  dns.status("broken.d.test", RrType::a, DnsStatus::temporary);
  dns.status("broken.d.test", RrType::aaaa, DnsStatus::temporary);
  dns.a("ok.d.test", {"127.0.0.2"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(host_names(*r), std::vector<std::string>{"ok.d.test"});
}

// Postfix's default (smtp_defer_if_no_mx_address_found = no): MX hosts that
// do not resolve are a permanent error, unless a lookup failed temporarily.
TEST_F(MxRouterTest, NoMxHostHasAnAddress) {
  dns.mx("d.test", {{10, "gone1.d.test"}, {20, "gone2.d.test"}});
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(status_of(r), "5.4.4");
}

TEST_F(MxRouterTest, NoAddressButATemporaryFailureDefers) {
  dns.mx("d.test", {{10, "gone.d.test"}, {20, "flaky.d.test"}});
  dns.status("flaky.d.test", RrType::aaaa, DnsStatus::temporary);
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
  EXPECT_EQ(status_of(r), "4.4.3");
}

// An A answer is enough even if AAAA fails for now.
TEST_F(MxRouterTest, OneFamilyIsEnough) {
  dns.mx("d.test", {{10, "mx.d.test"}});
  dns.a("mx.d.test", {"127.0.0.2"});
  dns.status("mx.d.test", RrType::aaaa, DnsStatus::temporary);
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(addresses(r->hosts[0]), std::vector<std::string>{"127.0.0.2"});
}

class AddressOrderTest : public MxRouterTest {
 protected:
  void SetUp() override {
    dns.mx("d.test", {{10, "mx.d.test"}});
    dns.a("mx.d.test", {"127.0.0.2", "127.0.0.3"});
    dns.aaaa("mx.d.test", {"::1"});
  }
  std::vector<std::string> with(AddressOrder order) {
    auto s = settings();
    s.address_order = order;
    auto r = route("d.test", s);
    EXPECT_TRUE(r);
    return r ? addresses(r->hosts[0]) : std::vector<std::string>{};
  }
};

TEST_F(AddressOrderTest, Ipv4FirstByDefault) {
  EXPECT_EQ(with(MxRouterSettings{}.address_order), (std::vector<std::string>{"127.0.0.2", "127.0.0.3", "::1"}));
}
TEST_F(AddressOrderTest, Ipv6First) {
  EXPECT_EQ(with(AddressOrder::ipv6_first), (std::vector<std::string>{"::1", "127.0.0.2", "127.0.0.3"}));
}
TEST_F(AddressOrderTest, OnlyOneFamilyAsksForOnlyOne) {
  EXPECT_EQ(with(AddressOrder::ipv4_only), (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(dns.count("mx.d.test", RrType::aaaa), 0u);
  EXPECT_EQ(with(AddressOrder::ipv6_only), std::vector<std::string>{"::1"});
}

// RFC 5321 §5.1: we are an MX: only strictly better hosts may be used.
TEST_F(MxRouterTest, SelfAsBackupMxKeepsOnlyBetterHosts) {
  dns.mx("d.test", {{10, "mx1.d.test"}, {20, "MX.Self.Test."}, {20, "peer.d.test"}, {30, "mx3.d.test"}});
  for (auto h : {"mx1.d.test", "mx.self.test", "peer.d.test", "mx3.d.test"}) dns.a(h, {"127.0.0.2"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(host_names(*r), std::vector<std::string>{"mx1.d.test"});
  EXPECT_EQ(dns.count("mx3.d.test", RrType::a), 0u);  // not even resolved
}

TEST_F(MxRouterTest, SelfAsBestMxLoops) {
  dns.mx("d.test", {{10, "mx.self.test"}, {20, "backup.d.test"}});
  dns.a("backup.d.test", {"127.0.0.2"});
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(r.error().client_text, "5.4.6 Mail for d.test loops back to myself");
}

TEST_F(MxRouterTest, SelfByAddress) {
  dns.mx("d.test", {{10, "mx1.d.test"}, {20, "alias-of-me.d.test"}, {30, "mx3.d.test"}});
  dns.a("mx1.d.test", {"127.0.0.2"});
  dns.a("alias-of-me.d.test", {"127.0.0.1"});
  dns.a("mx3.d.test", {"127.0.0.4"});
  auto s = settings();
  s.local_addresses = {*IpAddress::parse("127.0.0.1")};
  auto r = route("d.test", s);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(host_names(*r), std::vector<std::string>{"mx1.d.test"});
}

TEST_F(MxRouterTest, ImplicitMxThatIsUsLoops) {
  dns.a("d.test", {"127.0.0.1"});
  auto s = settings();
  s.local_addresses = {*IpAddress::parse("127.0.0.1")};
  auto r = route("d.test", s);
  ASSERT_FALSE(r);
  EXPECT_EQ(status_of(r), "5.4.6");
}

// Postfix: when we are a backup MX and the better hosts cannot be found right
// now, that is "unable to find primary relay", a temporary error.
TEST_F(MxRouterTest, SelfBehindUnresolvableBetterHostDefers) {
  dns.mx("d.test", {{10, "primary.d.test"}, {20, "mx.self.test"}});
  dns.status("primary.d.test", RrType::a, DnsStatus::temporary);
  auto r = route("d.test");
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
  EXPECT_EQ(r.error().client_text, "4.4.3 Unable to find primary relay for d.test");
}

TEST_F(MxRouterTest, MxHostItselfBehindACname) {
  dns.mx("d.test", {{10, "mx.d.test"}});
  dns.cname("mx.d.test", "real.other.test");
  dns.a("real.other.test", {"127.0.0.7"});
  auto r = route("d.test");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->hosts[0].host, "mx.d.test");  // the MX name is what we connect "to" (TLS, logs)
  EXPECT_EQ(addresses(r->hosts[0]), std::vector<std::string>{"127.0.0.7"});
}

TEST_F(MxRouterTest, AtMostMaxMxHosts) {
  std::vector<MxRecord> many;
  for (int i = 0; i < 20; ++i) {
    many.push_back({static_cast<std::uint16_t>(i), "mx" + std::to_string(i) + ".d.test"});
    dns.a("mx" + std::to_string(i) + ".d.test", {"127.0.0.2"});
  }
  dns.mx("d.test", many);
  auto s = settings();
  s.max_mx_hosts = 3;
  auto r = route("d.test", s);
  ASSERT_TRUE(r);
  EXPECT_EQ(host_names(*r), (std::vector<std::string>{"mx0.d.test", "mx1.d.test", "mx2.d.test"}));
  EXPECT_EQ(dns.asked.size(), 1u + 3 * 2);
}

TEST_F(MxRouterTest, AddressLiteralsNeedNoDns) {
  auto r = route("[127.0.0.9]");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(addresses(r->hosts[0]), std::vector<std::string>{"127.0.0.9"});
  auto v6 = route("[IPv6:::1]");
  ASSERT_TRUE(v6) << v6.error().detail;
  EXPECT_EQ(addresses(v6->hosts[0]), std::vector<std::string>{"::1"});
  EXPECT_TRUE(dns.asked.empty());
  EXPECT_EQ(status_of(route("[::1]")), "5.1.2");  // IPv6 needs its tag
  EXPECT_EQ(status_of(route("[300.1.1.1]")), "5.1.2");
  EXPECT_EQ(status_of(route("[127.0.0.1")), "5.1.2");
}

TEST_F(MxRouterTest, DnssecStatusIsReported) {
  dns.mx("d.test", {{10, "mx.d.test"}, {20, "mx2.d.test"}}, true);
  dns.a("mx.d.test", {"127.0.0.2"}, true);
  dns.aaaa("mx.d.test", {"::1"}, true);
  dns.a("mx2.d.test", {"127.0.0.3"}, false);
  auto r = route("d.test");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->mx_secure);
  EXPECT_TRUE(r->hosts[0].secure);
  EXPECT_FALSE(r->hosts[1].secure);
}

// Answers that come later, on another call stack and in any order, give the
// same route as inline ones.
TEST_F(MxRouterTest, DeferredAnswersInAnyOrder) {
  dns.mx("d.test", {{20, "mx2.d.test"}, {10, "mx1.d.test"}});
  dns.cname("mx1.d.test", "real1.other.test");
  dns.a("real1.other.test", {"127.0.0.2"});
  dns.aaaa("mx2.d.test", {"::1"});
  dns.deferred = true;
  for (bool reverse : {false, true}) {
    MxRouter router(dns, settings());
    std::optional<Result<Route>> result;
    router.route("d.test", [&](Result<Route> r) { result = std::move(r); });
    EXPECT_FALSE(result);
    dns.run(reverse);
    ASSERT_TRUE(result && *result);
    EXPECT_EQ(host_names(**result), (std::vector<std::string>{"mx1.d.test", "mx2.d.test"}));
    EXPECT_EQ(addresses((**result).hosts[1]), std::vector<std::string>{"::1"});
  }
}

TEST(SplitStatus, Forms) {
  EXPECT_EQ(split_status("4.4.3 try later").first, "4.4.3");
  EXPECT_EQ(split_status("4.4.3 try later").second, "try later");
  EXPECT_EQ(split_status("5.1.10").first, "5.1.10");
  EXPECT_EQ(split_status("no status here").first, "");
  EXPECT_EQ(split_status("no status here").second, "no status here");
  EXPECT_EQ(split_status("5.1.1000 x").first, "");
  EXPECT_EQ(split_status("3.1.1 x").first, "");
  EXPECT_EQ(split_status("5.1.1x").first, "");
}

}  // namespace
}  // namespace tern::dns
