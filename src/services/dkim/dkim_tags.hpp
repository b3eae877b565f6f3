// DKIM's tag=value lists (RFC 6376 §3.2) and the two things written in them:
// the DKIM-Signature field (§3.5) and the key record published in DNS
// (§3.6.1, RFC 8463 §4). Pure parsing of untrusted text: no crypto, no DNS,
// no clock (x= against the time is the verifier's job); every rejection is a
// value carrying a reason fit for an Authentication-Results comment.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "services/dkim/dkim_canon.hpp"
#include "services/dkim/dkim_keys.hpp"  // KeyType only: nothing of dkim_keys.cpp is linked

namespace tern::dkim {

// Why a text was refused: one short line, no CR/LF.
template <typename T>
using TagResult = std::expected<T, std::string>;

// One tag-spec. Both views point into the parsed text.
struct Tag {
  std::string_view name;
  std::string_view value;      // without the FWS around it (FWS inside stays)
  std::string_view raw_value;  // everything between "=" and the ";" or the end
};

// §3.2: tag-spec *(";" tag-spec) [";"], FWS allowed around names, "=" and
// values; a tag name twice is an error; names are case-sensitive. Empty text
// (or only FWS) is an empty list. Unknown tags are kept: callers ignore them.
TagResult<std::vector<Tag>> parse_tag_list(std::string_view text);
const Tag* find_tag(std::span<const Tag> tags, std::string_view name);

// The value with every SP, HTAB, CR and LF taken out: base64 values may be
// folded anywhere (§3.5 b= and bh=, §3.6.1 p=).
std::string remove_fws(std::string_view value);

enum class HashAlgorithm { sha1, sha256 };
enum class SignatureAlgorithm { rsa_sha256, rsa_sha1, ed25519_sha256 };
std::string_view to_string(SignatureAlgorithm a);  // "rsa-sha256", "rsa-sha1", "ed25519-sha256"
HashAlgorithm hash_of(SignatureAlgorithm a);
KeyType key_type_of(SignatureAlgorithm a);

// The largest h= list we accept: far above any real signer, and it bounds the
// work a hostile signature can ask for.
inline constexpr std::size_t max_signed_headers = 256;

struct Signature {
  SignatureAlgorithm algorithm = SignatureAlgorithm::rsa_sha256;
  std::string signature;       // b=, decoded
  std::string signature_text;  // b= as base64 without FWS (RFC 8601 header.b)
  std::string body_hash;       // bh=, decoded
  Canon header_canon = Canon::simple;
  Canon body_canon = Canon::simple;
  std::string domain;                       // d=, lower case
  std::vector<std::string> signed_headers;  // h=, as written
  std::string identity;                     // i=, or "@" + d= when absent
  std::optional<std::uint64_t> body_length;  // l=
  std::string selector;                     // s=, lower case
  std::optional<std::int64_t> timestamp;    // t=
  std::optional<std::int64_t> expiration;   // x=
};

// The value of a DKIM-Signature field (the text after its colon, folding
// included). Refuses what §6.1.1 says to refuse with PERMFAIL: v= not 1,
// a missing required tag, an unknown a=, c= or q=, h= without From, an i=
// outside d=, x= before t=, and any malformed value.
TagResult<Signature> parse_signature(std::string_view field_value);

// §3.7: the whole field (as HeaderField::text gives it) with the value of
// its b= tag, and the whitespace around it, deleted; the rest byte for byte.
TagResult<std::string> without_signature_value(std::string_view field_text);

struct KeyRecord {
  KeyType type = KeyType::rsa;
  std::vector<std::string> hashes;  // h=; empty: every hash algorithm
  std::string public_key;           // p=, decoded; never empty (empty is "revoked")
  bool testing = false;             // t=y
  bool strict = false;              // t=s: i= must be in d= exactly, no subdomain
  bool accepts(HashAlgorithm h) const;
};

// A TXT record's text (its strings joined). Refuses: v= present but not
// first or not "DKIM1", unknown k=, no p=, an empty p= ("key revoked",
// §3.6.1), p= not base64, s= without "*" or "email", malformed tags.
TagResult<KeyRecord> parse_key_record(std::string_view text);

}  // namespace tern::dkim
