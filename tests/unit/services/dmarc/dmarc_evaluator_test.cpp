// DMARC evaluation over a scripted resolver: discovery at the From domain and
// the Organizational Domain (RFC 7489 §6.6.3), alignment relaxed and strict
// (§3.1), sp=, pct= with an injected random source, missing, multiple and
// invalid records, temporary DNS failures, CNAMEs; and the report line.
#include "services/dmarc/dmarc_evaluator.hpp"

#include <gtest/gtest.h>

#include "services/dmarc/dmarc_report.hpp"
#include "tests/unit/services/dns/fake_resolver.hpp"

namespace tern::dmarc {
namespace {

using auth::DkimResult;
using auth::DmarcResult;
using auth::SpfResult;
using dns::testing::FakeResolver;

constexpr const char* kList = "com\nuk\nco.uk\ntest\n// ===BEGIN PRIVATE DOMAINS===\nhosted.test\n";

class DmarcEvaluatorTest : public ::testing::Test {
 protected:
  void txt(const std::string& name, std::vector<std::string> texts) {
    dns::DnsAnswer a;
    a.status = dns::DnsStatus::ok;
    for (auto& t : texts) a.records.emplace_back(dns::TxtRecord{{std::move(t)}});
    dns.set(name, dns::RrType::txt, std::move(a));
  }

  DmarcOutcome evaluate(DmarcInput in, RandomBelow random = nullptr) {
    std::optional<DmarcOutcome> out;
    int calls = 0;
    evaluate_dmarc(dns, psl, std::move(in), [&](DmarcOutcome o) {
      ++calls;
      out = std::move(o);
    }, std::move(random));
    dns.run();
    EXPECT_EQ(calls, 1);
    return out.value_or(DmarcOutcome{});
  }

  static DmarcInput input(std::string from, SpfResult spf, std::string spf_domain,
                          std::vector<DmarcInput::Dkim> dkim = {}) {
    return DmarcInput{std::move(from), spf, std::move(spf_domain), std::move(dkim)};
  }

  FakeResolver dns;
  PublicSuffixList psl = PublicSuffixList::parse(kList);
};

TEST_F(DmarcEvaluatorTest, AlignedSpfPasses) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject"});
  auto o = evaluate(input("example.com", SpfResult::pass, "example.com"));
  EXPECT_EQ(o.result, DmarcResult::pass);
  EXPECT_EQ(o.policy, "reject");
  EXPECT_EQ(o.disposition, "none");
  EXPECT_EQ(o.policy_domain, "example.com");
  EXPECT_TRUE(o.spf_aligned);
  EXPECT_FALSE(o.dkim_aligned);
  ASSERT_TRUE(o.record);
}

TEST_F(DmarcEvaluatorTest, AlignedDkimPassesEvenWhenSpfFails) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject"});
  auto o = evaluate(input("example.com", SpfResult::fail, "example.com",
                          {{DkimResult::fail, "example.com"}, {DkimResult::pass, "example.com"}}));
  EXPECT_EQ(o.result, DmarcResult::pass);
  EXPECT_TRUE(o.dkim_aligned);
  EXPECT_FALSE(o.spf_aligned);
}

TEST_F(DmarcEvaluatorTest, UnalignedPassesFailWithReject) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject"});
  auto o = evaluate(input("example.com", SpfResult::pass, "bulk-mailer.test",
                          {{DkimResult::pass, "bulk-mailer.test"}, {DkimResult::fail, "example.com"}}));
  EXPECT_EQ(o.result, DmarcResult::fail);
  EXPECT_EQ(o.policy, "reject");
  EXPECT_EQ(o.disposition, "reject");
  EXPECT_FALSE(o.spf_aligned);
  EXPECT_FALSE(o.dkim_aligned);
}

TEST_F(DmarcEvaluatorTest, SoftfailOrNeutralSpfNeverAligns) {
  txt("_dmarc.example.com", {"v=DMARC1; p=quarantine"});
  auto o = evaluate(input("example.com", SpfResult::softfail, "example.com"));
  EXPECT_EQ(o.result, DmarcResult::fail);
  EXPECT_EQ(o.disposition, "quarantine");
}

// §3.1: relaxed = same Organizational Domain; strict = the same name.
TEST_F(DmarcEvaluatorTest, RelaxedAndStrictAlignment) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject"});
  auto relaxed = evaluate(input("example.com", SpfResult::pass, "bounces.example.com",
                                {{DkimResult::pass, "mail.EXAMPLE.com"}}));
  EXPECT_EQ(relaxed.result, DmarcResult::pass);
  EXPECT_TRUE(relaxed.spf_aligned);
  EXPECT_TRUE(relaxed.dkim_aligned);

  txt("_dmarc.example.com", {"v=DMARC1; p=reject; aspf=s; adkim=s"});
  auto strict = evaluate(input("example.com", SpfResult::pass, "bounces.example.com",
                               {{DkimResult::pass, "mail.example.com"}}));
  EXPECT_EQ(strict.result, DmarcResult::fail);
  EXPECT_EQ(strict.disposition, "reject");

  auto exact = evaluate(input("example.com", SpfResult::pass, "bounces.example.com",
                              {{DkimResult::pass, "Example.com."}}));
  EXPECT_EQ(exact.result, DmarcResult::pass);
  EXPECT_TRUE(exact.dkim_aligned);
  EXPECT_FALSE(exact.spf_aligned);
}

// Relaxed alignment works on Organizational Domains, not string suffixes.
TEST_F(DmarcEvaluatorTest, RelaxedAlignmentRespectsPublicSuffixes) {
  txt("_dmarc.example.co.uk", {"v=DMARC1; p=reject"});
  auto o = evaluate(input("example.co.uk", SpfResult::pass, "other.co.uk", {{DkimResult::pass, "co.uk"}}));
  EXPECT_EQ(o.result, DmarcResult::fail);
  // A private-section suffix separates its customers too.
  txt("_dmarc.alice.hosted.test", {"v=DMARC1; p=reject"});
  auto p = evaluate(input("alice.hosted.test", SpfResult::pass, "bob.hosted.test"));
  EXPECT_EQ(p.result, DmarcResult::fail);
}

// §6.6.3: no record at mail.example.co.uk, so the Organizational Domain's.
TEST_F(DmarcEvaluatorTest, OrganizationalDomainFallbackUsesSp) {
  txt("_dmarc.example.co.uk", {"v=DMARC1; p=reject; sp=quarantine"});
  auto o = evaluate(input("mail.example.co.uk", SpfResult::fail, "mail.example.co.uk"));
  EXPECT_EQ(o.result, DmarcResult::fail);
  EXPECT_EQ(o.policy_domain, "example.co.uk");
  EXPECT_EQ(o.policy, "quarantine");
  EXPECT_EQ(o.disposition, "quarantine");
  EXPECT_EQ(dns.count("_dmarc.mail.example.co.uk", dns::RrType::txt), 1u);
  EXPECT_EQ(dns.count("_dmarc.example.co.uk", dns::RrType::txt), 1u);
}

TEST_F(DmarcEvaluatorTest, FallbackWithoutSpUsesP) {
  txt("_dmarc.example.co.uk", {"v=DMARC1; p=reject"});
  auto o = evaluate(input("a.b.example.co.uk", SpfResult::none, ""));
  EXPECT_EQ(o.policy, "reject");
  EXPECT_EQ(o.disposition, "reject");
}

// sp= is for subdomains only; at the From domain itself p= applies.
TEST_F(DmarcEvaluatorTest, SpDoesNotApplyToTheDomainItself) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject; sp=none"});
  auto o = evaluate(input("example.com", SpfResult::fail, "example.com"));
  EXPECT_EQ(o.policy, "reject");
  // A subdomain's own record applies with its p=, not the parent's sp=.
  txt("_dmarc.sub.example.com", {"v=DMARC1; p=quarantine"});
  auto s = evaluate(input("sub.example.com", SpfResult::fail, "example.com"));
  EXPECT_EQ(s.policy_domain, "sub.example.com");
  EXPECT_EQ(s.policy, "quarantine");
}

TEST_F(DmarcEvaluatorTest, PctZeroSoftensEveryFailure) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject; pct=0"});
  auto o = evaluate(input("example.com", SpfResult::fail, "example.com"), [](std::size_t) -> std::size_t {
    ADD_FAILURE() << "pct=0 needs no random number";
    return 0;
  });
  EXPECT_EQ(o.result, DmarcResult::fail);
  EXPECT_EQ(o.policy, "reject");
  EXPECT_EQ(o.disposition, "quarantine");
  EXPECT_FALSE(o.sampled);
  txt("_dmarc.example.com", {"v=DMARC1; p=quarantine; pct=0"});
  EXPECT_EQ(evaluate(input("example.com", SpfResult::fail, "example.com")).disposition, "none");
}

TEST_F(DmarcEvaluatorTest, PctSamplingUsesTheInjectedSource) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject; pct=30"});
  std::vector<std::size_t> asked;
  auto roll = [&](std::size_t value) {
    return [&asked, value](std::size_t n) {
      asked.push_back(n);
      return value;
    };
  };
  auto in = input("example.com", SpfResult::fail, "example.com");
  auto inside = evaluate(in, roll(29));
  EXPECT_EQ(inside.disposition, "reject");
  EXPECT_TRUE(inside.sampled);
  auto outside = evaluate(in, roll(30));
  EXPECT_EQ(outside.disposition, "quarantine");
  EXPECT_FALSE(outside.sampled);
  EXPECT_EQ(asked, (std::vector<std::size_t>{100, 100}));
  // A pass never consults the sample.
  auto pass = evaluate(input("example.com", SpfResult::pass, "example.com"), roll(99));
  EXPECT_EQ(pass.disposition, "none");
  EXPECT_EQ(asked.size(), 2u);
}

TEST_F(DmarcEvaluatorTest, PctWithTheDefaultSourceSamplesBothWays) {
  txt("_dmarc.example.com", {"v=DMARC1; p=reject; pct=50"});
  int rejected = 0;
  for (int i = 0; i < 200; ++i)
    rejected += evaluate(input("example.com", SpfResult::fail, "example.com")).disposition == "reject";
  EXPECT_GT(rejected, 0);  // a miss on either side has probability 2^-200
  EXPECT_LT(rejected, 200);
}

TEST_F(DmarcEvaluatorTest, NoRecordAnywhereIsNone) {
  auto o = evaluate(input("mail.example.co.uk", SpfResult::pass, "mail.example.co.uk"));
  EXPECT_EQ(o.result, DmarcResult::none);
  EXPECT_EQ(o.policy, "none");
  EXPECT_EQ(o.disposition, "none");
  EXPECT_FALSE(o.record);
  EXPECT_EQ(dns.count("_dmarc.example.co.uk", dns::RrType::txt), 1u);
}

// §6.6.3 step 4: other TXT records at _dmarc are discarded first.
TEST_F(DmarcEvaluatorTest, NonDmarcTxtRecordsAreIgnored) {
  txt("_dmarc.example.com", {"v=spf1 -all", "google-site-verification=abc", "v=DMARC1; p=quarantine"});
  auto o = evaluate(input("example.com", SpfResult::fail, "example.com"));
  EXPECT_EQ(o.policy, "quarantine");
  txt("_dmarc.other.com", {"hello"});
  EXPECT_EQ(evaluate(input("other.com", SpfResult::fail, "other.com")).result, DmarcResult::none);
}

// §6.6.3 step 5: several records: no DMARC, and no fallback either.
TEST_F(DmarcEvaluatorTest, MultipleRecordsMeanNoPolicy) {
  txt("_dmarc.mail.example.com", {"v=DMARC1; p=reject", "v=DMARC1; p=none"});
  txt("_dmarc.example.com", {"v=DMARC1; p=reject"});
  auto o = evaluate(input("mail.example.com", SpfResult::fail, "x.test"));
  EXPECT_EQ(o.result, DmarcResult::none);
  EXPECT_EQ(o.disposition, "none");
  EXPECT_NE(o.detail.find("2 DMARC records"), std::string::npos);
  EXPECT_EQ(dns.count("_dmarc.example.com", dns::RrType::txt), 0u);
}

TEST_F(DmarcEvaluatorTest, TemporaryDnsFailureIsTemperror) {
  dns.status("_dmarc.example.com", dns::RrType::txt, dns::DnsStatus::temporary, "SERVFAIL");
  auto o = evaluate(input("example.com", SpfResult::pass, "example.com"));
  EXPECT_EQ(o.result, DmarcResult::temperror);
  EXPECT_EQ(o.disposition, "none");
  EXPECT_NE(o.detail.find("SERVFAIL"), std::string::npos);
  // Also at the Organizational Domain step.
  dns.status("_dmarc.example.co.uk", dns::RrType::txt, dns::DnsStatus::temporary, "timeout");
  EXPECT_EQ(evaluate(input("mail.example.co.uk", SpfResult::pass, "x.test")).result, DmarcResult::temperror);
}

TEST_F(DmarcEvaluatorTest, InvalidRecordIsPermerror) {
  txt("_dmarc.example.com", {"v=DMARC1; p=block"});
  auto o = evaluate(input("example.com", SpfResult::fail, "example.com"));
  EXPECT_EQ(o.result, DmarcResult::permerror);
  EXPECT_EQ(o.policy_domain, "example.com");
  // With a valid rua= it is p=none (§6.6.3 step 6).
  txt("_dmarc.example.com", {"v=DMARC1; p=block; rua=mailto:d@example.com"});
  auto n = evaluate(input("example.com", SpfResult::fail, "example.com"));
  EXPECT_EQ(n.result, DmarcResult::fail);
  EXPECT_EQ(n.policy, "none");
  EXPECT_EQ(n.disposition, "none");
}

// Hosted DMARC: _dmarc.example.com is a CNAME the static zone does not chase.
TEST_F(DmarcEvaluatorTest, CnameIsFollowed) {
  dns.cname("_dmarc.example.com", "example.com.dmarc.provider.test");
  txt("example.com.dmarc.provider.test", {"v=DMARC1; p=quarantine"});
  auto o = evaluate(input("example.com", SpfResult::fail, "example.com"));
  EXPECT_EQ(o.policy, "quarantine");
  EXPECT_EQ(o.policy_domain, "example.com");
  dns.cname("_dmarc.loop.com", "_dmarc.loop.com");
  EXPECT_EQ(evaluate(input("loop.com", SpfResult::fail, "x")).result, DmarcResult::none);
}

TEST_F(DmarcEvaluatorTest, DeferredAnswersStillCompleteOnce) {
  dns.deferred = true;
  txt("_dmarc.example.co.uk", {"v=DMARC1; p=reject; sp=quarantine"});
  auto o = evaluate(input("mail.example.co.uk", SpfResult::fail, "x.test"));
  EXPECT_EQ(o.disposition, "quarantine");
}

TEST_F(DmarcEvaluatorTest, NoFromDomainIsNoneWithoutDns) {
  auto o = evaluate(input("", SpfResult::pass, "example.com"));
  EXPECT_EQ(o.result, DmarcResult::none);
  EXPECT_TRUE(dns.asked.empty());
}

TEST(DmarcReport, OneJsonLine) {
  DmarcInput in{"example.com", SpfResult::pass, "bounce.example.com",
                {{DkimResult::pass, "example.com"}, {DkimResult::fail, "ex\"ample.net"}}};
  DmarcOutcome out;
  out.result = DmarcResult::pass;
  out.policy_domain = "example.com";
  out.policy = "reject";
  out.disposition = "none";
  out.spf_aligned = true;
  out.dkim_aligned = true;
  out.record = *parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s");
  auto line = dmarc_report_line(in, out, "192.0.2.1", std::chrono::sys_seconds{std::chrono::seconds{1795423301}});
  EXPECT_EQ(line,
            "{\"time\":\"2026-11-23T08:41:41Z\",\"source_ip\":\"192.0.2.1\",\"header_from\":\"example.com\","
            "\"policy_domain\":\"example.com\",\"result\":\"pass\",\"p\":\"reject\",\"sp\":\"quarantine\","
            "\"pct\":50,\"adkim\":\"s\",\"aspf\":\"r\",\"policy\":\"reject\",\"disposition\":\"none\","
            "\"sampled\":true,\"dkim\":[{\"domain\":\"example.com\",\"result\":\"pass\"},"
            "{\"domain\":\"ex\\\"ample.net\",\"result\":\"fail\"}],"
            "\"spf\":{\"domain\":\"bounce.example.com\",\"result\":\"pass\"},"
            "\"dkim_aligned\":true,\"spf_aligned\":true}");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(DmarcReport, NoRecordAndHostileStrings) {
  DmarcInput in{"b\xc3\xbc" "cher.example", SpfResult::none, "x\ny\xff", {}};
  DmarcOutcome out;
  auto line = dmarc_report_line(in, out, "2001:db8::1", std::chrono::system_clock::time_point{});
  EXPECT_NE(line.find("\"p\":null"), std::string::npos);
  EXPECT_NE(line.find("\"header_from\":\"b\xc3\xbc" "cher.example\""), std::string::npos);
  EXPECT_NE(line.find("\"domain\":\"x\\u000ay\\ufffd\""), std::string::npos);
  EXPECT_NE(line.find("\"time\":\"1970-01-01T00:00:00Z\""), std::string::npos);
}

}  // namespace
}  // namespace tern::dmarc
