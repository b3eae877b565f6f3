// RFC 6376 §6.1 step by step for each signature: check the field (§6.1.1),
// fetch and check the key (§6.1.2), compare the body hash and then the
// signature (§6.1.3). Each signature is independent; one shared Job counts
// the lookups still out and hands the results over when the last one ends.
#include "services/dkim/dkim_verifier.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <expected>
#include <optional>
#include <utility>

#include "base/strings.hpp"
#include "services/dkim/dkim_canon.hpp"
#include "services/dkim/dkim_keys.hpp"
#include "services/dkim/dkim_tags.hpp"

namespace tern::dkim {
namespace {

using auth::DkimResult;

// A CNAME chain (keys delegated to a mail provider) is followed this many
// times when the resolver hands back the CNAME without its target's data.
constexpr int max_cname_hops = 8;

struct Job {
  Job(dns::Resolver& r, std::shared_ptr<const std::string> m, std::int64_t n,
      std::function<void(std::vector<DkimSignatureResult>)> d)
      : resolver(r), message(std::move(m)), parsed(parse_message(*message)), now(n), done(std::move(d)) {}

  dns::Resolver& resolver;
  std::shared_ptr<const std::string> message;
  ParsedMessage parsed;  // views into *message
  std::int64_t now;
  std::function<void(std::vector<DkimSignatureResult>)> done;
  // Each slot is written by one signature's thread only; the atomic
  // decrement orders those writes before the read by whoever ends last.
  std::vector<DkimSignatureResult> results;
  std::atomic<std::size_t> remaining{1};

  void finish_one() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) done(std::move(results));
  }
};

struct Pending {
  std::shared_ptr<Job> job;
  std::size_t index = 0;
  std::string_view field_text;
  Signature sig;
  int hops = 0;
};

struct Verdict {
  DkimResult result;
  std::string detail;
};

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

const EVP_MD* md_of(HashAlgorithm h) { return h == HashAlgorithm::sha1 ? EVP_sha1() : EVP_sha256(); }

std::string digest(HashAlgorithm h, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(data.data(), data.size(), md, &n, md_of(h), nullptr)) std::abort();  // allocation only
  return std::string(reinterpret_cast<const char*>(md), n);
}

// §3.7 body hash over the canonical body, cut at l= when there is one.
// `canonical_size` gets the length of the whole canonical body.
std::string body_digest(HashAlgorithm h, Canon canon, std::string_view body, std::optional<std::uint64_t> limit,
                        std::uint64_t& canonical_size) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || !EVP_DigestInit_ex(ctx.get(), md_of(h), nullptr)) std::abort();  // allocation only
  BodyCanonicalizer canonicalizer(canon);
  std::string out;
  canonical_size = 0;
  auto hash = [&] {
    std::uint64_t take = out.size();
    if (limit) take = canonical_size >= *limit ? 0 : std::min<std::uint64_t>(take, *limit - canonical_size);
    EVP_DigestUpdate(ctx.get(), out.data(), static_cast<std::size_t>(take));
    canonical_size += out.size();
    out.clear();
  };
  constexpr std::size_t chunk = 64 * 1024;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    canonicalizer.feed(body.substr(at, chunk), out);
    hash();
  }
  canonicalizer.finish(out);
  hash();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  return std::string(reinterpret_cast<const char*>(md), n);
}

// p= for RSA is a DER SubjectPublicKeyInfo (§3.6.1); some old records carry
// a bare PKCS#1 RSAPublicKey, which verifiers commonly accept too.
// Ed25519 is the raw 32-byte key (RFC 8463 §4.2).
Pkey load_public_key(KeyType type, const std::string& data) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (type == KeyType::ed25519) {
    if (data.size() != 32) return nullptr;
    return Pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes, data.size()));
  }
  const unsigned char* p = bytes;
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size())));
  if (!key) {
    p = bytes;
    key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(data.size())));
  }
  if (key && EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) key.reset();
  return key;
}

bool verify_signature(EVP_PKEY* key, SignatureAlgorithm alg, std::string_view digest_bytes,
                      std::string_view signature) {
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  const auto* in = reinterpret_cast<const unsigned char*>(digest_bytes.data());
  bool ok = false;
  if (alg == SignatureAlgorithm::ed25519_sha256) {
    // RFC 8463 §3: PureEdDSA over the SHA-256 digest itself, as the signer does.
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    ok = ctx && EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) > 0 &&
         EVP_DigestVerify(ctx.get(), sig, signature.size(), in, digest_bytes.size()) == 1;
  } else {
    // §3.3.1/§3.3.2: RSASSA-PKCS1-v1_5 over the SHA-256 (or SHA-1) digest.
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr),
                                                                    EVP_PKEY_CTX_free);
    ok = ctx && EVP_PKEY_verify_init(ctx.get()) > 0 &&
         EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) > 0 &&
         EVP_PKEY_CTX_set_signature_md(ctx.get(), md_of(hash_of(alg))) > 0 &&
         EVP_PKEY_verify(ctx.get(), sig, signature.size(), in, digest_bytes.size()) == 1;
  }
  ERR_clear_error();  // a failed check leaves entries on this thread's queue
  return ok;
}

// §6.1.2: the key record, checked against the signature.
std::expected<Pkey, Verdict> usable_key(const dns::DnsAnswer& answer, const Signature& sig,
                                        DkimSignatureResult& out) {
  auto perm = [](std::string d) { return std::unexpected(Verdict{DkimResult::permerror, std::move(d)}); };
  switch (answer.status) {
    case dns::DnsStatus::ok: break;
    case dns::DnsStatus::nxdomain:
    case dns::DnsStatus::nodata: return perm("no key for signature (" + std::string(to_string(answer.status)) + ")");
    case dns::DnsStatus::temporary:
      return std::unexpected(Verdict{DkimResult::temperror, "key query failed: " + log_escape(answer.detail, 100)});
    case dns::DnsStatus::permanent_error: return perm("key query failed: " + log_escape(answer.detail, 100));
  }
  auto txts = answer.records_of<dns::TxtRecord>();
  if (txts.empty()) return perm("no key for signature (no TXT record)");
  // §3.6.2.2 reads one record; with several we cannot tell which is meant.
  if (txts.size() > 1) return perm("multiple key records");
  auto record = parse_key_record(txts.front().joined());
  if (!record) return perm(record.error());
  out.testing = record->testing;
  if (record->type != key_type_of(sig.algorithm))
    return perm("key type k=" + std::string(to_string(record->type)) + " does not match a=" +
                std::string(to_string(sig.algorithm)));
  if (!record->accepts(hash_of(sig.algorithm))) return perm("key h= does not allow the hash of a=");
  // t=s: "the "i=" domain MUST NOT be a subdomain of "d="" (§3.6.1).
  if (record->strict) {
    std::string_view id = sig.identity;
    if (!iequals(id.substr(id.rfind('@') + 1), sig.domain)) return perm("key t=s: i= domain must equal d=");
  }
  Pkey key = load_public_key(record->type, record->public_key);
  ERR_clear_error();
  if (!key) return perm("key record p= is not a usable " + std::string(to_string(record->type)) + " key");
  // RFC 8301 §3.2: RSA keys under 1024 bits MUST NOT be considered valid.
  if (record->type == KeyType::rsa && EVP_PKEY_get_bits(key.get()) < rsa_min_bits)
    return perm("RSA key of " + std::to_string(EVP_PKEY_get_bits(key.get())) + " bits is too short (RFC 8301)");
  return key;
}

Verdict check(const Pending& p, const dns::DnsAnswer& answer, DkimSignatureResult& out) {
  const Signature& sig = p.sig;
  auto key = usable_key(answer, sig, out);
  if (!key) return key.error();

  // §6.1.3: body hash first.
  const Job& job = *p.job;
  std::uint64_t canonical_size = 0;
  std::string bh =
      body_digest(hash_of(sig.algorithm), sig.body_canon, job.parsed.body, sig.body_length, canonical_size);
  if (sig.body_length) {
    // §3.5 l=: a count larger than the body cannot have been signed.
    if (*sig.body_length > canonical_size)
      return {DkimResult::fail, "l=" + std::to_string(*sig.body_length) + " is longer than the body (" +
                                    std::to_string(canonical_size) + " octets)"};
    out.unsigned_body_bytes = static_cast<std::size_t>(canonical_size - *sig.body_length);
  }
  if (bh != sig.body_hash) return {DkimResult::fail, "body hash did not verify"};

  // §3.7: the selected fields, then this field with b= emptied.
  auto stripped = without_signature_value(p.field_text);
  if (!stripped) return {DkimResult::permerror, stripped.error()};
  std::string input = header_hash_input(sig.header_canon, job.parsed.fields, sig.signed_headers, *stripped);
  if (!verify_signature(key->get(), sig.algorithm, digest(hash_of(sig.algorithm), input), sig.signature))
    return {DkimResult::fail, "signature did not verify"};

  // RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid.
  // It did verify, so the answer is RFC 8601's "policy", not "fail".
  if (sig.algorithm == SignatureAlgorithm::rsa_sha1)
    return {DkimResult::policy, "rsa-sha1 is not accepted (RFC 8301)"};
  return {DkimResult::pass, ""};
}

void lookup_key(std::shared_ptr<Pending> p, const std::string& name);

void on_key(const std::shared_ptr<Pending>& p, dns::DnsAnswer answer) {
  // A CNAME answered without its target's data: ask for the target.
  if ((answer.status == dns::DnsStatus::nodata || answer.status == dns::DnsStatus::nxdomain) &&
      !answer.cname_chain.empty() && p->hops < max_cname_hops) {
    ++p->hops;
    lookup_key(p, answer.cname_chain.back());
    return;
  }
  DkimSignatureResult& out = p->job->results[p->index];
  Verdict v = check(*p, answer, out);
  out.result = v.result;
  if (!v.detail.empty()) out.detail = out.detail.empty() ? v.detail : v.detail + "; " + out.detail;
  std::shared_ptr<Job> job = p->job;
  job->finish_one();
}

void lookup_key(std::shared_ptr<Pending> p, const std::string& name) {
  dns::Resolver& resolver = p->job->resolver;
  resolver.lookup(name, dns::RrType::txt, [p = std::move(p)](dns::DnsAnswer answer) { on_key(p, std::move(answer)); });
}

// What a field that did not parse still says, for the report.
void describe_unparsed(std::string_view value, DkimSignatureResult& out) {
  auto tags = parse_tag_list(value);
  if (!tags) return;
  if (const Tag* d = find_tag(*tags, "d")) out.domain = to_lower(log_escape(d->value, 80));
  if (const Tag* s = find_tag(*tags, "s")) out.selector = to_lower(log_escape(s->value, 80));
  if (const Tag* a = find_tag(*tags, "a")) out.algorithm = log_escape(a->value, 40);
  if (const Tag* b = find_tag(*tags, "b")) out.b_prefix = log_escape(remove_fws(b->value).substr(0, 8), 40);
}

}  // namespace

void verify_dkim(dns::Resolver& resolver, std::shared_ptr<const std::string> message, std::int64_t now_unix,
                 std::function<void(std::vector<DkimSignatureResult>)> done) {
  auto job = std::make_shared<Job>(resolver, std::move(message), now_unix, std::move(done));
  std::vector<const HeaderField*> fields;
  for (const auto& f : job->parsed.fields)
    if (iequals(f.name, "DKIM-Signature")) fields.push_back(&f);
  job->results.resize(fields.size());
  // One count per lookup plus this function's own, dropped at the end, so
  // `done` cannot run before every lookup has been started.
  std::vector<std::shared_ptr<Pending>> lookups;

  for (std::size_t i = 0; i < fields.size(); ++i) {
    DkimSignatureResult& out = job->results[i];
    std::string_view text = fields[i]->text;
    std::string_view value = text.substr(text.find(':') + 1);
    auto sig = parse_signature(value);
    if (!sig) {
      describe_unparsed(value, out);
      out.result = DkimResult::permerror;  // §6.1.1: PERMFAIL
      out.detail = sig.error();
      continue;
    }
    out.domain = sig->domain;
    out.selector = sig->selector;
    out.algorithm = std::string(to_string(sig->algorithm));
    out.identity = sig->identity;
    out.b_prefix = sig->signature_text.substr(0, 8);
    out.weak = sig->algorithm == SignatureAlgorithm::rsa_sha1;
    if (i >= max_verified_signatures) {
      out.result = DkimResult::neutral;
      out.detail = "not checked: more than " + std::to_string(max_verified_signatures) + " signatures";
      continue;
    }
    // §6.1.1: "Verifiers MAY ignore the DKIM-Signature header field and
    // return PERMFAIL (signature expired)" once x= has passed.
    if (sig->expiration && now_unix > *sig->expiration) {
      out.result = DkimResult::permerror;
      out.detail = "signature expired (x=" + std::to_string(*sig->expiration) + ")";
      continue;
    }
    auto p = std::make_shared<Pending>();
    p->job = job;
    p->index = i;
    p->field_text = text;
    p->sig = std::move(*sig);
    lookups.push_back(std::move(p));
  }
  job->remaining.store(lookups.size() + 1, std::memory_order_relaxed);
  for (auto& p : lookups) {
    std::string name = record_name(p->sig.domain, p->sig.selector);  // §3.6.2.1
    lookup_key(std::move(p), name);
  }
  job->finish_one();
}

auth::DkimResult overall_result(const std::vector<DkimSignatureResult>& results) {
  if (results.empty()) return DkimResult::none;
  for (const auto& r : results)
    if (r.result == DkimResult::pass) return DkimResult::pass;
  return results.front().result;
}

}  // namespace tern::dkim
