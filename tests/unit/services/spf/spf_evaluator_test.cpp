// check_host() over a scripted resolver (RFC 7208 §4-§6): results of each
// mechanism, include and redirect, every processing limit of §4.6.4,
// permerror and temperror cases, explanations (§6.2), %{p}, the identities
// of §2.3 and §2.4, answers delivered later and in any order, and the
// wall-clock cap.
#include "services/spf/spf_evaluator.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "tests/unit/services/dns/fake_resolver.hpp"

namespace tern::spf {
namespace {

using auth::SpfResult;
using dns::DnsAnswer;
using dns::DnsStatus;
using dns::RrType;
using dns::testing::FakeResolver;

class SpfEvaluatorTest : public ::testing::Test {
 protected:
  void txt(const std::string& name, std::vector<std::vector<std::string>> records) {
    DnsAnswer a;
    a.status = DnsStatus::ok;
    for (auto& strings : records) a.records.emplace_back(dns::TxtRecord{std::move(strings)});
    dns.set(name, RrType::txt, std::move(a));
  }
  void spf(const std::string& name, const std::string& record) { txt(name, {{record}}); }
  void ptr(const std::string& name, std::vector<std::string> targets) {
    DnsAnswer a;
    a.status = DnsStatus::ok;
    for (auto& t : targets) a.records.emplace_back(dns::PtrRecord{std::move(t)});
    dns.set(name, RrType::ptr, std::move(a));
  }

  SpfOutcome check(const std::string& ip, const std::string& sender, const std::string& helo = "mail.example.com",
                   SpfSettings settings = {}) {
    std::optional<SpfOutcome> out;
    int calls = 0;
    settings.now = [] { return std::int64_t{1700000000}; };
    check_spf(dns, SpfRequest{*IpAddress::parse(ip), helo, sender, "mx.receiver.example"},
              [&](SpfOutcome o) {
                ++calls;
                out = std::move(o);
              },
              settings);
    dns.run();
    EXPECT_EQ(calls, 1);
    return out.value_or(SpfOutcome{});
  }
  SpfResult result(const std::string& ip, const std::string& sender) { return check(ip, sender).result; }

  FakeResolver dns;
};

TEST_F(SpfEvaluatorTest, QualifiersAndDefault) {
  spf("a.example", "v=spf1 ip4:192.0.2.0/24 -all");
  spf("b.example", "v=spf1 ~all");
  spf("c.example", "v=spf1 ?all");
  spf("d.example", "v=spf1 ip4:192.0.2.1");
  EXPECT_EQ(result("192.0.2.7", "x@a.example"), SpfResult::pass);
  EXPECT_EQ(result("198.51.100.1", "x@a.example"), SpfResult::fail);
  EXPECT_EQ(result("198.51.100.1", "x@b.example"), SpfResult::softfail);
  EXPECT_EQ(result("198.51.100.1", "x@c.example"), SpfResult::neutral);
  EXPECT_EQ(result("198.51.100.1", "x@d.example"), SpfResult::neutral);  // §4.7: default neutral
}

TEST_F(SpfEvaluatorTest, OutcomeFields) {
  spf("a.example", "v=spf1 -all");
  auto o = check("192.0.2.1", "joe@a.example");
  EXPECT_EQ(o.identity, "mailfrom");
  EXPECT_EQ(o.domain, "a.example");
  EXPECT_EQ(o.sender, "joe@a.example");
  EXPECT_NE(o.detail.find("-all"), std::string::npos) << o.detail;
}

TEST_F(SpfEvaluatorTest, NoRecordIsNone) {
  dns.a("norecord.example", {"192.0.2.1"});
  txt("other.example", {{"google-site-verification=abc"}, {"v=spf10 +all"}});
  EXPECT_EQ(result("192.0.2.1", "x@norecord.example"), SpfResult::none);
  EXPECT_EQ(result("192.0.2.1", "x@missing.example"), SpfResult::none);
  EXPECT_EQ(result("192.0.2.1", "x@other.example"), SpfResult::none);
}

TEST_F(SpfEvaluatorTest, MalformedDomainIsNoneWithoutLookup) {
  // §4.3: malformed or single-label <domain>: none.
  EXPECT_EQ(result("192.0.2.1", "x@localhost"), SpfResult::none);
  EXPECT_EQ(result("192.0.2.1", "x@[192.0.2.1]"), SpfResult::none);
  EXPECT_EQ(result("192.0.2.1", "x@a..example"), SpfResult::none);
  EXPECT_EQ(result("192.0.2.1", "x@" + std::string(64, 'a') + ".example"), SpfResult::none);
  EXPECT_TRUE(dns.asked.empty());
}

TEST_F(SpfEvaluatorTest, RecordSelection) {
  txt("two.example", {{"v=spf1 -all"}, {"v=spf1 +all"}});
  txt("split.example", {{"v=spf1 ip4:", "192.0.2.5 -all"}});
  txt("bad.example", {{"v=spf1 ip4:192.0.2.1 moo"}});
  EXPECT_EQ(result("192.0.2.5", "x@two.example"), SpfResult::permerror);   // §4.5: more than one
  EXPECT_EQ(result("192.0.2.5", "x@split.example"), SpfResult::pass);      // §3.3: joined without spaces
  EXPECT_EQ(result("192.0.2.1", "x@bad.example"), SpfResult::permerror);   // §4.6: any syntax error
}

TEST_F(SpfEvaluatorTest, DnsTroubleIsTemperror) {
  dns.status("tmp.example", RrType::txt, DnsStatus::temporary, "SERVFAIL");
  EXPECT_EQ(result("192.0.2.1", "x@tmp.example"), SpfResult::temperror);
  spf("a.example", "v=spf1 a:broken.example -all");
  dns.status("broken.example", RrType::a, DnsStatus::temporary);
  EXPECT_EQ(result("192.0.2.1", "x@a.example"), SpfResult::temperror);
  spf("e.example", "v=spf1 exists:broken.example -all");
  EXPECT_EQ(result("192.0.2.1", "x@e.example"), SpfResult::temperror);
}

TEST_F(SpfEvaluatorTest, AMechanism) {
  spf("a.example", "v=spf1 a a:other.example/24 -all");
  dns.a("a.example", {"192.0.2.10"});
  dns.aaaa("a.example", {"2001:db8::10"});
  dns.a("other.example", {"198.51.100.1"});
  EXPECT_EQ(result("192.0.2.10", "x@a.example"), SpfResult::pass);
  EXPECT_EQ(result("198.51.100.200", "x@a.example"), SpfResult::pass);
  EXPECT_EQ(result("198.51.101.1", "x@a.example"), SpfResult::fail);
  EXPECT_EQ(result("2001:db8::10", "x@a.example"), SpfResult::pass);
  // §5: an IPv4-mapped client is IPv4.
  EXPECT_EQ(result("::ffff:192.0.2.10", "x@a.example"), SpfResult::pass);
  spf("d.example", "v=spf1 a/24//64 -all");
  dns.a("d.example", {"192.0.2.1"});
  dns.aaaa("d.example", {"2001:db8:1:2::1"});
  EXPECT_EQ(result("192.0.2.99", "x@d.example"), SpfResult::pass);
  EXPECT_EQ(result("2001:db8:1:2:ffff::1", "x@d.example"), SpfResult::pass);
  EXPECT_EQ(result("2001:db8:1:3::1", "x@d.example"), SpfResult::fail);
}

TEST_F(SpfEvaluatorTest, InvalidTargetAfterExpansionDoesNotMatch) {
  spf("t.example", "v=spf1 a:mail.example...com -all");
  EXPECT_EQ(result("192.0.2.1", "x@t.example"), SpfResult::fail);
}

TEST_F(SpfEvaluatorTest, MxMechanism) {
  spf("m.example", "v=spf1 mx -all");
  dns.mx("m.example", {{10, "mx1.m.example"}, {20, "mx2.m.example"}});
  dns.a("mx1.m.example", {"192.0.2.1"});
  dns.a("mx2.m.example", {"192.0.2.2"});
  EXPECT_EQ(result("192.0.2.2", "x@m.example"), SpfResult::pass);
  EXPECT_EQ(result("192.0.2.3", "x@m.example"), SpfResult::fail);
  // §5.4: no MX records: no implicit MX.
  spf("nomx.example", "v=spf1 mx");
  dns.a("nomx.example", {"192.0.2.1"});
  EXPECT_EQ(result("192.0.2.1", "x@nomx.example"), SpfResult::neutral);
  // RFC 7505 null MX: nothing to look up.
  spf("null.example", "v=spf1 mx");
  dns.mx("null.example", {{0, "."}});
  EXPECT_EQ(result("192.0.2.1", "x@null.example"), SpfResult::neutral);
}

TEST_F(SpfEvaluatorTest, MoreThanTenMxIsPermerror) {
  spf("m.example", "v=spf1 mx");
  std::vector<dns::MxRecord> mx;
  for (std::uint16_t i = 0; i < 11; ++i) mx.push_back({i, "mx" + std::to_string(i) + ".m.example"});
  dns.mx("m.example", mx);
  EXPECT_EQ(result("192.0.2.1", "x@m.example"), SpfResult::permerror);
  mx.pop_back();
  dns.mx("m.example", mx);
  EXPECT_EQ(result("192.0.2.1", "x@m.example"), SpfResult::neutral);
}

TEST_F(SpfEvaluatorTest, PtrMechanism) {
  spf("p.example", "v=spf1 ptr -all");
  ptr("1.2.0.192.in-addr.arpa", {"host.other.example", "mail.P.example"});
  dns.a("mail.p.example", {"192.0.2.1"});
  dns.a("host.other.example", {"192.0.2.1"});
  EXPECT_EQ(result("192.0.2.1", "x@p.example"), SpfResult::pass);
  // Not validated: the name's addresses do not include the client.
  ptr("2.2.0.192.in-addr.arpa", {"mail.p.example"});
  EXPECT_EQ(result("192.0.2.2", "x@p.example"), SpfResult::fail);
  // §5.5: a PTR lookup error is no match, not temperror.
  dns.status("3.2.0.192.in-addr.arpa", RrType::ptr, DnsStatus::temporary);
  EXPECT_EQ(result("192.0.2.3", "x@p.example"), SpfResult::fail);
}

TEST_F(SpfEvaluatorTest, OnlyTenPtrNamesAreLookedAt) {
  spf("e5.example", "v=spf1 ptr");
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back("n" + std::to_string(i) + ".example");
  names.push_back("e5.example");
  ptr("5.2.0.192.in-addr.arpa", names);
  dns.a("e5.example", {"192.0.2.5"});
  EXPECT_EQ(result("192.0.2.5", "x@e5.example"), SpfResult::neutral);  // §4.6.4: the 11th is ignored
  EXPECT_EQ(dns.count("e5.example", RrType::a), 0u);
}

TEST_F(SpfEvaluatorTest, ExistsUsesA) {
  spf("x.example", "v=spf1 exists:%{i}.bl.example -all");
  dns.a("192.0.2.1.bl.example", {"127.0.0.2"});
  EXPECT_EQ(result("192.0.2.1", "x@x.example"), SpfResult::pass);
  EXPECT_EQ(result("192.0.2.2", "x@x.example"), SpfResult::fail);
  EXPECT_EQ(dns.count("192.0.2.1.bl.example", RrType::a), 1u);
}

TEST_F(SpfEvaluatorTest, Include) {
  spf("pass.example", "v=spf1 ip4:192.0.2.1 -all");
  spf("soft.example", "v=spf1 ~all");
  spf("neutral.example", "v=spf1 ?all");
  dns.status("tmp.example", RrType::txt, DnsStatus::temporary);
  spf("perm.example", "v=spf1 include");
  spf("i1.example", "v=spf1 include:pass.example -all");
  spf("i2.example", "v=spf1 include:soft.example include:neutral.example +all");
  spf("i3.example", "v=spf1 include:tmp.example -all");
  spf("i4.example", "v=spf1 include:perm.example -all");
  spf("i5.example", "v=spf1 include:none.example -all");
  EXPECT_EQ(result("192.0.2.1", "x@i1.example"), SpfResult::pass);
  EXPECT_EQ(result("192.0.2.2", "x@i1.example"), SpfResult::fail);
  EXPECT_EQ(result("192.0.2.2", "x@i2.example"), SpfResult::pass);
  EXPECT_EQ(result("192.0.2.2", "x@i3.example"), SpfResult::temperror);
  EXPECT_EQ(result("192.0.2.2", "x@i4.example"), SpfResult::permerror);
  EXPECT_EQ(result("192.0.2.2", "x@i5.example"), SpfResult::permerror);  // §5.2: none -> permerror
}

TEST_F(SpfEvaluatorTest, Redirect) {
  spf("r.example", "v=spf1 ip4:198.51.100.1 redirect=target.example");
  spf("target.example", "v=spf1 a -all");
  dns.a("target.example", {"192.0.2.1"});
  dns.a("r.example", {"192.0.2.99"});
  EXPECT_EQ(result("192.0.2.1", "x@r.example"), SpfResult::pass);  // %{d} is the target (§6.1)
  EXPECT_EQ(result("192.0.2.99", "x@r.example"), SpfResult::fail);
  EXPECT_EQ(result("198.51.100.1", "x@r.example"), SpfResult::pass);
  spf("rn.example", "v=spf1 redirect=nothing.example");
  EXPECT_EQ(result("192.0.2.1", "x@rn.example"), SpfResult::permerror);  // §6.1: none -> permerror
  // redirect is used only when no mechanism matched.
  spf("ra.example", "v=spf1 redirect=ra.example ~all");
  EXPECT_EQ(result("192.0.2.1", "x@ra.example"), SpfResult::softfail);
}

TEST_F(SpfEvaluatorTest, TenDnsTermsAtMost) {
  // §4.6.4: 10 mechanisms/modifiers that query DNS are fine, 11 are permerror.
  spf("ten.example", "v=spf1 a a a a a a a a a a ip4:192.0.2.1 -all");
  spf("eleven.example", "v=spf1 a a a a a a a a a a a ip4:192.0.2.1 -all");
  dns.a("ten.example", {"198.51.100.1"});
  dns.a("eleven.example", {"198.51.100.1"});
  EXPECT_EQ(result("192.0.2.1", "x@ten.example"), SpfResult::pass);
  auto o = check("192.0.2.1", "x@eleven.example");
  EXPECT_EQ(o.result, SpfResult::permerror);
  EXPECT_NE(o.detail.find("more than 10"), std::string::npos) << o.detail;
  // Counted across includes, and redirect counts too.
  spf("loop.example", "v=spf1 ip4:198.51.100.1 redirect=loop.example");
  EXPECT_EQ(result("192.0.2.1", "x@loop.example"), SpfResult::permerror);
  spf("inc1.example", "v=spf1 include:inc2.example");
  spf("inc2.example", "v=spf1 include:inc1.example");
  EXPECT_EQ(result("192.0.2.1", "x@inc1.example"), SpfResult::permerror);
}

TEST_F(SpfEvaluatorTest, TwoVoidLookupsAtMost) {
  spf("two.example", "v=spf1 a:void1.example a:void2.example ?all");
  spf("three.example", "v=spf1 a:void1.example mx:void2.example exists:void3.example ?all");
  dns.a("void2.example", {});  // exists, no A: nodata
  dns.status("void2.example", RrType::a, DnsStatus::nodata);
  EXPECT_EQ(result("192.0.2.1", "x@two.example"), SpfResult::neutral);
  EXPECT_EQ(result("192.0.2.1", "x@three.example"), SpfResult::permerror);
}

TEST_F(SpfEvaluatorTest, ExplanationOnFail) {
  spf("e.example", "v=spf1 -all exp=why.%{d}");
  txt("why.e.example", {{"%{i} is not one of %{d}'s ", "senders (%{l})"}});
  auto o = check("192.0.2.1", "joe@e.example");
  EXPECT_EQ(o.result, SpfResult::fail);
  EXPECT_EQ(o.explanation, "192.0.2.1 is not one of e.example's senders (joe)");
  // Not for other results.
  spf("s.example", "v=spf1 ~all exp=why.e.example");
  EXPECT_EQ(check("192.0.2.1", "joe@s.example").explanation, "");
}

TEST_F(SpfEvaluatorTest, BrokenExplanationIsIgnored) {
  // §6.2: several records, none, a DNS error, bad syntax: no explanation.
  spf("multi.example", "v=spf1 -all exp=m.example");
  txt("m.example", {{"one"}, {"two"}});
  spf("none.example", "v=spf1 -all exp=nothing.example");
  spf("err.example", "v=spf1 -all exp=tmp.example");
  dns.status("tmp.example", RrType::txt, DnsStatus::temporary);
  spf("syntax.example", "v=spf1 -all exp=s.example");
  txt("s.example", {{"The %{x}-files."}});
  for (const char* d : {"multi.example", "none.example", "err.example", "syntax.example"}) {
    auto o = check("192.0.2.1", std::string("x@") + d);
    EXPECT_EQ(o.result, SpfResult::fail) << d;
    EXPECT_EQ(o.explanation, "") << d;
  }
}

TEST_F(SpfEvaluatorTest, ExplanationFollowsRedirectNotInclude) {
  // §6.2: redirect uses the target's exp=, include never uses the included one.
  spf("e1.example", "v=spf1 exp=exp1.example redirect=e2.example");
  spf("e2.example", "v=spf1 -all exp=exp2.example");
  spf("e3.example", "v=spf1 include:e1.example -all exp=exp3.example");
  txt("exp1.example", {{"No-see-um"}});
  txt("exp2.example", {{"See me."}});
  txt("exp3.example", {{"Correct!"}});
  EXPECT_EQ(check("192.0.2.1", "x@e1.example").explanation, "See me.");
  EXPECT_EQ(check("192.0.2.1", "x@e3.example").explanation, "Correct!");
}

TEST_F(SpfEvaluatorTest, PMacro) {
  spf("e6.example", "v=spf1 -all exp=msg.example");
  txt("msg.example", {{"connect from %{p}"}});
  ptr("41.2.0.192.in-addr.arpa", {"mx.example"});
  dns.a("mx.example", {"192.0.2.41"});
  EXPECT_EQ(check("192.0.2.41", "t@e6.example").explanation, "connect from mx.example");
  ptr("40.2.0.192.in-addr.arpa", {"mx.example"});  // does not validate
  EXPECT_EQ(check("192.0.2.40", "t@e6.example").explanation, "connect from unknown");
  // §7.3: a name at or below <domain> is preferred.
  spf("e7.example", "v=spf1 exists:%{p}.should.example ~all");
  ptr("42.2.0.192.in-addr.arpa", {"mx.example", "mx.e7.example"});
  dns.a("mx.example", {"192.0.2.41", "192.0.2.42"});
  dns.a("mx.e7.example", {"192.0.2.42"});
  dns.a("mx.e7.example.should.example", {"127.0.0.2"});
  EXPECT_EQ(result("192.0.2.42", "t@e7.example"), SpfResult::pass);
}

TEST_F(SpfEvaluatorTest, NullSenderUsesHelo) {
  spf("helo.example", "v=spf1 -all exp=why.helo.example");
  txt("why.helo.example", {{"%{s}"}});
  auto o = check("192.0.2.1", "", "helo.example");
  EXPECT_EQ(o.result, SpfResult::fail);
  EXPECT_EQ(o.identity, "mailfrom");
  EXPECT_EQ(o.domain, "helo.example");
  EXPECT_EQ(o.explanation, "postmaster@helo.example");  // §2.4
  // §4.3: no local-part: postmaster.
  spf("n.example", "v=spf1 -all exp=why.helo.example");
  EXPECT_EQ(check("192.0.2.1", "@n.example").explanation, "postmaster@n.example");
}

TEST_F(SpfEvaluatorTest, HeloIdentity) {
  spf("helo.example", "v=spf1 a -all");
  dns.a("helo.example", {"192.0.2.1"});
  std::optional<SpfOutcome> out;
  check_spf_helo(dns, SpfRequest{*IpAddress::parse("192.0.2.1"), "helo.example", "other@else.example", ""},
                 [&](SpfOutcome o) { out = std::move(o); });
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result, SpfResult::pass);
  EXPECT_EQ(out->identity, "helo");
  EXPECT_EQ(out->sender, "postmaster@helo.example");
  out.reset();
  check_spf_helo(dns, SpfRequest{*IpAddress::parse("192.0.2.1"), "[192.0.2.1]", "", ""},
                 [&](SpfOutcome o) { out = std::move(o); });
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result, SpfResult::none);  // an address literal: §2.3
}

TEST_F(SpfEvaluatorTest, DeferredAnswersInAnyOrder) {
  dns.deferred = true;
  spf("d.example", "v=spf1 include:i.example mx a -all");
  spf("i.example", "v=spf1 ip4:198.51.100.1");
  dns.mx("d.example", {{10, "mx.d.example"}});
  dns.a("mx.d.example", {"198.51.100.7"});
  dns.a("d.example", {"192.0.2.1"});
  std::optional<SpfOutcome> out;
  int calls = 0;
  check_spf(dns, SpfRequest{*IpAddress::parse("198.51.100.7"), "h.example", "x@d.example", ""},
            [&](SpfOutcome o) {
              ++calls;
              out = std::move(o);
            });
  EXPECT_EQ(calls, 0);
  dns.run(/*reverse=*/true);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result, SpfResult::pass);
}

TEST_F(SpfEvaluatorTest, WallClockCapIsTemperror) {
  dns.deferred = true;
  spf("slow.example", "v=spf1 a -all");
  SpfSettings s;
  s.time_limit = std::chrono::milliseconds(-1);  // already over when the first answer arrives
  auto o = check("192.0.2.1", "x@slow.example", "h.example", s);
  EXPECT_EQ(o.result, SpfResult::temperror);
  EXPECT_NE(o.detail.find("longer than"), std::string::npos) << o.detail;
}

TEST_F(SpfEvaluatorTest, CnameToRecord) {
  spf("real.example", "v=spf1 ip4:192.0.2.1 -all");
  dns.cname("alias.example", "real.example");
  EXPECT_EQ(result("192.0.2.1", "x@alias.example"), SpfResult::pass);
  dns.cname("loop1.example", "loop2.example");
  dns.cname("loop2.example", "loop1.example");
  EXPECT_EQ(result("192.0.2.1", "x@loop1.example"), SpfResult::temperror);
}

TEST(SpfDomain, Validity) {
  EXPECT_TRUE(valid_spf_domain("example.com"));
  EXPECT_TRUE(valid_spf_domain("example.com."));
  EXPECT_FALSE(valid_spf_domain("example"));
  EXPECT_FALSE(valid_spf_domain(""));
  EXPECT_FALSE(valid_spf_domain("[192.0.2.1]"));
  EXPECT_FALSE(valid_spf_domain("a..example"));
  EXPECT_FALSE(valid_spf_domain("a b.example"));
  EXPECT_FALSE(valid_spf_domain(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(valid_spf_domain(std::string(63, 'a') + ".example"));
}

}  // namespace
}  // namespace tern::spf
