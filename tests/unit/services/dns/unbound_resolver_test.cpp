// UnboundResolver against a scripted DNS server on loopback: how libunbound's
// results map to DnsStatus, timeouts, both ways of driving it (own thread,
// external fd loop), shutdown with lookups in flight. Never asks the system
// resolver: every context forwards to 127.0.0.1 only.
#include "services/dns/unbound_resolver.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "tests/unit/services/dns/scripted_dns_server.hpp"

namespace tern::dns {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedDnsServer;
using testing::ScriptedReply;

// The zone the scripted server serves.
ScriptedReply zone(const std::string& qname, std::uint16_t qtype) {
  ScriptedReply r;
  if (qname == "a.test" && qtype == 1) r.answers.push_back({1, {127, 0, 0, 2}, 300});
  if (qname == "two.test" && qtype == 1) {
    r.answers.push_back({1, {127, 0, 0, 2}, 300});
    r.answers.push_back({1, {127, 0, 0, 3}, 300});
  }
  if (qname == "mx.test" && qtype == 15) {
    // The exchange compressed against the question name: libunbound hands
    // back rdata with the name expanded.
    r.answers.push_back({15, {0, 10, 3, 'm', 'x', '1', 0xC0, 12}, 300});
  }
  if (qname == "txt.test" && qtype == 16) {
    std::vector<std::uint8_t> rdata{255};
    rdata.insert(rdata.end(), 255, 'x');
    rdata.push_back(3);
    rdata.insert(rdata.end(), {'e', 'n', 'd'});
    r.answers.push_back({16, rdata, 300});
  }
  if (qname == "nx.test") r.rcode = 3;
  if (qname == "fail.test") r.rcode = 2;
  if (qname == "refused.test") r.rcode = 5;
  if (qname == "slow.test") r.drop = true;
  return r;
}

UnboundSettings settings_for(const ScriptedDnsServer& server, std::chrono::milliseconds timeout = 5s) {
  UnboundSettings s;
  s.servers = {server.address()};
  s.timeout = timeout;
  return s;
}

// Waits for one answer from a resolver that runs its own thread.
DnsAnswer ask(UnboundResolver& r, const std::string& name, RrType type) {
  std::promise<DnsAnswer> p;
  auto f = p.get_future();
  r.lookup(name, type, [&p](DnsAnswer a) { p.set_value(std::move(a)); });
  if (f.wait_for(20s) != std::future_status::ready) {
    ADD_FAILURE() << "no answer for " << name;
    return {};
  }
  return f.get();
}

class UnboundResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = UnboundResolver::create(settings_for(server, 1500ms));
    ASSERT_TRUE(r) << r.error().detail;
    resolver = std::move(*r);
    resolver->start_thread();
  }
  ScriptedDnsServer server{zone};
  std::unique_ptr<UnboundResolver> resolver;
};

TEST_F(UnboundResolverTest, Address) {
  auto a = ask(*resolver, "a.test", RrType::a);
  EXPECT_EQ(a.status, DnsStatus::ok) << a.detail;
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(std::get<IpAddress>(a.records[0]).to_string(), "127.0.0.2");
  EXPECT_EQ(a.ttl, 300u);
  EXPECT_FALSE(a.secure);
  EXPECT_TRUE(a.cname_chain.empty());
  EXPECT_EQ(ask(*resolver, "two.test", RrType::a).records_of<IpAddress>().size(), 2u);
}

TEST_F(UnboundResolverTest, CompressedMxExchangeArrivesExpanded) {
  auto a = ask(*resolver, "mx.test", RrType::mx);
  ASSERT_EQ(a.status, DnsStatus::ok) << a.detail;
  EXPECT_EQ(a.records_of<MxRecord>(), (std::vector<MxRecord>{{10, "mx1.mx.test"}}));
}

TEST_F(UnboundResolverTest, LongTxt) {
  auto a = ask(*resolver, "txt.test", RrType::txt);
  ASSERT_EQ(a.status, DnsStatus::ok) << a.detail;
  auto txt = a.records_of<TxtRecord>();
  ASSERT_EQ(txt.size(), 1u);
  EXPECT_EQ(txt[0].strings.size(), 2u);
  EXPECT_EQ(txt[0].joined(), std::string(255, 'x') + "end");
}

TEST_F(UnboundResolverTest, NegativeAnswers) {
  EXPECT_EQ(ask(*resolver, "nx.test", RrType::a).status, DnsStatus::nxdomain);
  auto nodata = ask(*resolver, "a.test", RrType::aaaa);
  EXPECT_EQ(nodata.status, DnsStatus::nodata);
  // No SOA in these replies: the TTL is capped at cache_max_negative_ttl.
  EXPECT_LE(nodata.ttl, UnboundSettings{}.cache_max_negative_ttl);
}

TEST_F(UnboundResolverTest, ServerFailuresAreTemporary) {
  auto fail = ask(*resolver, "fail.test", RrType::a);
  EXPECT_EQ(fail.status, DnsStatus::temporary);
  EXPECT_FALSE(fail.detail.empty());
  EXPECT_EQ(ask(*resolver, "refused.test", RrType::a).status, DnsStatus::temporary);
}

TEST_F(UnboundResolverTest, TimeoutIsTemporary) {
  auto start = std::chrono::steady_clock::now();
  auto a = ask(*resolver, "slow.test", RrType::a);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(a.status, DnsStatus::temporary);
  EXPECT_NE(a.detail.find("timed out"), std::string::npos) << a.detail;
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 10s);
  EXPECT_EQ(resolver->pending(), 0u);
}

TEST_F(UnboundResolverTest, MalformedNamesArePermanentErrors) {
  EXPECT_EQ(ask(*resolver, std::string("a\0b.test", 8), RrType::a).status, DnsStatus::permanent_error);
  EXPECT_EQ(ask(*resolver, std::string(64, 'l') + ".test", RrType::a).status, DnsStatus::permanent_error);
  EXPECT_EQ(ask(*resolver, "", RrType::a).status, DnsStatus::permanent_error);
}

// The special-use zone test. is forwarded, not answered by libunbound; but
// invalid. stays NXDOMAIN without asking anyone (RFC 6761 §6.4).
TEST_F(UnboundResolverTest, SpecialUseZones) {
  EXPECT_EQ(ask(*resolver, "a.test", RrType::a).status, DnsStatus::ok);
  int before = server.queries();
  EXPECT_EQ(ask(*resolver, "host.invalid", RrType::a).status, DnsStatus::nxdomain);
  EXPECT_EQ(server.queries(), before);
}

TEST_F(UnboundResolverTest, CallbacksMayLookUpAgain) {
  std::promise<DnsAnswer> p;
  auto f = p.get_future();
  resolver->lookup("mx.test", RrType::mx, [&](DnsAnswer mx) {
    EXPECT_EQ(mx.status, DnsStatus::ok);
    resolver->lookup("a.test", RrType::a, [&](DnsAnswer a) { p.set_value(std::move(a)); });
  });
  ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(f.get().status, DnsStatus::ok);
}

TEST_F(UnboundResolverTest, ManyConcurrentLookups) {
  std::mutex mu;
  std::condition_variable cv;
  int ok = 0, done = 0;
  constexpr int n = 200;
  for (int i = 0; i < n; ++i)
    resolver->lookup(i % 2 ? "a.test" : "mx.test", i % 2 ? RrType::a : RrType::mx, [&](DnsAnswer a) {
      std::lock_guard lock(mu);
      ok += a.status == DnsStatus::ok;
      ++done;
      cv.notify_all();
    });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return done == n; }));
  EXPECT_EQ(ok, n);
}

TEST_F(UnboundResolverTest, StopCompletesPendingLookups) {
  std::promise<DnsAnswer> p;
  auto f = p.get_future();
  resolver->lookup("slow.test", RrType::a, [&](DnsAnswer a) { p.set_value(std::move(a)); });
  resolver->stop();
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  auto a = f.get();
  EXPECT_EQ(a.status, DnsStatus::temporary);
  EXPECT_EQ(a.detail, "resolver stopped");
  // After stop, lookups complete inline.
  bool called = false;
  resolver->lookup("a.test", RrType::a, [&](DnsAnswer b) {
    called = true;
    EXPECT_EQ(b.status, DnsStatus::temporary);
  });
  EXPECT_TRUE(called);
}

// Event-loop mode: nobody but the test calls process(), when fd() is readable.
TEST(UnboundResolverFd, DrivenByAnExternalLoop) {
  ScriptedDnsServer server{zone};
  auto r = UnboundResolver::create(settings_for(server, 700ms));
  ASSERT_TRUE(r) << r.error().detail;
  auto& resolver = **r;
  std::vector<DnsAnswer> answers;
  resolver.lookup("a.test", RrType::a, [&](DnsAnswer a) { answers.push_back(std::move(a)); });
  resolver.lookup("slow.test", RrType::a, [&](DnsAnswer a) { answers.push_back(std::move(a)); });
  resolver.lookup(std::string("x\0y", 3), RrType::a, [&](DnsAnswer a) { answers.push_back(std::move(a)); });
  EXPECT_TRUE(answers.empty());  // never inside lookup()
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (answers.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{resolver.fd(), POLLIN, 0};
    if (poll(&p, 1, 1000) > 0) resolver.process();
  }
  ASSERT_EQ(answers.size(), 3u);
  // The malformed name and the real answer come before the timeout.
  EXPECT_EQ(answers[2].status, DnsStatus::temporary);
  EXPECT_NE(answers[2].detail.find("timed out"), std::string::npos);
  std::set<DnsStatus> first{answers[0].status, answers[1].status};
  EXPECT_EQ(first, (std::set<DnsStatus>{DnsStatus::ok, DnsStatus::permanent_error}));
  // Nothing left: the fd is quiet.
  pollfd p{resolver.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 50), 0);
}

TEST(UnboundResolverConfig, ForwardAddresses) {
  EXPECT_EQ(unbound_forward_address("127.0.0.1:5353"), "127.0.0.1@5353");
  EXPECT_EQ(unbound_forward_address("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(unbound_forward_address("[::1]:53"), "::1@53");
  EXPECT_EQ(unbound_forward_address("[::1]"), "::1");
  EXPECT_EQ(unbound_forward_address("2001:db8::1"), "2001:db8::1");
  EXPECT_FALSE(unbound_forward_address("dns.example:53"));
  EXPECT_FALSE(unbound_forward_address("127.0.0.1:"));
  EXPECT_FALSE(unbound_forward_address("127.0.0.1:0"));
  EXPECT_FALSE(unbound_forward_address("127.0.0.1:65536"));
  EXPECT_FALSE(unbound_forward_address("[::1"));
  EXPECT_FALSE(unbound_forward_address("[::1]x"));
  EXPECT_FALSE(unbound_forward_address(""));
}

TEST(UnboundResolverConfig, BadSettingsAreErrors) {
  UnboundSettings s;
  s.servers = {"not-an-address"};
  auto r = UnboundResolver::create(s);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_NE(r.error().detail.find("not-an-address"), std::string::npos);

  UnboundSettings missing;
  missing.resolv_conf = "/nonexistent/resolv.conf";
  EXPECT_FALSE(UnboundResolver::create(missing));
}

}  // namespace
}  // namespace tern::dns
