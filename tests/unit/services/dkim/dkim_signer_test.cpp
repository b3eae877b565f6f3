// DKIM signing: RFC 8463's published signatures reproduced byte for byte
// (both algorithms are deterministic), the shape of the field we emit
// (tags, h= with From oversigned, folding), and signatures checked with
// OpenSSL's verify against tampered copies. The same checks by verifiers
// nobody here wrote are in tests/integration/test_dkim_sign.py.
#include "services/dkim/dkim_signer.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <map>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "tests/unit/services/dkim/rfc8463_vectors.hpp"

namespace tern::dkim {
namespace {

const PrivateKey& rsa_key() {
  static const PrivateKey key = *PrivateKey::generate(KeyType::rsa);
  return key;
}
const PrivateKey& ed_key() {
  static const PrivateKey key = *PrivateKey::generate(KeyType::ed25519);
  return key;
}

Signer make_signer(const PrivateKey& key, SignerOptions options = {}) {
  return *Signer::create("example.test", "sel", key, options);
}

constexpr std::string_view message =
    "From: Alice <alice@example.test>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch?\r\n"
    "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
    "Message-ID: <1@example.test>\r\n"
    "X-Mailer: test\r\n"
    "\r\n"
    "Shall we  have lunch?\r\n"
    "\r\n"
    "-- \r\n"
    "Alice\r\n";

std::string replace(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// --- a small verifier over OpenSSL, for the round trips -----------------

std::map<std::string, std::string> tags_of(std::string_view field) {
  std::map<std::string, std::string> tags;
  std::string_view rest = field.substr(field.find(':') + 1);
  while (!rest.empty()) {
    auto semi = rest.find(';');
    std::string_view spec = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    auto eq = spec.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name, value;
    for (char c : spec.substr(0, eq))
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') name += c;
    for (char c : spec.substr(eq + 1))
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') value += c;
    tags[name] = value;
  }
  return tags;
}

// The field as the signer hashed it: the b= value (the last tag) removed.
std::string without_b_value(std::string_view field) {
  auto at = field.rfind("b=");
  return std::string(field.substr(0, at + 2));
}

std::vector<std::string> split_h(std::string_view h) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (true) {
    auto colon = h.find(':', start);
    names.emplace_back(h.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) return names;
    start = colon + 1;
  }
}

bool verify_digest(const PrivateKey& key, std::string_view digest, std::string_view sig) {
  const auto* s = reinterpret_cast<const unsigned char*>(sig.data());
  const auto* d = reinterpret_cast<const unsigned char*>(digest.data());
  if (key.type() == KeyType::rsa) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key.native(), nullptr);
    bool ok = EVP_PKEY_verify_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
              EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
              EVP_PKEY_verify(ctx, s, sig.size(), d, digest.size()) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit_ex(ctx, nullptr, nullptr, nullptr, nullptr, key.native(), nullptr) > 0 &&
            EVP_DigestVerify(ctx, s, sig.size(), d, digest.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

enum class Verdict { pass, body_hash_mismatch, bad_signature, malformed };

// RFC 6376 §6.1.3, for a message whose first field is our signature.
Verdict verify(std::string_view signed_message, const PrivateKey& key) {
  ParsedMessage m = parse_message(signed_message);
  if (m.fields.empty() || !iequals(m.fields[0].name, "DKIM-Signature")) return Verdict::malformed;
  auto tags = tags_of(m.fields[0].text);
  std::string c = tags["c"];
  Canon hc = c.starts_with("simple") ? Canon::simple : Canon::relaxed;
  Canon bc = c.ends_with("/simple") ? Canon::simple : Canon::relaxed;
  BodyHasher body(bc);
  body.update(m.body);
  if (base64_encode(body.finish()) != tags["bh"]) return Verdict::body_hash_mismatch;
  std::span<const HeaderField> others(m.fields.begin() + 1, m.fields.end());
  std::string data = header_hash_input(hc, others, split_h(tags["h"]), without_b_value(m.fields[0].text));
  auto sig = base64_decode(tags["b"]);
  if (!sig) return Verdict::malformed;
  return verify_digest(key, sha256(data), *sig) ? Verdict::pass : Verdict::bad_signature;
}

std::string sign_and_prepend(const Signer& signer, std::string_view msg, std::int64_t t = 1700000000) {
  auto field = signer.sign(msg, t);
  EXPECT_TRUE(field) << field.error().detail;
  return field ? *field + std::string(msg) : std::string();
}

// --- RFC 8463 Appendix A ------------------------------------------------

TEST(DkimSigner, Rfc8463BodyHash) {
  auto body = parse_message(rfc8463::message).body;
  BodyHasher relaxed(Canon::relaxed), simple(Canon::simple);
  relaxed.update(body);
  simple.update(body);
  EXPECT_EQ(base64_encode(relaxed.finish()), rfc8463::body_hash);
  EXPECT_EQ(base64_encode(simple.finish()), rfc8463::body_hash_simple);
}

TEST(DkimSigner, Rfc8463Ed25519KnownAnswer) {
  auto key = PrivateKey::from_pem(rfc8463::ed25519_pem());
  ASSERT_TRUE(key) << key.error().detail;
  auto fields = parse_message(rfc8463::message).fields;
  std::string data = header_hash_input(Canon::relaxed, fields, rfc8463::h_list, rfc8463::ed25519_field_unsigned);
  auto sig = sign_digest(*key, sha256(data));
  ASSERT_TRUE(sig) << sig.error().detail;
  // RFC 8463 §3: Ed25519 signs the SHA-256 hash, not the data. Signing the
  // data instead verifies against ourselves but not against this.
  EXPECT_EQ(base64_encode(*sig), rfc8463::ed25519_b);
}

TEST(DkimSigner, Rfc8463RsaKnownAnswer) {
  auto key = PrivateKey::from_pem(rfc8463::rsa_pem);
  ASSERT_TRUE(key) << key.error().detail;
  auto fields = parse_message(rfc8463::message).fields;
  std::string data = header_hash_input(Canon::relaxed, fields, rfc8463::h_list, rfc8463::rsa_field_unsigned);
  auto sig = sign_digest(*key, sha256(data));
  ASSERT_TRUE(sig) << sig.error().detail;
  EXPECT_EQ(base64_encode(*sig), rfc8463::rsa_b);
}

TEST(DkimSigner, Rfc8463SignedMessageVerifies) {
  // Our verifier helper against the RFC's own signed message, so the round
  // trips below test the signer, not a helper that agrees with it.
  auto key = PrivateKey::from_pem(rfc8463::rsa_pem);
  std::string field = std::string(rfc8463::rsa_field_unsigned) + std::string(rfc8463::rsa_b).substr(0, 56) +
                      "\r\n " + std::string(rfc8463::rsa_b).substr(56) + "\r\n";
  EXPECT_EQ(verify(field + std::string(rfc8463::message), *key), Verdict::pass);
  EXPECT_EQ(verify(field + replace(std::string(rfc8463::message), "dinner", "lunch"), *key), Verdict::bad_signature);
}

// --- what we sign ---------------------------------------------------------

TEST(DkimSigner, ChoosesPresentHeadersAndOversignsFrom) {
  auto m = parse_message(
      "Received: x\r\n"
      "FROM: a@example.test\r\n"
      "To: b@example.test\r\n"
      "to: c@example.test\r\n"
      "Subject: s\r\n"
      "X-Other: y\r\n"
      "References: <r@x>\r\n"
      "\r\n");
  std::vector<std::string> expected = {"from", "from", "to", "to", "subject", "references"};
  EXPECT_EQ(choose_signed_headers(m.fields), expected);
}

TEST(DkimSigner, AllTheListedHeadersInOrder) {
  auto m = parse_message(
      "References: <r@x>\r\nIn-Reply-To: <r@x>\r\nReply-To: r@x\r\nContent-Type: text/plain\r\n"
      "MIME-Version: 1.0\r\nMessage-ID: <m@x>\r\nDate: d\r\nSubject: s\r\nCc: c@x\r\nTo: t@x\r\nFrom: f@x\r\n\r\n");
  std::vector<std::string> expected = {"from", "from", "to", "cc", "subject", "date", "message-id", "mime-version",
                                       "content-type", "reply-to", "in-reply-to", "references"};
  EXPECT_EQ(choose_signed_headers(m.fields), expected);
}

TEST(DkimSigner, FieldShape) {
  auto field = make_signer(rsa_key()).sign(message, 1700000000);
  ASSERT_TRUE(field) << field.error().detail;
  EXPECT_TRUE(field->starts_with("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test; s=sel;"))
      << *field;
  ASSERT_TRUE(field->ends_with("\r\n"));
  EXPECT_FALSE(field->ends_with("\r\n\r\n"));
  // Folded: every line within 78 octets, every continuation starts with WSP.
  std::string_view rest = *field;
  bool first = true;
  while (!rest.empty()) {
    auto eol = rest.find("\r\n");
    ASSERT_NE(eol, std::string_view::npos);
    std::string_view line = rest.substr(0, eol);
    EXPECT_LE(line.size(), 78u) << line;
    if (!first) {
      EXPECT_EQ(line.front(), '\t') << line;
    }
    EXPECT_EQ(line.find_first_of("\r\n"), std::string_view::npos);
    first = false;
    rest.remove_prefix(eol + 2);
  }
  auto tags = tags_of(*field);
  EXPECT_EQ(tags["v"], "1");
  EXPECT_EQ(tags["t"], "1700000000");
  EXPECT_EQ(tags["h"], "from:from:to:subject:date:message-id");
  EXPECT_EQ(tags.count("l"), 0u);  // never a body length (RFC 6376 §8.2)
  EXPECT_EQ(base64_decode(tags["b"])->size(), 256u);
  // Exactly one field: the message parses with it on top.
  auto m = parse_message(*field + std::string(message));
  EXPECT_EQ(m.fields.size(), 7u);
}

TEST(DkimSigner, Ed25519FieldShape) {
  auto field = make_signer(ed_key()).sign(message, 1);
  ASSERT_TRUE(field);
  auto tags = tags_of(*field);
  EXPECT_EQ(tags["a"], "ed25519-sha256");
  EXPECT_EQ(base64_decode(tags["b"])->size(), 64u);
}

TEST(DkimSigner, SignaturesVerifyAndAreDeterministic) {
  for (const PrivateKey* key : {&rsa_key(), &ed_key()}) {
    Signer signer = make_signer(*key);
    std::string signed_message = sign_and_prepend(signer, message);
    EXPECT_EQ(verify(signed_message, *key), Verdict::pass) << signed_message;
    EXPECT_EQ(*signer.sign(message, 1700000000), *signer.sign(message, 1700000000));
  }
}

TEST(DkimSigner, TamperedCopiesFail) {
  for (const PrivateKey* key : {&rsa_key(), &ed_key()}) {
    std::string good = sign_and_prepend(make_signer(*key), message);
    ASSERT_EQ(verify(good, *key), Verdict::pass);
    EXPECT_EQ(verify(replace(good, "have lunch", "have dinner"), *key), Verdict::body_hash_mismatch);
    EXPECT_EQ(verify(replace(good, "Subject: Lunch?", "Subject: Dinner?"), *key), Verdict::bad_signature);
    EXPECT_EQ(verify(replace(good, "Date: Mon", "Date: Tue"), *key), Verdict::bad_signature);
    // Oversigned From: a second From added above the signed one breaks it.
    EXPECT_EQ(verify(replace(good, "From: Alice", "From: Mallory <m@evil.test>\r\nFrom: Alice"), *key),
              Verdict::bad_signature);
    // So does one added below it (bottom-up, the new one is the one taken).
    EXPECT_EQ(verify(replace(good, "To: Bob", "From: Mallory <m@evil.test>\r\nTo: Bob"), *key), Verdict::bad_signature);
    // Appending to the body is caught too (no l= tag).
    EXPECT_EQ(verify(good + "P.S. send money\r\n", *key), Verdict::body_hash_mismatch);
  }
}

TEST(DkimSigner, RelaxedSurvivesWhatRelaxedForgives) {
  std::string good = sign_and_prepend(make_signer(rsa_key()), message);
  std::string changed = replace(good, "Subject: Lunch?", "subject:    Lunch? \r\n ");
  changed = replace(changed, "Shall we  have lunch?", "Shall we have   lunch?\t");
  changed += "\r\n\r\n";                                      // trailing empty lines
  changed = replace(changed, "X-Mailer: test", "X-Mailer: other");  // not signed
  EXPECT_EQ(verify(changed, rsa_key()), Verdict::pass);
}

TEST(DkimSigner, SimpleCanonicalization) {
  Signer signer = make_signer(ed_key(), {Canon::simple, Canon::simple});
  std::string good = sign_and_prepend(signer, message);
  EXPECT_EQ(tags_of(good.substr(0, good.find("From:")))["c"], "simple/simple");
  EXPECT_EQ(verify(good, ed_key()), Verdict::pass);
  EXPECT_EQ(verify(good + "\r\n\r\n", ed_key()), Verdict::pass);  // simple ignores trailing empty lines too
  EXPECT_EQ(verify(replace(good, "Subject: Lunch?", "Subject:  Lunch?"), ed_key()), Verdict::bad_signature);
  EXPECT_EQ(verify(replace(good, "have lunch", "have  lunch"), ed_key()), Verdict::body_hash_mismatch);
}

TEST(DkimSigner, StreamingBodyGivesTheSameField) {
  Signer signer = make_signer(rsa_key());
  std::string whole = *signer.sign(message, 42);
  ParsedMessage m = parse_message(message);
  for (std::size_t chunk : {1, 2, 3, 7, 64}) {
    BodyHasher body(signer.options().body_canon);
    for (std::size_t i = 0; i < m.body.size(); i += chunk) body.update(m.body.substr(i, chunk));
    auto field = signer.sign(m.fields, body.finish(), 42);
    ASSERT_TRUE(field);
    EXPECT_EQ(*field, whole) << chunk;
  }
}

TEST(DkimSigner, EmptyAndMissingBodies) {
  // The well-known hashes of the two empty canonical bodies: "" and CRLF.
  BodyHasher relaxed(Canon::relaxed), simple(Canon::simple);
  EXPECT_EQ(base64_encode(relaxed.finish()), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(base64_encode(simple.finish()), "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  for (std::string_view msg : {"From: a@example.test\r\n\r\n", "From: a@example.test\r\n", "From: a@example.test"}) {
    std::string s = sign_and_prepend(make_signer(ed_key()), msg);
    EXPECT_EQ(verify(s, ed_key()), Verdict::pass) << msg;
  }
}

TEST(DkimSigner, RefusesAMessageWithoutFrom) {
  auto r = make_signer(rsa_key()).sign("To: b@example.test\r\nSubject: x\r\n\r\nbody\r\n", 1);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
}

TEST(DkimSigner, CreateChecksAndLowercasesNames) {
  EXPECT_FALSE(Signer::create("bad domain", "s", ed_key()));
  EXPECT_FALSE(Signer::create("example.test", "", ed_key()));
  EXPECT_FALSE(Signer::create("example.test", "a;b", ed_key()));
  auto s = Signer::create("Example.TEST", "Sel", ed_key());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->domain(), "example.test");
  EXPECT_EQ(s->selector(), "sel");
  EXPECT_EQ(s->key_type(), KeyType::ed25519);
  auto tags = tags_of(*s->sign(message, 1));
  EXPECT_EQ(tags["d"], "example.test");
  EXPECT_EQ(tags["s"], "sel");
}

TEST(DkimSigner, ManyHeadersFoldInH) {
  std::string msg;
  for (int i = 0; i < 40; ++i) msg += "To: r" + std::to_string(i) + "@example.net\r\n";
  msg += std::string(message);
  auto field = make_signer(ed_key()).sign(msg, 1);
  ASSERT_TRUE(field);
  auto tags = tags_of(*field);
  EXPECT_EQ(split_h(tags["h"]).size(), 2u + 41 + 3);
  for (std::string_view rest = *field; !rest.empty();) {
    auto eol = rest.find("\r\n");
    EXPECT_LE(eol, 78u);
    rest.remove_prefix(eol + 2);
  }
  EXPECT_EQ(verify(*field + msg, ed_key()), Verdict::pass);
}

TEST(DkimSigner, LongDomainStaysWhole) {
  std::string domain;
  for (int i = 0; i < 6; ++i) domain += std::string(35, static_cast<char>('a' + i)) + ".";
  domain += "test";
  auto signer = Signer::create(domain, "s", ed_key());
  ASSERT_TRUE(signer);
  auto field = signer->sign(message, 1);
  ASSERT_TRUE(field);
  // A tag value is never cut: the d= line is long, the field still valid.
  EXPECT_NE(field->find("\td=" + domain + ";\r\n"), std::string::npos) << *field;
  EXPECT_EQ(verify(*field + std::string(message), ed_key()), Verdict::pass);
}

}  // namespace
}  // namespace tern::dkim
