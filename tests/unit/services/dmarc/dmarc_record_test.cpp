// DMARC record parsing (RFC 7489 §6.3, §6.4): defaults, each tag, the
// v=DMARC1-first rule, §6.6.3's p=none fallback when rua= is valid, and
// leniency towards unknown or bad optional tags.
#include "services/dmarc/dmarc_record.hpp"

#include <gtest/gtest.h>

namespace tern::dmarc {
namespace {

TEST(DmarcRecord, MinimalRecordHasTheDefaults) {
  auto r = parse_dmarc_record("v=DMARC1; p=none");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->policy, Policy::none);
  EXPECT_FALSE(r->subdomain_policy);
  EXPECT_EQ(r->dkim_alignment, Alignment::relaxed);
  EXPECT_EQ(r->spf_alignment, Alignment::relaxed);
  EXPECT_EQ(r->percent, 100u);
  EXPECT_EQ(r->failure_options, "0");
  EXPECT_EQ(r->report_format, "afrf");
  EXPECT_EQ(r->report_interval, 86400u);
  EXPECT_TRUE(r->rua.empty());
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_FALSE(r->policy_defaulted);
}

TEST(DmarcRecord, EveryTag) {
  auto r = parse_dmarc_record(
      "v=DMARC1;p=reject;sp=quarantine;adkim=s;aspf=s;pct=25;"
      "rua=mailto:agg@example.com,mailto:other@example.net!10m;ruf=mailto:f@example.com;"
      "fo=1:d;rf=afrf;ri=3600");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->policy, Policy::reject);
  EXPECT_EQ(r->subdomain_policy, Policy::quarantine);
  EXPECT_EQ(r->policy_for(false), Policy::reject);
  EXPECT_EQ(r->policy_for(true), Policy::quarantine);
  EXPECT_EQ(r->dkim_alignment, Alignment::strict);
  EXPECT_EQ(r->spf_alignment, Alignment::strict);
  EXPECT_EQ(r->percent, 25u);
  EXPECT_EQ(r->rua, (std::vector<std::string>{"mailto:agg@example.com", "mailto:other@example.net!10m"}));
  EXPECT_EQ(r->ruf, (std::vector<std::string>{"mailto:f@example.com"}));
  EXPECT_EQ(r->failure_options, "1:d");
  EXPECT_EQ(r->report_interval, 3600u);
  EXPECT_TRUE(r->warnings.empty());
}

// §6.4 ABNF: *WSP around "=" and ";"; tag names and keywords are case-insensitive.
TEST(DmarcRecord, WhitespaceAndCase) {
  auto r = parse_dmarc_record("v = DMARC1 ;  P = Reject ;\tSP=NONE ; ADKIM = S ;");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->policy, Policy::reject);
  EXPECT_EQ(r->subdomain_policy, Policy::none);
  EXPECT_EQ(r->dkim_alignment, Alignment::strict);
}

TEST(DmarcRecord, VersionMustComeFirstAndBeExact) {
  EXPECT_FALSE(parse_dmarc_record("p=reject; v=DMARC1"));
  EXPECT_FALSE(parse_dmarc_record("v=DMARC2; p=reject"));
  EXPECT_FALSE(parse_dmarc_record("v=dmarc1; p=reject"));  // %x44... is case-sensitive
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1x; p=reject"));
  EXPECT_FALSE(parse_dmarc_record(""));
  EXPECT_FALSE(parse_dmarc_record("v=spf1 -all"));
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=none; v=DMARC1"));
  EXPECT_TRUE(is_dmarc_record("v=DMARC1"));
  EXPECT_TRUE(is_dmarc_record("v=DMARC1;"));
  EXPECT_TRUE(is_dmarc_record("v=DMARC1 ; p=none"));
  EXPECT_FALSE(is_dmarc_record("v=DMARC10; p=none"));
  EXPECT_FALSE(is_dmarc_record("v=spf1 include:x"));
}

TEST(DmarcRecord, MissingPolicyIsAnError) {
  auto r = parse_dmarc_record("v=DMARC1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("p= missing"), std::string::npos);
  r = parse_dmarc_record("v=DMARC1; p=block");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("p= invalid"), std::string::npos);
  r = parse_dmarc_record("v=DMARC1; p=reject; sp=maybe");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("sp= invalid"), std::string::npos);
}

// §6.6.3 step 6: p= missing or invalid, but a valid rua=: act as p=none.
TEST(DmarcRecord, MissingPolicyWithValidRuaMeansNone) {
  auto r = parse_dmarc_record("v=DMARC1; rua=mailto:dmarc@example.com");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->policy, Policy::none);
  EXPECT_TRUE(r->policy_defaulted);
  r = parse_dmarc_record("v=DMARC1; p=bogus; sp=reject; rua=mailto:dmarc@example.com");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->policy_for(true), Policy::none);
  auto bad = parse_dmarc_record("v=DMARC1; rua=not a uri");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("no valid rua="), std::string::npos);
}

TEST(DmarcRecord, UnknownTagsAreIgnored) {
  auto r = parse_dmarc_record("v=DMARC1; p=quarantine; foo=bar; x_y=1");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->policy, Policy::quarantine);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(DmarcRecord, BadOptionalTagsFallBackToDefaultsWithWarnings) {
  auto r = parse_dmarc_record("v=DMARC1; p=reject; pct=101; adkim=x; aspf=; fo=2; rf=a b; ri=-1; garbage");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->percent, 100u);
  EXPECT_EQ(r->dkim_alignment, Alignment::relaxed);
  EXPECT_EQ(r->spf_alignment, Alignment::relaxed);
  EXPECT_EQ(r->failure_options, "0");
  EXPECT_EQ(r->report_interval, 86400u);
  EXPECT_EQ(r->warnings.size(), 7u);
}

TEST(DmarcRecord, PercentBounds) {
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=0")->percent, 0u);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=100")->percent, 100u);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=0050")->percent, 100u);  // 1*3DIGIT
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=050")->percent, 50u);
}

TEST(DmarcRecord, RepeatedTagKeepsTheFirst) {
  auto r = parse_dmarc_record("v=DMARC1; p=reject; p=none");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policy, Policy::reject);
  EXPECT_EQ(r->warnings.size(), 1u);
}

TEST(DmarcRecord, InvalidReportUrisAreDropped) {
  auto r = parse_dmarc_record("v=DMARC1; p=none; rua=mailto:a@example.com, junk, :x, https://r.example/!1x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rua, std::vector<std::string>{"mailto:a@example.com"});
  EXPECT_EQ(r->warnings.size(), 3u);
}

}  // namespace
}  // namespace tern::dmarc
