// SPF macro expansion (RFC 7208 §7): the examples of §7.4 verbatim, the
// special expansions, URL escaping, IPv6 nibbles, and the syntax errors the
// evaluator turns into permerror.
#include "services/spf/spf_macro.hpp"

#include <gtest/gtest.h>

#include "base/strings.hpp"

namespace tern::spf {
namespace {

// RFC 7208 §7.4: "The <sender> is strong-bad@email.example.com. The IPv4
// SMTP client IP is 192.0.2.3. The IPv6 SMTP client IP is 2001:db8::cb01.
// The PTR domain name of the client IP is mx.example.org."
MacroValues rfc_values(const char* ip = "192.0.2.3") {
  MacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = *IpAddress::parse(ip);
  v.validated_name = "mx.example.org";
  v.helo = "mx.example.org";
  return v;
}

std::string expand(std::string_view text, const MacroValues& v, MacroKind kind = MacroKind::domain_spec) {
  auto r = expand_macros(text, v, kind);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error());
  return r ? *r : std::string("<error>");
}

TEST(SpfMacro, Rfc7208Section74Letters) {
  const auto v = rfc_values();
  const std::pair<const char*, const char*> table[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
  };
  for (const auto& [macro, expansion] : table) EXPECT_EQ(expand(macro, v), expansion) << macro;
}

TEST(SpfMacro, Rfc7208Section74Strings) {
  const auto v = rfc_values();
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", v), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}", v), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", v), "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", v), "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net", v), "example.com.trusted-domains.example.net");
}

TEST(SpfMacro, Rfc7208Section74Ipv6) {
  const auto v = rfc_values("2001:db8::cb01");
  // DNS names compare case-insensitively; Tern writes the nibbles in upper
  // case, as the RFC 7208 test suite expects for %{i}.
  EXPECT_TRUE(iequals(expand("%{ir}.%{v}._spf.%{d2}", v),
                      "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"));
  EXPECT_EQ(expand("%{i}", v), "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1");
  EXPECT_EQ(expand("%{c}", v, MacroKind::explanation), "2001:db8::cb01");
}

TEST(SpfMacro, SpecialExpansions) {
  const auto v = rfc_values();
  // §7.1: "%%" is "%", "%_" a space, "%-" "%20".
  EXPECT_EQ(expand("macro%%percent%_%_space%-url-space.example.com", v),
            "macro%percent  space%20url-space.example.com");
  EXPECT_EQ(expand("%{p}.example.net", v), "mx.example.org.example.net");
  MacroValues no_p = v;
  no_p.validated_name.reset();
  EXPECT_EQ(expand("%{p}", no_p), "unknown");  // §7.3
  EXPECT_EQ(expand("%{h}", v), "mx.example.org");
  EXPECT_EQ(expand("%{v}", rfc_values("2001:db8::1")), "ip6");
}

TEST(SpfMacro, UpperCaseIsUrlEscaped) {
  auto v = rfc_values();
  v.local_part = "~jack&jill=up-a_b3.c";
  // §7.3: upper-case letters are URL-escaped (RFC 3986 unreserved kept).
  EXPECT_EQ(expand("%{L}", v), "~jack%26jill%3Dup-a_b3.c");
  EXPECT_EQ(expand("%{S}", rfc_values()), "strong-bad%40email.example.com");
}

TEST(SpfMacro, MultipleDelimiters) {
  auto v = rfc_values();
  v.local_part = "foo-bar+zip+quux";
  EXPECT_EQ(expand("%{l2r+-}", v), "bar.foo");
  EXPECT_EQ(expand("%{l+-}", v), "foo.bar.zip.quux");
  EXPECT_EQ(expand("%{d99}", v), "email.example.com");  // more parts than there are: all
}

TEST(SpfMacro, ExplanationOnlyLetters) {
  auto v = rfc_values();
  v.receiver = "mx.receiver.example";
  v.timestamp = 1234567890;
  EXPECT_EQ(expand("%{c} via %{r} at %{t}", v, MacroKind::explanation), "192.0.2.3 via mx.receiver.example at 1234567890");
  // §7.3: c, r and t only in explanation text.
  for (const char* bad : {"%{c}.example.com", "%{r}.example.com", "%{t}.example.com"})
    EXPECT_FALSE(check_macro_string(bad, MacroKind::domain_spec).has_value()) << bad;
  EXPECT_TRUE(check_macro_string("%{c}", MacroKind::explanation).has_value());
  // A space only in explanations.
  EXPECT_TRUE(check_macro_string("a b", MacroKind::explanation).has_value());
  EXPECT_FALSE(check_macro_string("a b", MacroKind::domain_spec).has_value());
}

TEST(SpfMacro, SyntaxErrors) {
  // §7.1: "A '%' character not followed by a '{', '%', '-', or '_' character
  // is a syntax error."
  for (const char* bad : {"%(ir).sbl.example.com", "foo%.sbl.example.com", "%", "%{", "%{d", "%{x}",
                          "%{a}.example.com", "%{d0}", "%{d2r+x}", "%{}", "a\tb", "\x80"})
    EXPECT_FALSE(check_macro_string(bad, MacroKind::domain_spec).has_value()) << bad;
  for (const char* good : {"%{d}", "%{D2R-.}", "%%%_%-", "_spf.%{d2}", "%{ir}.%{v}._spf.%{d2}"})
    EXPECT_TRUE(check_macro_string(good, MacroKind::domain_spec).has_value()) << good;
}

TEST(SpfMacro, UsesP) {
  EXPECT_TRUE(uses_p_macro("%{p}.example.com"));
  EXPECT_TRUE(uses_p_macro("x%{P2}"));
  EXPECT_FALSE(uses_p_macro("%%{p}"));
  EXPECT_FALSE(uses_p_macro("%{d}.p"));
}

TEST(SpfMacro, Names) {
  EXPECT_EQ(reverse_name(*IpAddress::parse("192.0.2.3")), "3.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name(*IpAddress::parse("2001:db8::cb01")),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(fit_domain_name("example.com."), "example.com");
  // §7.3: longer than 253: labels go from the left.
  std::string long_name;
  for (int i = 0; i < 30; ++i) long_name += "abcdefghi.";
  long_name += "example.com";
  std::string fitted = fit_domain_name(long_name);
  EXPECT_LE(fitted.size(), 253u);
  EXPECT_TRUE(fitted.ends_with("abcdefghi.example.com"));
  EXPECT_FALSE(fitted.starts_with("."));
}

}  // namespace
}  // namespace tern::spf
