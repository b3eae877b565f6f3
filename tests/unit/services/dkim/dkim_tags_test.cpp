// The tag=value grammar (RFC 6376 §3.2), the DKIM-Signature field (§3.5)
// and the key record (§3.6.1): what is accepted, the defaults, and a reason
// for every rejection.
#include "services/dkim/dkim_tags.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tern::dkim {
namespace {

// bh= needs 32 bytes (SHA-256) or 20 (SHA-1) to parse.
const std::string bh256 = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
const std::string bh1 = "uoq1oCgLlTqpdDX/iUbLy7J1Wic=";

std::string sig_with(std::string extra, std::string a = "rsa-sha256", std::string bh = bh256) {
  return " v=1; a=" + a + "; d=Example.COM; s=Sel1;\r\n\th=from:to:subject; bh=" + bh + ";\r\n\tb=dGVz\r\n\t dA==" +
         (extra.empty() ? "" : "; " + extra);
}

std::string error_of(const std::string& value) {
  auto r = parse_signature(value);
  EXPECT_FALSE(r.has_value()) << value;
  return r ? "" : r.error();
}

TEST(DkimTagList, ParsesWithFwsAndTrailingSemicolon) {
  auto tags = parse_tag_list(" a = 1 ;\r\n\tb=x y\r\n z ;c=;");
  ASSERT_TRUE(tags) << tags.error();
  ASSERT_EQ(tags->size(), 3u);
  EXPECT_EQ((*tags)[0].name, "a");
  EXPECT_EQ((*tags)[0].value, "1");
  EXPECT_EQ((*tags)[1].value, "x y\r\n z");
  EXPECT_EQ((*tags)[2].value, "");
  EXPECT_EQ(find_tag(*tags, "b")->value, "x y\r\n z");
  EXPECT_EQ(find_tag(*tags, "B"), nullptr);  // §3.2: names are case-sensitive
}

TEST(DkimTagList, EmptyIsEmpty) {
  EXPECT_TRUE(parse_tag_list("")->empty());
  EXPECT_TRUE(parse_tag_list("  \t")->empty());
}

TEST(DkimTagList, Rejections) {
  EXPECT_EQ(parse_tag_list("a=1; a=2").error(), "duplicate tag a");
  EXPECT_EQ(parse_tag_list("a=1;;b=2").error(), "empty tag-spec");
  EXPECT_EQ(parse_tag_list(";").error(), "empty tag-spec");
  EXPECT_EQ(parse_tag_list("1a=1").error(), "tag name does not start with a letter");
  EXPECT_EQ(parse_tag_list("a b=1").error(), "tag a has no \"=\"");
  EXPECT_EQ(parse_tag_list("a").error(), "tag a has no \"=\"");
  EXPECT_FALSE(parse_tag_list("a=1\r\nb=2"));  // CRLF without WSP after it is not FWS
  EXPECT_FALSE(parse_tag_list("a=1\nb"));
  EXPECT_FALSE(parse_tag_list(std::string("a=\0", 3)));
  EXPECT_TRUE(parse_tag_list("a_b9=1"));
}

TEST(DkimTagList, RemoveFws) { EXPECT_EQ(remove_fws(" ab\r\n\tc d\t"), "abcd"); }

TEST(DkimSignatureTags, Minimal) {
  auto s = parse_signature(sig_with(""));
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->algorithm, SignatureAlgorithm::rsa_sha256);
  EXPECT_EQ(s->domain, "example.com");
  EXPECT_EQ(s->selector, "sel1");
  EXPECT_EQ(s->identity, "@example.com");
  EXPECT_EQ(s->signature, "test");
  EXPECT_EQ(s->signature_text, "dGVzdA==");
  EXPECT_EQ(s->body_hash.size(), 32u);
  EXPECT_EQ(s->header_canon, Canon::simple);  // §3.5 c= default simple/simple
  EXPECT_EQ(s->body_canon, Canon::simple);
  EXPECT_EQ(s->signed_headers, (std::vector<std::string>{"from", "to", "subject"}));
  EXPECT_FALSE(s->body_length);
  EXPECT_FALSE(s->timestamp);
  EXPECT_FALSE(s->expiration);
}

TEST(DkimSignatureTags, AllTags) {
  auto s = parse_signature(sig_with("c=relaxed/relaxed; i=joe@mail.example.com; l=42; q=dns/txt; t=100; x=200; "
                                    "z=From:foo|To:bar; unknown=tag"));
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->header_canon, Canon::relaxed);
  EXPECT_EQ(s->body_canon, Canon::relaxed);
  EXPECT_EQ(s->identity, "joe@mail.example.com");
  EXPECT_EQ(*s->body_length, 42u);
  EXPECT_EQ(*s->timestamp, 100);
  EXPECT_EQ(*s->expiration, 200);
}

TEST(DkimSignatureTags, Algorithms) {
  EXPECT_EQ(parse_signature(sig_with("", "ed25519-sha256"))->algorithm, SignatureAlgorithm::ed25519_sha256);
  EXPECT_EQ(parse_signature(sig_with("", "rsa-sha1", bh1))->algorithm, SignatureAlgorithm::rsa_sha1);
  EXPECT_EQ(error_of(sig_with("", "rsa-sha1")), "bh= has the wrong length for a=rsa-sha1");
  EXPECT_EQ(error_of(sig_with("", "rsa-md5")), "unknown signing algorithm a=rsa-md5");
  EXPECT_EQ(to_string(SignatureAlgorithm::ed25519_sha256), "ed25519-sha256");
  EXPECT_EQ(hash_of(SignatureAlgorithm::rsa_sha1), HashAlgorithm::sha1);
  EXPECT_EQ(key_type_of(SignatureAlgorithm::ed25519_sha256), KeyType::ed25519);
}

TEST(DkimSignatureTags, Canonicalization) {
  auto s = parse_signature(sig_with("c=relaxed"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->header_canon, Canon::relaxed);
  EXPECT_EQ(s->body_canon, Canon::simple);  // §3.5: body defaults to simple
  EXPECT_EQ(parse_signature(sig_with("c=simple/relaxed"))->body_canon, Canon::relaxed);
  EXPECT_EQ(error_of(sig_with("c=relaxed/fancy")), "unknown canonicalization c=fancy");
  EXPECT_EQ(error_of(sig_with("c=nowsp")), "unknown canonicalization c=nowsp");
}

TEST(DkimSignatureTags, Rejections) {
  EXPECT_EQ(error_of(" a=rsa-sha256; d=x.com; s=s; h=from; bh=" + bh256 + "; b=dGVzdA=="),
            "signature lacks required tag(s) v=");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com"), "signature lacks required tag(s) b=, bh=, h=, s=");
  EXPECT_EQ(error_of(" v=2; a=rsa-sha256; d=x.com; s=s; h=from; bh=" + bh256 + "; b=dGVzdA=="),
            "incompatible signature version v=2");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=s; h=to:subject; bh=" + bh256 + "; b=dGVzdA=="),
            "From field not signed (h= lacks From)");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=s; h=from; bh=" + bh256 + "; b="), "empty b= (no signature)");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=s; h=from; bh=" + bh256 + "; b=***"), "b= is not valid base64");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=s; h=from; bh=abc; b=dGVzdA=="), "bh= is not valid base64");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x..com; s=s; h=from; bh=" + bh256 + "; b=dGVzdA=="),
            "malformed d= x..com");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=a/b; h=from; bh=" + bh256 + "; b=dGVzdA=="), "malformed s= a/b");
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=s; h=from::to; bh=" + bh256 + "; b=dGVzdA=="),
            "malformed field name in h=");
  EXPECT_EQ(error_of(sig_with("i=joe@example.org")), "i= domain is not d= or a subdomain of it");
  EXPECT_EQ(error_of(sig_with("i=joe@badexample.com")), "i= domain is not d= or a subdomain of it");
  EXPECT_EQ(error_of(sig_with("i=joe")), "i= has no \"@\"");
  EXPECT_EQ(error_of(sig_with("l=12x")), "malformed or out-of-range l=");
  EXPECT_EQ(error_of(sig_with("l=99999999999999999999999")), "malformed or out-of-range l=");
  EXPECT_EQ(error_of(sig_with("q=http")), "no supported query method in q=");
  EXPECT_EQ(error_of(sig_with("t=-5")), "malformed t=");
  EXPECT_EQ(error_of(sig_with("x=abc")), "malformed x=");
  EXPECT_EQ(error_of(sig_with("t=200; x=100")), "x= is before t=");
  EXPECT_EQ(error_of(sig_with("d=other.com")), "duplicate tag d");
}

TEST(DkimSignatureTags, IdentityInSubdomainAndDefaults) {
  EXPECT_EQ(parse_signature(sig_with("i=@EXAMPLE.com"))->identity, "@EXAMPLE.com");
  EXPECT_EQ(parse_signature(sig_with("i=a@b.example.com"))->identity, "a@b.example.com");
  EXPECT_TRUE(parse_signature(sig_with("q=dns/txt:other")));
  EXPECT_TRUE(parse_signature(sig_with("t=100; x=100")));
}

TEST(DkimSignatureTags, HeaderNamesWithFws) {
  auto s =
      parse_signature(" v=1; a=rsa-sha256; d=x.com; s=s; h=From :\r\n\tTo: Subject ; bh=" + bh256 + "; b=dGVzdA==");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->signed_headers, (std::vector<std::string>{"From", "To", "Subject"}));
}

TEST(DkimSignatureTags, TooManyHeaderNames) {
  std::string h = "from";
  for (int i = 0; i < 300; ++i) h += ":to";
  EXPECT_EQ(error_of(" v=1; a=rsa-sha256; d=x.com; s=s; h=" + h + "; bh=" + bh256 + "; b=dGVzdA=="),
            "h= lists too many fields");
}

TEST(DkimSignatureTags, WithoutSignatureValue) {
  // §3.7: the b= value and the whitespace around it go; bh= stays.
  std::string field = "DKIM-Signature: v=1; bh=abc;\r\n\tb= dGVz\r\n\tdA== ; d=x";
  EXPECT_EQ(*without_signature_value(field), "DKIM-Signature: v=1; bh=abc;\r\n\tb=; d=x");
  EXPECT_EQ(*without_signature_value("DKIM-Signature: b=xyz"), "DKIM-Signature: b=");
  EXPECT_EQ(without_signature_value("DKIM-Signature: a=1").error(), "no b= tag");
  EXPECT_FALSE(without_signature_value("no colon"));
}

TEST(DkimKeyRecord, RsaDefaults) {
  auto k = parse_key_record("v=DKIM1; p=dGVzdA==");
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->type, KeyType::rsa);
  EXPECT_EQ(k->public_key, "test");
  EXPECT_TRUE(k->accepts(HashAlgorithm::sha1));
  EXPECT_TRUE(k->accepts(HashAlgorithm::sha256));
  EXPECT_FALSE(k->testing);
  EXPECT_FALSE(k->strict);
}

TEST(DkimKeyRecord, AllTags) {
  auto k = parse_key_record("v=DKIM1; h=sha256:foo; k=ed25519; n=notes here; s=email:other; t=y:s:zz; p=dGVz dA==");
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->type, KeyType::ed25519);
  EXPECT_FALSE(k->accepts(HashAlgorithm::sha1));
  EXPECT_TRUE(k->accepts(HashAlgorithm::sha256));
  EXPECT_TRUE(k->testing);
  EXPECT_TRUE(k->strict);
  EXPECT_EQ(k->public_key, "test");
  EXPECT_TRUE(parse_key_record("p=dGVzdA==; s=*"));
  EXPECT_TRUE(parse_key_record("k=RSA; p=dGVzdA=="));
}

TEST(DkimKeyRecord, Rejections) {
  EXPECT_EQ(parse_key_record("v=DKIM1; p=").error(), "key revoked (empty p=)");
  EXPECT_EQ(parse_key_record("v=DKIM1; k=rsa").error(), "key record has no p=");
  EXPECT_EQ(parse_key_record("k=rsa; v=DKIM1; p=dGVzdA==").error(), "key record: v= is not the first tag");
  EXPECT_EQ(parse_key_record("v=DKIM2; p=dGVzdA==").error(), "key record: unknown version v=DKIM2");
  EXPECT_EQ(parse_key_record("k=dsa; p=dGVzdA==").error(), "key record: unknown key type k=dsa");
  EXPECT_EQ(parse_key_record("s=web; p=dGVzdA==").error(), "key record: not for email (s=web)");
  EXPECT_EQ(parse_key_record("p=%%%").error(), "key record: p= is not valid base64");
  EXPECT_EQ(parse_key_record("p=a; p=b").error(), "key record: duplicate tag p");
  EXPECT_FALSE(parse_key_record("garbage"));
}

}  // namespace
}  // namespace tern::dkim
