// Tag lists (RFC 6376 §3.2), DKIM-Signature fields (§3.5) and key records
// (§3.6.1) parsed by hand, one character class at a time, so every byte of
// hostile input is looked at exactly once and nothing is read past the end.
#include "services/dkim/dkim_tags.hpp"

#include <algorithm>
#include <charconv>

#include "base/base64.hpp"
#include "base/strings.hpp"

namespace tern::dkim {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// §3.2 VALCHAR is %x21-3A / %x3C-7E. Octets above 0x7E are let through too:
// RFC 8616 §4 allows UTF-8 in i=, and nothing else here interprets them.
bool is_valchar(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 0x21 && u <= 0x7E && c != ';') || u >= 0x80;
}

// FWS (RFC 5322 §3.2.2 as §2.8 uses it): WSP, or CRLF followed by WSP. The
// length of the FWS at `pos`, 0 if none.
std::size_t fws_at(std::string_view s, std::size_t pos) {
  std::size_t i = pos;
  while (i < s.size()) {
    if (is_wsp(s[i])) {
      ++i;
    } else if (s[i] == '\r' && i + 2 < s.size() && s[i + 1] == '\n' && is_wsp(s[i + 2])) {
      i += 3;
    } else {
      break;
    }
  }
  return i - pos;
}

std::string_view trim_fws(std::string_view v) {
  v.remove_prefix(fws_at(v, 0));
  // Trailing: WSP, or a CRLF (a fold) left before the end.
  while (!v.empty() && (is_wsp(v.back()) || v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

// A colon-separated list (h=, q=, and the key's h=, s=, t=), FWS allowed
// around each element (§3.5 h=: "*( [FWS] ":" [FWS] hdr-name )").
std::vector<std::string_view> split_colons(std::string_view v) {
  std::vector<std::string_view> out;
  while (true) {
    auto colon = v.find(':');
    out.push_back(trim_fws(v.substr(0, colon)));
    if (colon == std::string_view::npos) break;
    v.remove_prefix(colon + 1);
  }
  return out;
}

template <typename T>
std::optional<T> parse_number(std::string_view v, std::size_t max_digits) {
  if (v.empty() || v.size() > max_digits || !std::all_of(v.begin(), v.end(), is_digit)) return std::nullopt;
  T out{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return out;
}

// §3.5 d= and s=: domain-name / selector, dot-separated labels. Letters,
// digits, "-" and "_" (selectors and some real d= values use "_"); a label
// 1-63 octets; 253 in all.
bool valid_domain_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (is_alpha(c) || is_digit(c) || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

// RFC 5322 §3.6.8 field-name: 1*ftext, printable US-ASCII but ":".
bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

TagResult<std::string> decode_base64_value(std::string_view value, std::string_view tag) {
  std::string text = remove_fws(value);
  auto decoded = base64_decode(text);
  if (!decoded) return std::unexpected(std::string(tag) + "= is not valid base64");
  return *decoded;
}

TagResult<Canon> parse_canon(std::string_view v) {
  if (iequals(v, "simple")) return Canon::simple;
  if (iequals(v, "relaxed")) return Canon::relaxed;
  return std::unexpected("unknown canonicalization c=" + log_escape(v, 40));
}

std::string_view required(std::span<const Tag> tags, std::string_view name, bool& missing) {
  const Tag* t = find_tag(tags, name);
  if (!t) {
    missing = true;
    return {};
  }
  return t->value;
}

}  // namespace

TagResult<std::vector<Tag>> parse_tag_list(std::string_view text) {
  std::vector<Tag> tags;
  std::size_t pos = 0;
  while (true) {
    pos += fws_at(text, pos);
    if (pos == text.size()) {
      // Only FWS after the last ";" (or nothing at all): §3.2 allows a
      // trailing semicolon; an empty spec between two is refused below.
      return tags;
    }
    // tag-name = ALPHA *ALNUMPUNC
    std::size_t name_start = pos;
    if (!is_alpha(text[pos])) {
      if (text[pos] == ';') return std::unexpected("empty tag-spec");
      return std::unexpected("tag name does not start with a letter");
    }
    while (pos < text.size() && (is_alpha(text[pos]) || is_digit(text[pos]) || text[pos] == '_')) ++pos;
    std::string_view name = text.substr(name_start, pos - name_start);
    pos += fws_at(text, pos);
    if (pos == text.size() || text[pos] != '=')
      return std::unexpected("tag " + log_escape(name, 40) + " has no \"=\"");
    ++pos;
    // tag-value = [ tval *( 1*(WSP / FWS) tval ) ], ended by ";" or the end.
    std::size_t value_start = pos;
    while (pos < text.size() && text[pos] != ';') {
      if (is_valchar(text[pos])) {
        ++pos;
      } else if (std::size_t n = fws_at(text, pos); n > 0) {
        pos += n;
      } else {
        return std::unexpected("invalid character in the value of tag " + log_escape(name, 40));
      }
    }
    std::string_view raw = text.substr(value_start, pos - value_start);
    if (find_tag(tags, name)) return std::unexpected("duplicate tag " + log_escape(name, 40));  // §3.2
    tags.push_back(Tag{name, trim_fws(raw), raw});
    if (pos == text.size()) return tags;
    ++pos;  // ";"
  }
}

const Tag* find_tag(std::span<const Tag> tags, std::string_view name) {
  for (const auto& t : tags)
    if (t.name == name) return &t;
  return nullptr;
}

std::string remove_fws(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value)
    if (!is_wsp(c) && c != '\r' && c != '\n') out += c;
  return out;
}

std::string_view to_string(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::rsa_sha256: return "rsa-sha256";
    case SignatureAlgorithm::rsa_sha1: return "rsa-sha1";
    case SignatureAlgorithm::ed25519_sha256: return "ed25519-sha256";
  }
  return "?";
}

HashAlgorithm hash_of(SignatureAlgorithm a) {
  return a == SignatureAlgorithm::rsa_sha1 ? HashAlgorithm::sha1 : HashAlgorithm::sha256;
}

KeyType key_type_of(SignatureAlgorithm a) {
  return a == SignatureAlgorithm::ed25519_sha256 ? KeyType::ed25519 : KeyType::rsa;
}

TagResult<Signature> parse_signature(std::string_view field_value) {
  auto list = parse_tag_list(field_value);
  if (!list) return std::unexpected(list.error());
  const std::vector<Tag>& tags = *list;
  Signature sig;

  // §6.1.1: v=, a=, b=, bh=, d=, h= and s= are required.
  bool missing = false;
  std::string_view v = required(tags, "v", missing);
  std::string_view a = required(tags, "a", missing);
  std::string_view b = required(tags, "b", missing);
  std::string_view bh = required(tags, "bh", missing);
  std::string_view d = required(tags, "d", missing);
  std::string_view h = required(tags, "h", missing);
  std::string_view s = required(tags, "s", missing);
  if (missing) {
    std::string names;
    for (std::string_view n : {"v", "a", "b", "bh", "d", "h", "s"})
      if (!find_tag(tags, n)) names += std::string(names.empty() ? "" : ", ") + std::string(n) + "=";
    return std::unexpected("signature lacks required tag(s) " + names);
  }

  // §3.5 v=: "1"; §6.1.1: any other version is PERMFAIL (incompatible version).
  if (v != "1") return std::unexpected("incompatible signature version v=" + log_escape(v, 20));

  // §3.5 a=; RFC 8463 §3 adds ed25519-sha256. ABNF literals are case-insensitive.
  if (iequals(a, "rsa-sha256")) {
    sig.algorithm = SignatureAlgorithm::rsa_sha256;
  } else if (iequals(a, "rsa-sha1")) {
    sig.algorithm = SignatureAlgorithm::rsa_sha1;
  } else if (iequals(a, "ed25519-sha256")) {
    sig.algorithm = SignatureAlgorithm::ed25519_sha256;
  } else {
    return std::unexpected("unknown signing algorithm a=" + log_escape(a, 40));
  }

  sig.signature_text = remove_fws(b);
  auto b_bytes = decode_base64_value(b, "b");
  if (!b_bytes) return std::unexpected(b_bytes.error());
  if (b_bytes->empty()) return std::unexpected("empty b= (no signature)");
  sig.signature = std::move(*b_bytes);

  auto bh_bytes = decode_base64_value(bh, "bh");
  if (!bh_bytes) return std::unexpected(bh_bytes.error());
  if (bh_bytes->size() != (hash_of(sig.algorithm) == HashAlgorithm::sha1 ? 20u : 32u))
    return std::unexpected("bh= has the wrong length for a=" + std::string(to_string(sig.algorithm)));
  sig.body_hash = std::move(*bh_bytes);

  // §3.5 c=: header[/body], each "simple" or "relaxed"; default simple/simple,
  // and simple for the body when only the header algorithm is given.
  if (const Tag* c = find_tag(tags, "c")) {
    std::string_view cv = c->value;
    auto slash = cv.find('/');
    auto hc = parse_canon(cv.substr(0, slash));
    if (!hc) return std::unexpected(hc.error());
    sig.header_canon = *hc;
    if (slash != std::string_view::npos) {
      auto bc = parse_canon(cv.substr(slash + 1));
      if (!bc) return std::unexpected(bc.error());
      sig.body_canon = *bc;
    }
  }

  if (!valid_domain_name(d)) return std::unexpected("malformed d= " + log_escape(d, 80));
  sig.domain = to_lower(d);
  if (!valid_domain_name(s)) return std::unexpected("malformed s= " + log_escape(s, 80));
  sig.selector = to_lower(s);

  // §3.5 h=: field names separated by ":"; §6.1.1: From must be among them.
  for (std::string_view name : split_colons(h)) {
    if (!valid_field_name(name)) return std::unexpected("malformed field name in h=");
    if (sig.signed_headers.size() == max_signed_headers) return std::unexpected("h= lists too many fields");
    sig.signed_headers.emplace_back(name);
  }
  if (std::none_of(sig.signed_headers.begin(), sig.signed_headers.end(),
                   [](const std::string& n) { return iequals(n, "From"); }))
    return std::unexpected("From field not signed (h= lacks From)");

  // §3.5 i=: [Local-part] "@" domain-name, the domain d= or a subdomain of
  // it (§6.1.1: otherwise PERMFAIL, domain mismatch). Default "@" + d=.
  if (const Tag* i = find_tag(tags, "i")) {
    auto at = i->value.rfind('@');
    if (at == std::string_view::npos) return std::unexpected("i= has no \"@\"");
    std::string idomain = to_lower(i->value.substr(at + 1));
    if (!valid_domain_name(idomain)) return std::unexpected("malformed domain in i=");
    if (idomain != sig.domain && !(idomain.size() > sig.domain.size() && idomain.ends_with(sig.domain) &&
                                   idomain[idomain.size() - sig.domain.size() - 1] == '.'))
      return std::unexpected("i= domain is not d= or a subdomain of it");
    sig.identity = std::string(i->value);
  } else {
    sig.identity = "@" + sig.domain;
  }

  // §3.5 l=: 1*76DIGIT. A count past 2^64-1 could never match a body.
  if (const Tag* l = find_tag(tags, "l")) {
    auto n = parse_number<std::uint64_t>(l->value, 76);
    if (!n) return std::unexpected("malformed or out-of-range l=");
    sig.body_length = *n;
  }

  // §3.5 q=: colon-separated methods; dns/txt is the only one defined
  // (§6.1.1: none we know → PERMFAIL).
  if (const Tag* q = find_tag(tags, "q")) {
    auto methods = split_colons(q->value);
    if (std::none_of(methods.begin(), methods.end(), [](std::string_view m) { return iequals(m, "dns/txt"); }))
      return std::unexpected("no supported query method in q=");
  }

  // §3.5 t= and x=: 1*12DIGIT seconds since the epoch (18 accepted: still an
  // int64). x= must not be before t=.
  if (const Tag* t = find_tag(tags, "t")) {
    auto n = parse_number<std::int64_t>(t->value, 18);
    if (!n) return std::unexpected("malformed t=");
    sig.timestamp = *n;
  }
  if (const Tag* x = find_tag(tags, "x")) {
    auto n = parse_number<std::int64_t>(x->value, 18);
    if (!n) return std::unexpected("malformed x=");
    sig.expiration = *n;
  }
  if (sig.timestamp && sig.expiration && *sig.expiration < *sig.timestamp)
    return std::unexpected("x= is before t=");
  // z= (copied header fields) is diagnostic only and ignored, like unknown tags (§3.2).
  return sig;
}

TagResult<std::string> without_signature_value(std::string_view field_text) {
  auto colon = field_text.find(':');
  if (colon == std::string_view::npos) return std::unexpected("not a header field");
  std::string_view value = field_text.substr(colon + 1);
  auto tags = parse_tag_list(value);
  if (!tags) return std::unexpected(tags.error());
  const Tag* b = find_tag(*tags, "b");
  if (!b) return std::unexpected("no b= tag");
  // raw_value points into field_text: keep what precedes and follows it.
  std::size_t start = static_cast<std::size_t>(b->raw_value.data() - field_text.data());
  std::string out(field_text.substr(0, start));
  out.append(field_text.substr(start + b->raw_value.size()));
  return out;
}

bool KeyRecord::accepts(HashAlgorithm h) const {
  if (hashes.empty()) return true;
  std::string_view want = h == HashAlgorithm::sha1 ? "sha1" : "sha256";
  return std::any_of(hashes.begin(), hashes.end(), [&](const std::string& x) { return iequals(x, want); });
}

TagResult<KeyRecord> parse_key_record(std::string_view text) {
  auto list = parse_tag_list(text);
  if (!list) return std::unexpected("key record: " + list.error());
  const std::vector<Tag>& tags = *list;
  KeyRecord key;

  // §3.6.1 v=: optional, but when present it MUST be the first tag and be "DKIM1".
  if (const Tag* v = find_tag(tags, "v")) {
    if (v != &tags.front()) return std::unexpected("key record: v= is not the first tag");
    if (v->value != "DKIM1") return std::unexpected("key record: unknown version v=" + log_escape(v->value, 20));
  }

  // h=: acceptable hash algorithms; unknown names are ignored (§3.6.1).
  if (const Tag* h = find_tag(tags, "h"))
    for (std::string_view name : split_colons(h->value))
      if (!name.empty()) key.hashes.emplace_back(name);

  // k=: default rsa; RFC 8463 §4 adds ed25519. Unknown: PERMFAIL (§6.1.2).
  if (const Tag* k = find_tag(tags, "k")) {
    if (iequals(k->value, "rsa")) {
      key.type = KeyType::rsa;
    } else if (iequals(k->value, "ed25519")) {
      key.type = KeyType::ed25519;
    } else {
      return std::unexpected("key record: unknown key type k=" + log_escape(k->value, 40));
    }
  }

  // s=: service types; "*" (the default) or "email" must be among them.
  if (const Tag* s = find_tag(tags, "s")) {
    auto types = split_colons(s->value);
    if (std::none_of(types.begin(), types.end(), [](std::string_view t) { return t == "*" || iequals(t, "email"); }))
      return std::unexpected("key record: not for email (s=" + log_escape(s->value, 40) + ")");
  }

  // t=: flags; "y" testing, "s" strict; others ignored.
  if (const Tag* t = find_tag(tags, "t")) {
    for (std::string_view flag : split_colons(t->value)) {
      if (flag == "y") key.testing = true;
      if (flag == "s") key.strict = true;
    }
  }

  // p=: required; empty means the key was revoked (§3.6.1, §6.1.2).
  const Tag* p = find_tag(tags, "p");
  if (!p) return std::unexpected("key record has no p=");
  auto bytes = decode_base64_value(p->value, "p");
  if (!bytes) return std::unexpected("key record: " + bytes.error());
  if (bytes->empty()) return std::unexpected("key revoked (empty p=)");
  key.public_key = std::move(*bytes);
  return key;
}

}  // namespace tern::dkim
