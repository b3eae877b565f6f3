// SPF record parsing (RFC 7208 §4.5, §4.6, §5, §6, §12): which TXT strings
// are SPF records, every mechanism and modifier form, and the syntax errors
// that must make check_host() return permerror.
#include "services/spf/spf_record.hpp"

#include <gtest/gtest.h>

namespace tern::spf {
namespace {

Record parse_ok(std::string_view text) {
  auto r = parse_record(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error());
  return r ? *r : Record{};
}

TEST(SpfRecord, WhichRecordsAreSpf) {
  // §4.5: "v=spf1" exactly, then a space or the end; case-insensitive.
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("v=spf1 -all"));
  EXPECT_TRUE(is_spf_record("V=SpF1 ~all"));
  EXPECT_FALSE(is_spf_record("v=spf10"));
  EXPECT_FALSE(is_spf_record("v=spf1mx"));
  EXPECT_FALSE(is_spf_record("v=spf3 -all"));
  EXPECT_FALSE(is_spf_record(" v=spf1 -all"));
  EXPECT_FALSE(is_spf_record("v=spf"));
  EXPECT_FALSE(is_spf_record(""));
}

TEST(SpfRecord, Mechanisms) {
  auto r = parse_ok("v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/30 mx:%{d}"
                    " ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.bl.example.net");
  ASSERT_EQ(r.mechanisms.size(), 11u);
  EXPECT_EQ(r.mechanisms[0].kind, MechanismKind::all);
  EXPECT_EQ(r.mechanisms[0].qualifier, Qualifier::pass);
  EXPECT_EQ(r.mechanisms[1].kind, MechanismKind::include);
  EXPECT_EQ(r.mechanisms[1].qualifier, Qualifier::fail);
  EXPECT_EQ(r.mechanisms[1].domain_spec, "_spf.example.com");
  EXPECT_EQ(r.mechanisms[2].qualifier, Qualifier::softfail);
  EXPECT_EQ(r.mechanisms[2].domain_spec, "");
  EXPECT_EQ(r.mechanisms[3].qualifier, Qualifier::neutral);
  EXPECT_EQ(r.mechanisms[3].domain_spec, "mail.example.com");
  EXPECT_EQ(r.mechanisms[3].cidr4, 24);
  EXPECT_EQ(r.mechanisms[3].cidr6, 64);
  EXPECT_EQ(r.mechanisms[4].kind, MechanismKind::mx);
  EXPECT_EQ(r.mechanisms[4].cidr4, 30);
  EXPECT_EQ(r.mechanisms[4].cidr6, 128);
  EXPECT_EQ(r.mechanisms[5].domain_spec, "%{d}");
  EXPECT_EQ(r.mechanisms[6].kind, MechanismKind::ptr);
  EXPECT_EQ(r.mechanisms[7].domain_spec, "example.org");
  EXPECT_EQ(r.mechanisms[8].kind, MechanismKind::ip4);
  EXPECT_EQ(r.mechanisms[8].network.to_string(), "192.0.2.0");
  EXPECT_EQ(r.mechanisms[8].cidr4, 24);
  EXPECT_EQ(r.mechanisms[9].kind, MechanismKind::ip6);
  EXPECT_EQ(r.mechanisms[9].cidr6, 32);
  EXPECT_EQ(r.mechanisms[10].kind, MechanismKind::exists);
}

TEST(SpfRecord, Modifiers) {
  auto r = parse_ok("v=spf1 -all exp=explain.%{d} Redirect=_spf.example.com moo.cow-far_out=man:dog/cat default=+");
  EXPECT_EQ(r.redirect, "_spf.example.com");
  EXPECT_EQ(r.explanation, "explain.%{d}");
  ASSERT_EQ(r.unknown_modifiers.size(), 2u);
  EXPECT_EQ(r.unknown_modifiers[0].name, "moo.cow-far_out");
  EXPECT_EQ(r.unknown_modifiers[0].value, "man:dog/cat");
}

TEST(SpfRecord, SpacesAndEmpty) {
  EXPECT_TRUE(parse_ok("v=spf1").mechanisms.empty());
  EXPECT_EQ(parse_ok("v=spf1 a  -all").mechanisms.size(), 2u);  // §4.6.1: 1*SP
  EXPECT_EQ(parse_ok("v=spf1 a -all ").mechanisms.size(), 2u);  // record = version terms *SP
}

TEST(SpfRecord, DomainSpecMayHoldAnyVisibleCharacter) {
  auto r = parse_ok("v=spf1 a:foo:bar/baz.example.com mx:foo.example.com/24");
  EXPECT_EQ(r.mechanisms[0].domain_spec, "foo:bar/baz.example.com");
  EXPECT_EQ(r.mechanisms[0].cidr4, 32);
  EXPECT_EQ(r.mechanisms[1].domain_spec, "foo.example.com");
  EXPECT_EQ(r.mechanisms[1].cidr4, 24);
  EXPECT_EQ(parse_ok("v=spf1 a:foo.example.xn--zckzah").mechanisms.size(), 1u);  // dash in toplabel
  EXPECT_EQ(parse_ok("v=spf1 a:mail.example...com").mechanisms.size(), 1u);     // syntax ok (§7.1)
  EXPECT_EQ(parse_ok("v=spf1 a:%{H}.bar exists:%{d}").mechanisms.size(), 2u);
}

TEST(SpfRecord, SyntaxErrorsAnywhere) {
  const char* bad[] = {
      "v=spf1 ip4:1.2.3.4 -all moo",               // §4.6: unknown mechanism, even after all
      "v=spf1 moo.cow/far_out=man:dog/cat -all",   // name ends at "/", not "="
      "v=spf1 moo.cow:far_out=man:dog/cat -all",
      "v=spf1 redirect:t2.example.com",            // redirect is a modifier
      "v=spf1 a:foo-bar -all",                     // no "." toplabel
      "v=spf1 -all.", "v=spf1 -all:foobar", "v=spf1 -all/8",
      "v=spf1 ptr/0 -all", "v=spf1 ptr:",
      "v=spf1 a//33 a/33", "v=spf1 a/33", "v=spf1 a//129", "v=spf1 a/24/64",
      "v=spf1 a:111.222.33.44", "v=spf1 a:abc.123", "v=spf1 a:museum", "v=spf1 a:museum.",
      "v=spf1 a:example.com:8080", "v=spf1 a:example.-com", "v=spf1 a:",
      "v=spf1 include", "v=spf1 include:", "v=spf1 include:ip5.example.com/24",
      "v=spf1 mx:", "v=spf1 exists", "v=spf1 exists:", "v=spf1 exists:mail.example.com/24",
      "v=spf1 ip4", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4/032", "v=spf1 ip4:1.2.3.4:8080",
      "v=spf1 ip4:1.2.3", "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip4:01.2.3.4",
      "v=spf1 -all ip6", "v=spf1 ip6:::1.1.1.1/129", "v=spf1 ip6:::1.1.1.1//33", "v=spf1 ip6::CAFE::BABE",
      "v=spf1 1up=foo", "v=spf1 =all", "v=spf1 -all foo=%abc",
      "v=spf1 exp= -all", "v=spf1 exp=-all", "v=spf1 redirect=-all ?all", "v=spf1 ?all redirect=",
      "v=spf1 exp=a.example.com -all exp=b.example.com",            // §6: twice
      "v=spf1 redirect=a.example.com -all redirect=a.example.com",  // §6: twice
      "v=spf1 exists:%(ir).sbl.example.com", "v=spf1 exp=%{r}.example.com", "v=spf1 a:%{a}.example.com",
      "v=spf1 a:ctrl.example.com\rptr -all",                        // §4.6.1: SP only
      "v=spf1 ip4:192.0.2.5\n include:x.example.com",
      "v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all",               // §3.1: ASCII only
      "v=spf1 \x80" "a:example.net",
      "v=spf1 a\t-all",
  };
  for (const char* text : bad) {
    auto r = parse_record(text);
    EXPECT_FALSE(r.has_value()) << "accepted: " << text;
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
  std::string with_nul("v=spf1 a:foo.example.com\0", 26);
  EXPECT_FALSE(parse_record(with_nul).has_value());
}

TEST(SpfRecord, ErrorsNameTheTerm) {
  auto r = parse_record("v=spf1 ip4:1.2.3.4/33 -all");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("ip4:1.2.3.4/33"), std::string::npos) << r.error();
}

TEST(SpfRecord, Ip6KeepsMappedAddressesIpv6) {
  auto r = parse_ok("v=spf1 ip6:::FFFF:1.2.3.4 ip6:::1.1.1.1/0");
  EXPECT_TRUE(r.mechanisms[0].network.v6);
  EXPECT_EQ(r.mechanisms[1].cidr6, 0);
}

}  // namespace
}  // namespace tern::spf

namespace tern::spf {
namespace {
// Found by fuzz_spf_record: std::from_chars takes a sign, so "/-24" parsed
// as a CIDR length of -24. RFC 7208 §5.6 allows digits only.
TEST(SpfRecord, NegativeCidrLengthIsASyntaxError) {
  EXPECT_FALSE(parse_record("v=spf1 ip4:192.0.2.0/-24 -all").has_value());
  EXPECT_FALSE(parse_record("v=spf1 ip6:2001:db8::/-32 -all").has_value());
  EXPECT_FALSE(parse_record("v=spf1 a/+24 -all").has_value());
  EXPECT_TRUE(parse_record("v=spf1 ip4:192.0.2.0/24 -all").has_value());
}
}  // namespace
}  // namespace tern::spf
