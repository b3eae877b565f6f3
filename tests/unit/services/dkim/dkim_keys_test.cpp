// DKIM keys: generation, PEM in and out, the p= data checked against the
// records RFC 8463 publishes for its keys, the TXT record cut into strings,
// names that may become file names, and the key files on disk.
#include "services/dkim/dkim_keys.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/base64.hpp"
#include "tests/unit/services/dkim/rfc8463_vectors.hpp"
#include "tests/unit/support/temp_dir.hpp"

namespace tern::dkim {
namespace {

namespace fs = std::filesystem;

std::string pem_of(EVP_PKEY* key, const char* cipher = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  const EVP_CIPHER* c = cipher ? EVP_get_cipherbyname(cipher) : nullptr;
  static char pass[] = "secret";
  PEM_write_bio_PrivateKey(bio, key, c, reinterpret_cast<unsigned char*>(pass), c ? 6 : 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

fs::perms mode(const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; }

TEST(DkimKeys, GeneratesRsa2048) {
  auto key = PrivateKey::generate(KeyType::rsa);
  ASSERT_TRUE(key) << key.error().detail;
  EXPECT_EQ(key->type(), KeyType::rsa);
  EXPECT_EQ(key->bits(), 2048);
  // The DER SubjectPublicKeyInfo of a 2048-bit RSA key always starts so.
  EXPECT_TRUE(txt_record(*key).starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"))
      << txt_record(*key);
  EXPECT_TRUE(key->private_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_TRUE(key->public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
}

TEST(DkimKeys, GeneratesEd25519) {
  auto key = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(key) << key.error().detail;
  EXPECT_EQ(key->type(), KeyType::ed25519);
  EXPECT_EQ(key->public_key_data().size(), 32u);  // RFC 8463 §4.2: the bare key, no ASN.1
  std::string record = txt_record(*key);
  ASSERT_TRUE(record.starts_with("v=DKIM1; k=ed25519; p=")) << record;
  EXPECT_EQ(base64_decode(record.substr(22))->size(), 32u);
}

TEST(DkimKeys, TwoKeysDiffer) {
  auto a = PrivateKey::generate(KeyType::ed25519), b = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->public_key_data(), b->public_key_data());
}

TEST(DkimKeys, PemRoundTrip) {
  for (KeyType t : {KeyType::rsa, KeyType::ed25519}) {
    auto key = PrivateKey::generate(t);
    ASSERT_TRUE(key);
    auto back = PrivateKey::from_pem(key->private_pem());
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(back->type(), t);
    EXPECT_EQ(back->public_key_data(), key->public_key_data());
    EXPECT_EQ(back->private_pem(), key->private_pem());
  }
}

TEST(DkimKeys, Rfc8463KeysGiveTheRfcRecords) {
  auto ed = PrivateKey::from_pem(rfc8463::ed25519_pem());
  ASSERT_TRUE(ed) << ed.error().detail;
  EXPECT_EQ(txt_record(*ed), rfc8463::ed25519_record);
  // PKCS#1 ("BEGIN RSA PRIVATE KEY") is read too; the RFC's key is 1024 bits.
  auto rsa = PrivateKey::from_pem(rfc8463::rsa_pem);
  ASSERT_TRUE(rsa) << rsa.error().detail;
  EXPECT_EQ(rsa->bits(), 1024);
  EXPECT_EQ(txt_record(*rsa), rfc8463::rsa_record);
}

TEST(DkimKeys, RefusesWhatItCannotUse) {
  auto garbage = PrivateKey::from_pem("not a key");
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(garbage.error().permanent());

  auto ed = PrivateKey::generate(KeyType::ed25519);
  EXPECT_FALSE(PrivateKey::from_pem(ed->public_pem()));  // a public key is not a private key

  // RFC 8301 §3.2: under 1024 bits is refused.
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(512));
  ASSERT_TRUE(small);
  auto r = PrivateKey::from_pem(pem_of(small));
  EVP_PKEY_free(small);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("512 bits"), std::string::npos) << r.error().detail;

  // Neither RSA nor Ed25519.
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_TRUE(ec);
  r = PrivateKey::from_pem(pem_of(ec));
  EVP_PKEY_free(ec);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("neither RSA nor Ed25519"), std::string::npos);

  // Encrypted: refused, without asking for a pass phrase.
  EVP_PKEY* enc = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  r = PrivateKey::from_pem(pem_of(enc, "AES-128-CBC"));
  EVP_PKEY_free(enc);
  EXPECT_FALSE(r);
}

TEST(DkimKeys, KeyTypeNames) {
  EXPECT_EQ(parse_key_type("RSA"), KeyType::rsa);
  EXPECT_EQ(parse_key_type("ed25519"), KeyType::ed25519);
  EXPECT_EQ(parse_key_type("dsa"), std::nullopt);
  EXPECT_EQ(to_string(KeyType::ed25519), "ed25519");
}

TEST(DkimKeys, ValidNames) {
  for (std::string_view ok : {"example.com", "a", "mail-2024", "s1.sub.example.test", "XN--BCHER-KVA.example"})
    EXPECT_TRUE(valid_dkim_name(ok)) << ok;
  std::string label63(63, 'a'), label64(64, 'a');
  EXPECT_TRUE(valid_dkim_name(label63 + ".com"));
  for (std::string_view bad : {"", ".", "..", "../etc", "a/b", "a..b", ".a", "a.", "-a", "a-", "a_b", "a b",
                               "a\\b", "\xc3\xa9.com", "a:b"})
    EXPECT_FALSE(valid_dkim_name(bad)) << ::testing::PrintToString(std::string(bad));
  EXPECT_FALSE(valid_dkim_name(label64 + ".com"));
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name.resize(255);
  long_name.back() = 'x';
  EXPECT_FALSE(valid_dkim_name(long_name));
}

TEST(DkimKeys, CheckNamesSaysWhichIsBad) {
  EXPECT_TRUE(check_names("example.test", "s1"));
  auto d = check_names("exa mple.test", "s1");
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().permanent());
  EXPECT_EQ(d.error().client_text, "Invalid DKIM domain");
  auto s = check_names("example.test", "../s1");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().client_text, "Invalid DKIM selector");
  EXPECT_NE(s.error().detail.find("../s1"), std::string::npos);
}

TEST(DkimKeys, TxtStringsAreAtMost255Octets) {
  auto key = PrivateKey::generate(KeyType::rsa);
  std::string record = txt_record(*key);
  ASSERT_GT(record.size(), 255u);
  auto strings = txt_strings(record);
  ASSERT_EQ(strings.size(), 2u);
  std::string joined;
  for (const auto& s : strings) {
    EXPECT_LE(s.size(), 255u);
    joined += s;
  }
  EXPECT_EQ(joined, record);  // RFC 6376 §3.6.2.2: joined with nothing between
  EXPECT_EQ(strings[0].size(), 255u);

  EXPECT_EQ(txt_strings(std::string(255, 'x')).size(), 1u);
  EXPECT_EQ(txt_strings(std::string(256, 'x')).size(), 2u);
  EXPECT_EQ(txt_strings(std::string(510, 'x')).size(), 2u);
  EXPECT_EQ(txt_strings("").size(), 1u);
}

TEST(DkimKeys, ZoneLine) {
  EXPECT_EQ(zone_line("Example.COM", "Sel", rfc8463::ed25519_record),
            "sel._domainkey.example.com. IN TXT ( \"" + std::string(rfc8463::ed25519_record) + "\" )");
  std::string record = "v=DKIM1; k=rsa; p=" + std::string(300, 'A');
  EXPECT_EQ(zone_line("example.com", "s", record), "s._domainkey.example.com. IN TXT ( \"" + record.substr(0, 255) +
                                                        "\" \"" + record.substr(255) + "\" )");
  EXPECT_EQ(zone_line("e.com", "s", "a\"b\\c"), "s._domainkey.e.com. IN TXT ( \"a\\\"b\\\\c\" )");
  EXPECT_EQ(record_name("Example.COM", "S1"), "s1._domainkey.example.com");
}

TEST(DkimKeys, KeyFilesAreLowerCase) {
  auto f = key_files("/data", "Example.COM", "Sel1");
  EXPECT_EQ(f.private_key, fs::path("/data/dkim/example.com/sel1.key"));
  EXPECT_EQ(f.public_key, fs::path("/data/dkim/example.com/sel1.pub"));
}

TEST(DkimKeys, GenerateKeyFilesWritesPrivateFiles) {
  testing::TempDir dir;
  for (auto [selector, type] : {std::pair{"r1", KeyType::rsa}, std::pair{"e1", KeyType::ed25519}}) {
    auto key = generate_key_files(dir.path(), "example.test", selector, type);
    ASSERT_TRUE(key) << key.error().detail;
    auto files = key_files(dir.path(), "example.test", selector);
    EXPECT_EQ(mode(files.private_key), fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(mode(files.public_key), fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(mode(files.private_key.parent_path()), fs::perms::owner_all);
    EXPECT_EQ(mode(dir / "dkim"), fs::perms::owner_all);
    EXPECT_EQ(testing::read_file(files.public_key), key->public_pem());
    auto loaded = load_private_key(files.private_key);
    ASSERT_TRUE(loaded) << loaded.error().detail;
    EXPECT_EQ(loaded->type(), type);
    EXPECT_EQ(txt_record(*loaded), txt_record(*key));
  }
  // Only the four key files: no temporary file is left behind.
  EXPECT_EQ(testing::files_in(dir / "dkim/example.test").size(), 4u);
}

TEST(DkimKeys, GenerateNeverReplacesAKey) {
  testing::TempDir dir;
  auto first = generate_key_files(dir.path(), "example.test", "s", KeyType::ed25519);
  ASSERT_TRUE(first);
  auto again = generate_key_files(dir.path(), "EXAMPLE.test", "S", KeyType::rsa);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().permanent());
  EXPECT_NE(again.error().detail.find("exists"), std::string::npos);
  auto loaded = load_private_key(key_files(dir.path(), "example.test", "s").private_key);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->public_key_data(), first->public_key_data());
}

TEST(DkimKeys, GenerateRefusesBadNamesAndWritesNothing) {
  testing::TempDir dir;
  for (auto [domain, selector] : {std::pair{"../etc", "s"}, std::pair{"example.test", "../../x"},
                                  std::pair{"example.test", ""}, std::pair{"a/b", "s"}}) {
    auto r = generate_key_files(dir.path(), domain, selector, KeyType::ed25519);
    ASSERT_FALSE(r) << domain << " " << selector;
    EXPECT_TRUE(r.error().permanent());
  }
  EXPECT_FALSE(fs::exists(dir / "dkim"));
}

TEST(DkimKeys, LoadErrors) {
  testing::TempDir dir;
  auto missing = load_private_key(dir / "nope.key");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("nope.key"), std::string::npos);
  testing::write_file(dir / "bad.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  auto bad = load_private_key(dir / "bad.key");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().permanent());
  EXPECT_NE(bad.error().detail.find("bad.key"), std::string::npos);
}

}  // namespace
}  // namespace tern::dkim
