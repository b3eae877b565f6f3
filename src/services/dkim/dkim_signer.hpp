// DKIM signing (RFC 6376 §5, RFC 8463): RSA-SHA256 and Ed25519-SHA256 over a
// message in its wire form, producing the complete DKIM-Signature header
// field, folded, to prepend. No clock and no files: the caller gives the
// signing time and a loaded key, so a signature is reproducible in tests.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "services/dkim/dkim_canon.hpp"
#include "services/dkim/dkim_keys.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace tern::dkim {

// The fields Tern signs when they are present (RFC 6376 §5.4.1 lists these
// among the ones that SHOULD be signed): the ones a reader sees and the ones
// that say how to read the body.
inline constexpr std::array<std::string_view, 11> signed_header_names = {
    "From",       "To",           "Cc",          "Subject",      "Date",      "Message-ID",
    "MIME-Version", "Content-Type", "Reply-To",  "In-Reply-To",  "References"};

// The h= list for a message: each name above once per instance present, in
// that order, lower case; From once more than it appears. RFC 6376 §5.4: a
// name with no field behind it signs "no such field"; §5.4.2: instances are
// taken from the bottom up; §8.15: so a From: added on top in transit, the
// one a reader would see, breaks the signature instead of riding along.
std::vector<std::string> choose_signed_headers(std::span<const HeaderField> fields);

std::string_view algorithm_name(KeyType type);  // "rsa-sha256", "ed25519-sha256"

// SHA-256 of the body as canonicalized, fed in pieces (the bh= tag, §3.7).
class BodyHasher {
 public:
  explicit BodyHasher(Canon canon);
  BodyHasher(BodyHasher&&) noexcept;
  BodyHasher& operator=(BodyHasher&&) noexcept;
  ~BodyHasher();
  void update(std::string_view piece);
  std::string finish();  // the 32-byte digest; the hasher is spent

 private:
  BodyCanonicalizer canon_;
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> ctx_;
  std::string buffer_;
};

std::string sha256(std::string_view data);
// The signature step on a SHA-256 digest of the header hash input (§3.7).
// RSA: RSASSA-PKCS1-v1_5 with SHA-256 (§3.3.1). Ed25519: PureEdDSA over the
// 32 digest bytes themselves (RFC 8463 §3: "It signs the hash"), not over the
// data. Returns the raw signature.
Result<std::string> sign_digest(const PrivateKey& key, std::string_view digest);

struct SignerOptions {
  Canon header_canon = Canon::relaxed;
  Canon body_canon = Canon::relaxed;
};

class Signer {
 public:
  // Checks domain and selector (check_names) and keeps them in lower case.
  static Result<Signer> create(std::string_view domain, std::string_view selector, PrivateKey key,
                               SignerOptions options = {});

  const std::string& domain() const { return domain_; }
  const std::string& selector() const { return selector_; }
  KeyType key_type() const { return key_.type(); }

  // `message` is the message exactly as it will be sent: header, empty line,
  // body, CRLF line ends (to_crlf first if it might have bare LFs). Returns
  // "DKIM-Signature: ...\r\n", folded to lines of at most 78 octets except
  // where one tag value is longer, to put in front of the message unchanged.
  // It refuses a message with no From field (RFC 6376 §5.4: From MUST be signed).
  Result<std::string> sign(std::string_view message, std::int64_t unix_time) const;
  // The same, for a body hashed separately (BodyHasher with options().body_canon).
  Result<std::string> sign(std::span<const HeaderField> fields, std::string_view body_hash,
                           std::int64_t unix_time) const;

  const SignerOptions& options() const { return options_; }

 private:
  Signer(std::string domain, std::string selector, PrivateKey key, SignerOptions options)
      : domain_(std::move(domain)), selector_(std::move(selector)), key_(std::move(key)), options_(options) {}
  std::string domain_, selector_;
  PrivateKey key_;
  SignerOptions options_;
};

}  // namespace tern::dkim
