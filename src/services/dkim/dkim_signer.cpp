#include "services/dkim/dkim_signer.hpp"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>

#include "base/base64.hpp"
#include "base/strings.hpp"

namespace tern::dkim {
namespace {

// RFC 5322 §2.1.1: lines SHOULD be no longer than 78 characters, CRLF excluded.
constexpr std::size_t max_line = 78;

// Builds a folded header field a token at a time. A fold is CRLF + HTAB,
// which is FWS wherever the tag grammar allows it: between tags, around the
// colons of h=, and inside base64 values (RFC 6376 §3.5, base64string).
class Folder {
 public:
  explicit Folder(std::string_view start) : text_(start), line_(start.size()) {}

  // `sep` goes between the token and what precedes it when both share a
  // line; a fold replaces it. `keep` more octets must fit after the token
  // too, or it starts a new line.
  void add(std::string_view token, std::string_view sep, std::size_t keep = 0) {
    if (line_ > 1 && line_ + sep.size() + token.size() + keep > max_line) {
      fold();
    } else {
      text_ += sep;
      line_ += sep.size();
    }
    text_ += token;
    line_ += token.size();
  }

  // A value that may be cut anywhere (base64): fill each line to the limit.
  void add_breakable(std::string_view value) {
    while (!value.empty()) {
      if (line_ >= max_line) fold();
      std::size_t n = std::min(value.size(), max_line - line_);
      text_.append(value.substr(0, n));
      line_ += n;
      value.remove_prefix(n);
    }
  }

  const std::string& text() const { return text_; }

 private:
  void fold() {
    text_ += "\r\n\t";
    line_ = 1;
  }
  std::string text_;
  std::size_t line_;
};

std::string_view as_view(const unsigned char* p, std::size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

std::vector<std::string> choose_signed_headers(std::span<const HeaderField> fields) {
  std::vector<std::string> h;
  for (std::string_view name : signed_header_names) {
    std::size_t n = static_cast<std::size_t>(
        std::count_if(fields.begin(), fields.end(), [&](const HeaderField& f) { return iequals(f.name, name); }));
    if (iequals(name, "From")) ++n;  // oversigned
    for (std::size_t k = 0; k < n; ++k) h.push_back(to_lower(name));
  }
  return h;
}

std::string_view algorithm_name(KeyType type) { return type == KeyType::rsa ? "rsa-sha256" : "ed25519-sha256"; }

BodyHasher::BodyHasher(Canon canon) : canon_(canon), ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  // Only allocation can fail here, and then nothing else would work either.
  if (!ctx_ || !EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr)) std::abort();
}
BodyHasher::BodyHasher(BodyHasher&&) noexcept = default;
BodyHasher& BodyHasher::operator=(BodyHasher&&) noexcept = default;
BodyHasher::~BodyHasher() = default;

void BodyHasher::update(std::string_view piece) {
  canon_.feed(piece, buffer_);
  if (buffer_.size() >= 16 * 1024) {
    EVP_DigestUpdate(ctx_.get(), buffer_.data(), buffer_.size());
    buffer_.clear();
  }
}

std::string BodyHasher::finish() {
  canon_.finish(buffer_);
  EVP_DigestUpdate(ctx_.get(), buffer_.data(), buffer_.size());
  buffer_.clear();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &n);
  return std::string(as_view(md, n));
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr)) std::abort();
  return std::string(as_view(md, n));
}

Result<std::string> sign_digest(const PrivateKey& key, std::string_view digest) {
  if (digest.size() != 32)
    return std::unexpected(Error::temporary("Local error in processing", "sign_digest: not a SHA-256 digest"));
  const auto* in = reinterpret_cast<const unsigned char*>(digest.data());
  std::size_t len = 0;
  std::string sig;
  if (key.type() == KeyType::rsa) {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_pkey(nullptr, key.native(), nullptr), EVP_PKEY_CTX_free);
    // RFC 6376 §3.3.1: PKCS#1 v1.5 over the SHA-256 hash, which OpenSSL
    // wraps in its DigestInfo once it knows the digest is SHA-256.
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) <= 0 ||
        EVP_PKEY_sign(ctx.get(), nullptr, &len, in, digest.size()) <= 0)
      return std::unexpected(openssl_error("RSA sign setup"));
    sig.resize(len);
    if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, digest.size()) <= 0)
      return std::unexpected(openssl_error("RSA sign"));
  } else {
    // RFC 8463 §3: PureEdDSA (no pre-hash of its own) with the SHA-256 digest
    // as the message.
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key.native(), nullptr) <= 0 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, in, digest.size()) <= 0)
      return std::unexpected(openssl_error("Ed25519 sign setup"));
    sig.resize(len);
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, digest.size()) <= 0)
      return std::unexpected(openssl_error("Ed25519 sign"));
  }
  sig.resize(len);
  return sig;
}

Result<Signer> Signer::create(std::string_view domain, std::string_view selector, PrivateKey key,
                              SignerOptions options) {
  if (auto r = check_names(domain, selector); !r) return std::unexpected(r.error());
  return Signer(to_lower(domain), to_lower(selector), std::move(key), options);
}

Result<std::string> Signer::sign(std::string_view message, std::int64_t unix_time) const {
  ParsedMessage parsed = parse_message(message);
  BodyHasher body(options_.body_canon);
  body.update(parsed.body);
  return sign(parsed.fields, body.finish(), unix_time);
}

Result<std::string> Signer::sign(std::span<const HeaderField> fields, std::string_view body_hash,
                                 std::int64_t unix_time) const {
  // RFC 6376 §5.4: "The From header field MUST be signed"; a message without
  // one is not ours to vouch for.
  if (std::none_of(fields.begin(), fields.end(), [](const HeaderField& f) { return iequals(f.name, "From"); }))
    return std::unexpected(Error::permanent_failure("Message has no From header", "DKIM: no From field to sign"));
  std::vector<std::string> h = choose_signed_headers(fields);

  // §3.5 tags. v= first; q=dns/txt and an i= of "@d" are the defaults, so
  // they are left out; no l= (a body length would let anyone append to the
  // body, §8.2) and no x=.
  Folder f("DKIM-Signature:");
  f.add("v=1;", " ");
  f.add(fmt::format("a={};", algorithm_name(key_.type())), " ");
  f.add(fmt::format("c={}/{};", to_string(options_.header_canon), to_string(options_.body_canon)), " ");
  f.add(fmt::format("d={};", domain_), " ");
  f.add(fmt::format("s={};", selector_), " ");
  f.add(fmt::format("t={};", unix_time), " ");
  for (std::size_t i = 0; i < h.size(); ++i)
    f.add(fmt::format("{}{}{}", i == 0 ? "h=" : "", h[i], i + 1 < h.size() ? ":" : ";"), i == 0 ? " " : "");
  f.add(fmt::format("bh={};", base64_encode(body_hash)), " ");
  // b= last, with room for some of its value on the same line. §3.7: the
  // field is hashed as it will be sent but with the b= value empty; what
  // follows "b=" is appended only after signing, so everything before it
  // must already be final.
  f.add("b=", " ", 8);

  std::string data = header_hash_input(options_.header_canon, fields, h, f.text());
  auto sig = sign_digest(key_, sha256(data));
  if (!sig) return std::unexpected(sig.error());
  f.add_breakable(base64_encode(*sig));
  return f.text() + "\r\n";
}

}  // namespace tern::dkim
