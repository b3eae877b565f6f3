// DKIM keys: generating RSA-2048 and Ed25519 key pairs, keeping them as PEM
// files under <data_dir>/dkim/<domain>/<selector>.{key,pub} (mode 0600),
// loading a private key, and the DNS TXT record that publishes the public
// key (RFC 6376 §3.6.1, RFC 8463 §4). OpenSSL stays behind this header.
// File operations block: run them at start-up, in the CLI, or off the I/O thread.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace tern::dkim {

enum class KeyType { rsa, ed25519 };
std::string_view to_string(KeyType type);                  // the k= value: "rsa", "ed25519"
std::optional<KeyType> parse_key_type(std::string_view text);  // "rsa", "ed25519" (any case)

// RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits and SHOULD
// use 2048; we generate 2048 and refuse to load anything under 1024.
inline constexpr int rsa_generate_bits = 2048;
inline constexpr int rsa_min_bits = 1024;

// A private key (which holds its public half). Copies share one OpenSSL key,
// which is safe to sign with from several threads at once.
class PrivateKey {
 public:
  static Result<PrivateKey> generate(KeyType type);
  // PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY"), not
  // encrypted. Refuses other key types and RSA under rsa_min_bits.
  static Result<PrivateKey> from_pem(std::string_view pem);

  KeyType type() const { return type_; }
  int bits() const;
  std::string private_pem() const;  // PKCS#8
  std::string public_pem() const;   // SubjectPublicKeyInfo ("BEGIN PUBLIC KEY")
  // The bytes the p= tag carries, before base64: the DER SubjectPublicKeyInfo
  // for RSA (what every verifier expects, RFC 6376 §3.6.1), the raw 32-byte
  // key for Ed25519 (RFC 8463 §4.2).
  std::string public_key_data() const;
  evp_pkey_st* native() const { return key_.get(); }

 private:
  PrivateKey(std::shared_ptr<evp_pkey_st> key, KeyType type) : key_(std::move(key)), type_(type) {}
  std::shared_ptr<evp_pkey_st> key_;
  KeyType type_ = KeyType::rsa;
};

// Domains and selectors are DNS names of LDH labels (RFC 6376 §3.1 and §3.5,
// RFC 5321 sub-domain): 1-63 letters, digits and inner hyphens per label,
// 253 octets in all, no trailing dot. They also become file names, so this
// keeps "..", "/" and friends out of the data directory.
bool valid_dkim_name(std::string_view name);
// Both, as a permanent Error that names the bad one.
Result<void> check_names(std::string_view domain, std::string_view selector);

// "<selector>._domainkey.<domain>" (RFC 6376 §3.6.2.1), lower case.
std::string record_name(std::string_view domain, std::string_view selector);
// "v=DKIM1; k=rsa; p=<base64>" or "v=DKIM1; k=ed25519; p=<base64>".
std::string txt_record(const PrivateKey& key);
// The record cut into the <character-string>s of one TXT record, at most 255
// octets each (RFC 1035 §3.3.14); DKIM reads them joined with nothing
// between (RFC 6376 §3.6.2.2).
std::vector<std::string> txt_strings(std::string_view record);
// The zone-file line to publish:
//   <selector>._domainkey.<domain>. IN TXT ( "v=DKIM1; k=rsa; p=..." "..." )
std::string zone_line(std::string_view domain, std::string_view selector, std::string_view record);

struct KeyFiles {
  std::filesystem::path private_key;  // <data_dir>/dkim/<domain>/<selector>.key
  std::filesystem::path public_key;   // <data_dir>/dkim/<domain>/<selector>.pub
};
// Domain and selector are lower-cased (DNS names are case-insensitive, file
// names are not); the caller checks them with valid_dkim_name first.
KeyFiles key_files(const std::filesystem::path& data_dir, std::string_view domain, std::string_view selector);

// Generates a key pair and writes both files, mode 0600, in directories made
// with mode 0700. Never replaces an existing private key: a key that may
// already be published in DNS is not thrown away by a repeated command.
Result<PrivateKey> generate_key_files(const std::filesystem::path& data_dir, std::string_view domain,
                                      std::string_view selector, KeyType type);
Result<PrivateKey> load_private_key(const std::filesystem::path& file);

// This thread's OpenSSL error queue, emptied, as a temporary Error whose
// detail starts with `what`. For the DKIM files only.
Error openssl_error(std::string_view what);

}  // namespace tern::dkim
