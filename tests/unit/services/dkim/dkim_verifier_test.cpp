// DKIM verification over a scripted resolver: RFC 8463's published
// signatures, Tern's own signatures (both algorithms, both
// canonicalizations), tampering, l=, x=, rsa-sha1 (RFC 8301), every key
// record problem and every DNS outcome, and several signatures at once.
#include "services/dkim/dkim_verifier.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <optional>

#include "base/base64.hpp"
#include "services/dkim/dkim_signer.hpp"
#include "services/dkim/dkim_tags.hpp"
#include "tests/unit/services/dkim/rfc8463_vectors.hpp"
#include "tests/unit/services/dns/fake_resolver.hpp"

namespace tern::dkim {
namespace {

using auth::DkimResult;
using dns::testing::FakeResolver;

constexpr std::int64_t now = 1'700'000'000;

const PrivateKey& rsa_key() {
  static const PrivateKey key = *PrivateKey::generate(KeyType::rsa);
  return key;
}
const PrivateKey& ed_key() {
  static const PrivateKey key = *PrivateKey::generate(KeyType::ed25519);
  return key;
}

constexpr std::string_view message =
    "From: Alice <alice@example.test>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch?\r\n"
    "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
    "Message-ID: <1@example.test>\r\n"
    "\r\n"
    "Shall we  have lunch?\r\n"
    "\r\n"
    "-- \r\n"
    "Alice\r\n";

void publish(FakeResolver& dns, const std::string& name, std::vector<std::string> records) {
  dns::DnsAnswer a;
  a.status = dns::DnsStatus::ok;
  for (auto& r : records) a.records.emplace_back(dns::TxtRecord{txt_strings(r)});
  dns.set(name, dns::RrType::txt, std::move(a));
}
void publish(FakeResolver& dns, const PrivateKey& key, const std::string& selector = "sel") {
  publish(dns, selector + "._domainkey.example.test", {txt_record(key)});
}

std::string tern_signed(const PrivateKey& key, SignerOptions options = {}, std::string_view msg = message) {
  auto signer = Signer::create("example.test", "sel", key, options);
  return *signer->sign(msg, now) + std::string(msg);
}

std::vector<DkimSignatureResult> verify(FakeResolver& dns, std::string msg, std::int64_t at = now) {
  std::optional<std::vector<DkimSignatureResult>> out;
  verify_dkim(dns, std::make_shared<const std::string>(std::move(msg)), at,
              [&](std::vector<DkimSignatureResult> r) { out = std::move(r); });
  dns.run();
  EXPECT_TRUE(out.has_value());
  return out.value_or(std::vector<DkimSignatureResult>{});
}

DkimSignatureResult verify_one(FakeResolver& dns, std::string msg, std::int64_t at = now) {
  auto r = verify(dns, std::move(msg), at);
  EXPECT_EQ(r.size(), 1u);
  return r.empty() ? DkimSignatureResult{} : r.front();
}

std::string replace(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// --- signatures with tags Tern's signer never writes (l=, x=, i=, rsa-sha1) --

struct Custom {
  std::string algorithm = "rsa-sha256";
  Canon canon = Canon::relaxed;
  std::string extra = {};  // more tags, "l=10; x=5; "
  std::optional<std::size_t> body_length = {};
};

std::string raw_digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string rsa_sign(const PrivateKey& key, const EVP_MD* md, std::string_view digest) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.native(), nullptr), EVP_PKEY_CTX_free);
  std::size_t len = 0;
  EVP_PKEY_sign_init(ctx.get());
  EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(ctx.get(), md);
  const auto* in = reinterpret_cast<const unsigned char*>(digest.data());
  EVP_PKEY_sign(ctx.get(), nullptr, &len, in, digest.size());
  std::string sig(len, '\0');
  EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, digest.size());
  sig.resize(len);
  return sig;
}

std::string custom_signed(const PrivateKey& key, const Custom& c, std::string_view msg = message) {
  const EVP_MD* md = c.algorithm == "rsa-sha1" ? EVP_sha1() : EVP_sha256();
  ParsedMessage parsed = parse_message(msg);
  std::string body = canonicalize_body(c.canon, parsed.body);
  if (c.body_length) body.resize(*c.body_length);
  std::vector<std::string> h = {"from", "to", "subject"};
  std::string field = "DKIM-Signature: v=1; a=" + c.algorithm + "; c=" + std::string(to_string(c.canon)) + "/" +
                      std::string(to_string(c.canon)) + "; d=example.test; s=sel;\r\n\t" + c.extra +
                      "h=from:to:subject; bh=" + base64_encode(raw_digest(md, body)) + ";\r\n\tb=";
  std::string digest = raw_digest(md, header_hash_input(c.canon, parsed.fields, h, field));
  std::string sig = key.type() == KeyType::ed25519 ? *sign_digest(key, digest) : rsa_sign(key, md, digest);
  return field + base64_encode(sig) + "\r\n" + std::string(msg);
}

// --- known answers ----------------------------------------------------------

TEST(DkimVerifier, Rfc8463SignaturesPass) {
  FakeResolver dns;
  publish(dns, "brisbane._domainkey.football.example.com", {std::string(rfc8463::ed25519_record)});
  publish(dns, "test._domainkey.football.example.com", {std::string(rfc8463::rsa_record)});
  std::string msg = std::string(rfc8463::ed25519_field_unsigned) + std::string(rfc8463::ed25519_b) + "\r\n" +
                    std::string(rfc8463::rsa_field_unsigned) + std::string(rfc8463::rsa_b) + "\r\n" +
                    std::string(rfc8463::message);
  auto r = verify(dns, msg);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].result, DkimResult::pass) << r[0].detail;
  EXPECT_EQ(r[0].algorithm, "ed25519-sha256");
  EXPECT_EQ(r[0].domain, "football.example.com");
  EXPECT_EQ(r[0].selector, "brisbane");
  EXPECT_EQ(r[0].identity, "@football.example.com");
  EXPECT_EQ(r[0].b_prefix, "/gCrinpc");
  EXPECT_EQ(r[1].result, DkimResult::pass) << r[1].detail;
  EXPECT_EQ(r[1].algorithm, "rsa-sha256");
  EXPECT_EQ(r[1].b_prefix, "F45dVWDf");
  EXPECT_EQ(overall_result(r), DkimResult::pass);
}

TEST(DkimVerifier, NoSignatureIsAnEmptyList) {
  FakeResolver dns;
  EXPECT_TRUE(verify(dns, std::string(message)).empty());
  EXPECT_TRUE(dns.asked.empty());
  EXPECT_EQ(overall_result({}), DkimResult::none);
}

// --- round trips with Tern's signer ------------------------------------------

struct RoundTrip {
  KeyType type;
  Canon header, body;
};
class DkimRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(DkimRoundTrip, SignedPassesTamperedFails) {
  const PrivateKey& key = GetParam().type == KeyType::rsa ? rsa_key() : ed_key();
  FakeResolver dns;
  publish(dns, key);
  std::string msg = tern_signed(key, {GetParam().header, GetParam().body});
  auto ok = verify_one(dns, msg);
  EXPECT_EQ(ok.result, DkimResult::pass) << ok.detail;
  EXPECT_EQ(ok.domain, "example.test");
  EXPECT_EQ(ok.selector, "sel");
  EXPECT_EQ(ok.identity, "@example.test");
  EXPECT_FALSE(ok.weak);
  EXPECT_EQ(ok.unsigned_body_bytes, 0u);
  EXPECT_EQ(dns.count("sel._domainkey.example.test", dns::RrType::txt), 1u);

  auto body = verify_one(dns, replace(msg, "lunch?", "dinner?"));
  EXPECT_EQ(body.result, DkimResult::fail);
  EXPECT_EQ(body.detail, "body hash did not verify");

  auto header = verify_one(dns, replace(msg, "Subject: Lunch?", "Subject: Dinner?"));
  EXPECT_EQ(header.result, DkimResult::fail);
  EXPECT_EQ(header.detail, "signature did not verify");

  // §8.15 / oversigned From: a second From on top breaks it.
  auto from = verify_one(dns, replace(msg, "From: Alice", "From: Mallory <m@evil.test>\r\nFrom: Alice"));
  EXPECT_EQ(from.result, DkimResult::fail);

  // Relaxed forgives whitespace and case in header names; simple does not.
  auto ws = verify_one(dns, replace(msg, "Subject: Lunch?", "SUBJECT:  Lunch?"));
  EXPECT_EQ(ws.result, GetParam().header == Canon::relaxed ? DkimResult::pass : DkimResult::fail) << ws.detail;
}

INSTANTIATE_TEST_SUITE_P(All, DkimRoundTrip,
                         ::testing::Values(RoundTrip{KeyType::rsa, Canon::relaxed, Canon::relaxed},
                                           RoundTrip{KeyType::rsa, Canon::simple, Canon::simple},
                                           RoundTrip{KeyType::ed25519, Canon::relaxed, Canon::simple},
                                           RoundTrip{KeyType::ed25519, Canon::simple, Canon::relaxed}));

TEST(DkimVerifier, UnsignedFieldMayBeAdded) {
  FakeResolver dns;
  publish(dns, rsa_key());
  std::string msg = "Received: from x by y\r\nX-Extra: 1\r\n" + tern_signed(rsa_key());
  EXPECT_EQ(verify_one(dns, msg).result, DkimResult::pass);
}

TEST(DkimVerifier, LfMessageDoesNotVerifyUntilConverted) {
  // The verifier takes the wire form; the CLI converts files first.
  FakeResolver dns;
  publish(dns, rsa_key());
  std::string msg = tern_signed(rsa_key(), {Canon::simple, Canon::simple});
  std::string lf;
  for (char c : msg)
    if (c != '\r') lf += c;
  EXPECT_NE(verify_one(dns, lf).result, DkimResult::pass);
  EXPECT_EQ(verify_one(dns, to_crlf(lf)).result, DkimResult::pass);
}

// --- l= -------------------------------------------------------------------

TEST(DkimVerifier, BodyLengthCoversAPrefix) {
  FakeResolver dns;
  publish(dns, rsa_key());
  std::size_t full = canonicalize_body(Canon::relaxed, parse_message(message).body).size();
  std::string msg = custom_signed(rsa_key(), {.extra = "l=" + std::to_string(full) + "; ", .body_length = full});
  auto r = verify_one(dns, msg);
  EXPECT_EQ(r.result, DkimResult::pass) << r.detail;
  EXPECT_EQ(r.unsigned_body_bytes, 0u);

  // §8.2: content appended after the signed prefix still passes, and is reported.
  auto appended = verify_one(dns, msg + "Buy now!\r\n");
  EXPECT_EQ(appended.result, DkimResult::pass) << appended.detail;
  EXPECT_EQ(appended.unsigned_body_bytes, 10u);

  // A change inside the prefix does not.
  EXPECT_EQ(verify_one(dns, replace(msg, "lunch?", "dinner")).result, DkimResult::fail);
}

TEST(DkimVerifier, BodyLengthShorterThanBody) {
  FakeResolver dns;
  publish(dns, ed_key());
  Custom c{.algorithm = "ed25519-sha256", .extra = "l=5; ", .body_length = 5};
  auto r = verify_one(dns, custom_signed(ed_key(), c));
  EXPECT_EQ(r.result, DkimResult::pass) << r.detail;
  std::size_t full = canonicalize_body(Canon::relaxed, parse_message(message).body).size();
  EXPECT_EQ(r.unsigned_body_bytes, full - 5);
}

TEST(DkimVerifier, BodyLengthLongerThanBodyFails) {
  FakeResolver dns;
  publish(dns, rsa_key());
  std::size_t full = canonicalize_body(Canon::relaxed, parse_message(message).body).size();
  std::string msg = custom_signed(rsa_key(), {.extra = "l=" + std::to_string(full) + "; ", .body_length = full});
  auto r = verify_one(dns, replace(msg, "-- \r\nAlice\r\n", ""));
  EXPECT_EQ(r.result, DkimResult::fail);
  EXPECT_NE(r.detail.find("is longer than the body"), std::string::npos) << r.detail;
}

// --- x= ---------------------------------------------------------------------

TEST(DkimVerifier, Expiry) {
  FakeResolver dns;
  publish(dns, rsa_key());
  std::string msg = custom_signed(rsa_key(), {.extra = "t=1000; x=2000; "});
  EXPECT_EQ(verify_one(dns, msg, 1500).result, DkimResult::pass);
  EXPECT_EQ(verify_one(dns, msg, 2000).result, DkimResult::pass);
  dns.asked.clear();
  auto late = verify_one(dns, msg, 2001);
  EXPECT_EQ(late.result, DkimResult::permerror);
  EXPECT_EQ(late.detail, "signature expired (x=2000)");
  EXPECT_TRUE(dns.asked.empty());  // decided before any lookup
}

// --- rsa-sha1 (RFC 8301) ----------------------------------------------------

TEST(DkimVerifier, RsaSha1IsPolicyAndWeak) {
  FakeResolver dns;
  publish(dns, rsa_key());
  std::string msg = custom_signed(rsa_key(), {.algorithm = "rsa-sha1"});
  auto r = verify_one(dns, msg);
  EXPECT_EQ(r.result, DkimResult::policy);
  EXPECT_TRUE(r.weak);
  EXPECT_EQ(r.algorithm, "rsa-sha1");
  EXPECT_EQ(r.detail, "rsa-sha1 is not accepted (RFC 8301)");

  auto bad = verify_one(dns, replace(msg, "Subject: Lunch?", "Subject: Dinner?"));
  EXPECT_EQ(bad.result, DkimResult::fail);
  EXPECT_TRUE(bad.weak);
}

// --- i= and the key's flags -------------------------------------------------

TEST(DkimVerifier, IdentityAndStrictKeys) {
  FakeResolver dns;
  std::string record = txt_record(rsa_key());
  publish(dns, "sel._domainkey.example.test", {replace(record, "k=rsa;", "k=rsa; t=s;")});
  auto sub = verify_one(dns, custom_signed(rsa_key(), {.extra = "i=alice@mail.example.test; "}));
  EXPECT_EQ(sub.result, DkimResult::permerror);
  EXPECT_EQ(sub.detail, "key t=s: i= domain must equal d=");
  EXPECT_EQ(sub.identity, "alice@mail.example.test");
  auto same = verify_one(dns, custom_signed(rsa_key(), {.extra = "i=alice@example.test; "}));
  EXPECT_EQ(same.result, DkimResult::pass) << same.detail;
  EXPECT_EQ(same.identity, "alice@example.test");
}

TEST(DkimVerifier, TestingKey) {
  FakeResolver dns;
  publish(dns, "sel._domainkey.example.test", {replace(txt_record(ed_key()), "k=ed25519;", "k=ed25519; t=y;")});
  auto r = verify_one(dns, tern_signed(ed_key()));
  EXPECT_EQ(r.result, DkimResult::pass);
  EXPECT_TRUE(r.testing);
}

TEST(DkimVerifier, KeyHashRestriction) {
  FakeResolver dns;
  publish(dns, "sel._domainkey.example.test", {replace(txt_record(rsa_key()), "k=rsa;", "h=sha1; k=rsa;")});
  auto r = verify_one(dns, tern_signed(rsa_key()));
  EXPECT_EQ(r.result, DkimResult::permerror);
  EXPECT_EQ(r.detail, "key h= does not allow the hash of a=");
}

TEST(DkimVerifier, KeyTypeMismatch) {
  FakeResolver dns;
  publish(dns, ed_key());
  auto r = verify_one(dns, tern_signed(rsa_key()));
  EXPECT_EQ(r.result, DkimResult::permerror);
  EXPECT_EQ(r.detail, "key type k=ed25519 does not match a=rsa-sha256");
}

TEST(DkimVerifier, WrongKeyFails) {
  FakeResolver dns;
  publish(dns, *PrivateKey::generate(KeyType::rsa));
  EXPECT_EQ(verify_one(dns, tern_signed(rsa_key())).result, DkimResult::fail);
}

TEST(DkimVerifier, ShortRsaKeyRejected) {
  // RFC 8301 §3.2: under 1024 bits is never valid, whatever the signature.
  EVP_PKEY* small = EVP_RSA_gen(512);
  ASSERT_NE(small, nullptr);
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(small, &der);
  std::string p(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  EVP_PKEY_free(small);
  FakeResolver dns;
  publish(dns, "sel._domainkey.example.test", {"v=DKIM1; k=rsa; p=" + base64_encode(p)});
  auto r = verify_one(dns, tern_signed(rsa_key()));
  EXPECT_EQ(r.result, DkimResult::permerror);
  EXPECT_EQ(r.detail, "RSA key of 512 bits is too short (RFC 8301)");
}

// --- key records and DNS outcomes -------------------------------------------

TEST(DkimVerifier, KeyProblems) {
  std::string msg = tern_signed(rsa_key());
  struct Case {
    std::vector<std::string> records;
    std::string detail;
  };
  std::vector<Case> cases = {
      {{"v=DKIM1; k=rsa; p="}, "key revoked (empty p=)"},
      {{"v=DKIM1; k=rsa; p=AAAA"}, "key record p= is not a usable rsa key"},
      {{"v=DKIM1; k=dsa; p=AAAA"}, "key record: unknown key type k=dsa"},
      {{"garbage"}, "key record: tag garbage has no \"=\""},
      {{txt_record(rsa_key()), txt_record(rsa_key())}, "multiple key records"},
  };
  for (const auto& c : cases) {
    FakeResolver dns;
    publish(dns, "sel._domainkey.example.test", c.records);
    auto r = verify_one(dns, msg);
    EXPECT_EQ(r.result, DkimResult::permerror) << c.detail;
    EXPECT_EQ(r.detail, c.detail);
  }
}

TEST(DkimVerifier, DnsOutcomes) {
  std::string msg = tern_signed(rsa_key());
  {
    FakeResolver dns;  // nothing published: NXDOMAIN
    auto r = verify_one(dns, msg);
    EXPECT_EQ(r.result, DkimResult::permerror);
    EXPECT_EQ(r.detail, "no key for signature (nxdomain)");
  }
  {
    FakeResolver dns;
    dns.status("sel._domainkey.example.test", dns::RrType::txt, dns::DnsStatus::nodata);
    EXPECT_EQ(verify_one(dns, msg).detail, "no key for signature (nodata)");
  }
  {
    FakeResolver dns;
    dns.status("sel._domainkey.example.test", dns::RrType::txt, dns::DnsStatus::temporary, "SERVFAIL");
    auto r = verify_one(dns, msg);
    EXPECT_EQ(r.result, DkimResult::temperror);
    EXPECT_EQ(r.detail, "key query failed: SERVFAIL");
  }
  {
    FakeResolver dns;
    dns.status("sel._domainkey.example.test", dns::RrType::txt, dns::DnsStatus::permanent_error, "bad name");
    EXPECT_EQ(verify_one(dns, msg).result, DkimResult::permerror);
  }
}

TEST(DkimVerifier, FollowsCname) {
  FakeResolver dns;
  dns.cname("sel._domainkey.example.test", "key1.provider.test");
  publish(dns, "key1.provider.test", {txt_record(rsa_key())});
  auto r = verify_one(dns, tern_signed(rsa_key()));
  EXPECT_EQ(r.result, DkimResult::pass) << r.detail;
  EXPECT_EQ(dns.count("key1.provider.test", dns::RrType::txt), 1u);
}

TEST(DkimVerifier, CnameLoopEnds) {
  FakeResolver dns;
  dns.cname("sel._domainkey.example.test", "loop.provider.test");
  dns.cname("loop.provider.test", "sel._domainkey.example.test");
  auto r = verify_one(dns, tern_signed(rsa_key()));
  EXPECT_EQ(r.result, DkimResult::permerror);
  EXPECT_LE(dns.asked.size(), 10u);
}

// --- several signatures -----------------------------------------------------

TEST(DkimVerifier, EachSignatureOnItsOwn) {
  FakeResolver dns;
  dns.deferred = true;  // answers arrive later, newest first
  publish(dns, rsa_key(), "sel");
  std::string good = tern_signed(rsa_key());
  std::string msg = "DKIM-Signature: v=1; a=rsa-sha256; d=broken.test; s=x; h=to;\r\n"
                    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AA==\r\n" +
                    *Signer::create("other.test", "s2", ed_key())->sign(good, now) + good;
  std::optional<std::vector<DkimSignatureResult>> out;
  verify_dkim(dns, std::make_shared<const std::string>(msg), now, [&](auto r) { out = std::move(r); });
  EXPECT_FALSE(out.has_value());
  dns.run(/*reverse=*/true);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0].result, DkimResult::permerror);
  EXPECT_EQ((*out)[0].domain, "broken.test");
  EXPECT_EQ((*out)[0].detail, "From field not signed (h= lacks From)");
  EXPECT_EQ((*out)[1].result, DkimResult::permerror);  // other.test publishes no key
  EXPECT_EQ((*out)[1].domain, "other.test");
  EXPECT_EQ((*out)[2].result, DkimResult::pass) << (*out)[2].detail;
  EXPECT_EQ(overall_result(*out), DkimResult::pass);
}

TEST(DkimVerifier, AtMostEightChecked) {
  FakeResolver dns;
  publish(dns, rsa_key());
  std::string msg = tern_signed(rsa_key());
  std::string field = msg.substr(0, msg.find("\r\nFrom:") + 2);
  std::string many;
  for (int i = 0; i < 10; ++i) many += field;
  auto r = verify(dns, many + std::string(message));
  ASSERT_EQ(r.size(), 10u);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(r[i].result, DkimResult::pass) << i;
  EXPECT_EQ(r[8].result, DkimResult::neutral);
  EXPECT_EQ(r[9].detail, "not checked: more than 8 signatures");
  EXPECT_EQ(r[9].domain, "example.test");
  EXPECT_EQ(dns.asked.size(), 8u);
}

TEST(DkimVerifier, UnparsableSignatureReportsWhatItCan) {
  FakeResolver dns;
  auto r = verify_one(dns, "DKIM-Signature: v=1; a=rsa-md5; d=Example.test; s=sel; b=abcdefghij\r\n" +
                               std::string(message));
  EXPECT_EQ(r.result, DkimResult::permerror);
  EXPECT_EQ(r.domain, "example.test");
  EXPECT_EQ(r.algorithm, "rsa-md5");
  EXPECT_EQ(r.b_prefix, "abcdefgh");
  EXPECT_EQ(r.detail, "signature lacks required tag(s) bh=, h=");
  EXPECT_TRUE(dns.asked.empty());
}

TEST(DkimVerifier, OverallResult) {
  std::vector<DkimSignatureResult> r(2);
  r[0].result = DkimResult::fail;
  r[1].result = DkimResult::temperror;
  EXPECT_EQ(overall_result(r), DkimResult::fail);
  r[1].result = DkimResult::pass;
  EXPECT_EQ(overall_result(r), DkimResult::pass);
}

}  // namespace
}  // namespace tern::dkim
