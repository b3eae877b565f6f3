// Public Suffix List rules (normal, wildcard, exception, default "*"), IDN
// rules through the Punycode encoder, sections, and the Organizational
// Domain of RFC 7489 §3.2. Cases from the list's own test_psl.txt.
#include "services/dmarc/public_suffix.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "services/dmarc/dmarc_evaluator.hpp"

namespace tern::dmarc {
namespace {

constexpr const char* kList = R"(// A trimmed Public Suffix List.
// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
us
ak.us
k12.ak.us
jp
// kobe.jp: wildcard with an exception
*.kobe.jp
!city.kobe.jp
*.ck
!www.ck
cn
com.cn
公司.cn
рф
ac.uk   trailing text after whitespace is ignored
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
uk.com
blogspot.com
// ===END PRIVATE DOMAINS===
)";

class PublicSuffixTest : public ::testing::Test {
 protected:
  PublicSuffixList psl = PublicSuffixList::parse(kList);
  std::string org(std::string_view n) { return psl.organizational_domain(n); }
};

TEST(Punycode, Rfc3492AndKnownLabels) {
  EXPECT_EQ(punycode_encode(U"münchen"), "mnchen-3ya");
  EXPECT_EQ(punycode_encode(U"bücher"), "bcher-kva");
  EXPECT_EQ(to_a_label("公司"), "xn--55qx5d");
  EXPECT_EQ(to_a_label("食狮"), "xn--85x722f");
  EXPECT_EQ(to_a_label("рф"), "xn--p1ai");
  EXPECT_EQ(to_a_label("中国"), "xn--fiqs8s");
  // RFC 3492 §7.1 (B) Chinese (simplified).
  EXPECT_EQ(punycode_encode(U"\u4ED6\u4EEC\u4E3A\u4EC0\u4E48\u4E0D\u8BF4\u4E2D\u6587"), "ihqwcrb4cv8a8dqg056pqjye");
  // RFC 3492 §7.1 (L) mixed ASCII: "3年B組金八先生".
  EXPECT_EQ(punycode_encode(U"3\u5E74B\u7D44\u91D1\u516B\u5148\u751F"), "3B-ww4c5e180e575a65lsy2b");
  EXPECT_EQ(to_a_label("MiXeD"), "mixed");
  EXPECT_FALSE(to_a_label("\xff\xfe"));
  EXPECT_FALSE(to_a_label("\xc0\xaf"));  // overlong
  EXPECT_EQ(normalize_domain("WWW.Example.COM."), "www.example.com");
  EXPECT_EQ(normalize_domain("bücher.example"), "xn--bcher-kva.example");
}

TEST_F(PublicSuffixTest, NormalRules) {
  EXPECT_EQ(org("example.com"), "example.com");
  EXPECT_EQ(org("b.example.com"), "example.com");
  EXPECT_EQ(org("a.b.example.com"), "example.com");
  EXPECT_EQ(org("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(org("example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl.public_suffix("mail.example.co.uk"), "co.uk");
  EXPECT_EQ(org("test.k12.ak.us"), "test.k12.ak.us");
  EXPECT_EQ(org("www.test.k12.ak.us"), "test.k12.ak.us");
  EXPECT_EQ(org("a.b.ac.uk"), "b.ac.uk");
}

TEST_F(PublicSuffixTest, APublicSuffixStandsForItself) {
  EXPECT_EQ(org("com"), "com");
  EXPECT_EQ(org("co.uk"), "co.uk");
  EXPECT_EQ(org("k12.ak.us"), "k12.ak.us");
}

TEST_F(PublicSuffixTest, WildcardAndExceptionRules) {
  EXPECT_EQ(psl.public_suffix("c.kobe.jp"), "c.kobe.jp");
  EXPECT_EQ(org("b.c.kobe.jp"), "b.c.kobe.jp");
  EXPECT_EQ(org("a.b.c.kobe.jp"), "b.c.kobe.jp");
  EXPECT_EQ(org("city.kobe.jp"), "city.kobe.jp");
  EXPECT_EQ(org("www.city.kobe.jp"), "city.kobe.jp");
  EXPECT_EQ(psl.public_suffix("city.kobe.jp"), "kobe.jp");
  EXPECT_EQ(psl.public_suffix("test.ck"), "test.ck");
  EXPECT_EQ(org("b.test.ck"), "b.test.ck");
  EXPECT_EQ(org("www.ck"), "www.ck");
  EXPECT_EQ(org("www.www.ck"), "www.ck");
  EXPECT_EQ(psl.public_suffix("ck"), "ck");  // the wildcard needs a label; the default rule applies
}

TEST_F(PublicSuffixTest, DefaultRuleForUnlistedTlds) {
  EXPECT_EQ(org("example"), "example");
  EXPECT_EQ(org("example.example"), "example.example");
  EXPECT_EQ(org("b.example.example"), "example.example");
  EXPECT_EQ(org("a.b.example.example"), "example.example");
}

TEST_F(PublicSuffixTest, CaseAndTrailingDot) {
  EXPECT_EQ(org("WwW.Example.COM"), "example.com");
  EXPECT_EQ(org("mail.example.co.uk."), "example.co.uk");
}

TEST_F(PublicSuffixTest, IdnRulesMatchALabelsAndULabels) {
  EXPECT_EQ(org("www.xn--55qx5d.cn"), "www.xn--55qx5d.cn");
  EXPECT_EQ(org("a.www.公司.cn"), "www.xn--55qx5d.cn");
  EXPECT_EQ(org("xn--85x722f.com.cn"), "xn--85x722f.com.cn");
  EXPECT_EQ(org("食狮.com.cn"), "xn--85x722f.com.cn");
  EXPECT_EQ(org("mail.xn--d1acufc.xn--p1ai"), "xn--d1acufc.xn--p1ai");
}

TEST_F(PublicSuffixTest, PrivateSectionUsedByDefault) {
  EXPECT_EQ(org("alice.blogspot.com"), "alice.blogspot.com");
  EXPECT_EQ(org("example.uk.com"), "example.uk.com");
  auto icann = PublicSuffixList::parse(kList, PublicSuffixList::Sections::icann_only);
  EXPECT_EQ(icann.organizational_domain("alice.blogspot.com"), "blogspot.com");
  EXPECT_LT(icann.rule_count(), psl.rule_count());
}

TEST_F(PublicSuffixTest, OddNamesDoNotCrash) {
  EXPECT_EQ(org(""), "");
  EXPECT_EQ(org("."), "");
  EXPECT_EQ(org("\xff.com"), "");
  EXPECT_EQ(org(std::string(300, 'a') + ".com"), "");
  EXPECT_EQ(org("a..example.com"), "");
  EXPECT_EQ(org("e..."), "");
  EXPECT_EQ(org(".example.com"), "");
}

// The list Debian ships (package publicsuffix), when installed.
TEST(PublicSuffixFile, SystemList) {
  if (!std::filesystem::exists(kDefaultPublicSuffixList)) GTEST_SKIP() << "no " << kDefaultPublicSuffixList;
  auto psl = load_public_suffix_list();
  ASSERT_TRUE(psl) << psl.error().detail;
  EXPECT_GT(psl->rule_count(), 5000u);
  EXPECT_EQ(psl->organizational_domain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl->organizational_domain("a.b.example.com"), "example.com");
  EXPECT_EQ(psl->organizational_domain("www.ck"), "www.ck");
  EXPECT_EQ(psl->organizational_domain("x.y.www.ck"), "www.ck");
  EXPECT_EQ(psl->organizational_domain("mail.example.公司.cn"), "example.xn--55qx5d.cn");
}

TEST(PublicSuffixFile, MissingFileIsAnError) {
  auto psl = load_public_suffix_list("/nonexistent/psl.dat");
  ASSERT_FALSE(psl);
  EXPECT_TRUE(psl.error().permanent());
}

}  // namespace
}  // namespace tern::dmarc
