// DKIM verification (RFC 6376 §6, RFC 8301, RFC 8463): every DKIM-Signature
// of a message checked on its own, with the key fetched over the async
// dns::Resolver, and one result per signature in RFC 8601 words. It makes no
// policy decision (DMARC does) and never changes the message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "services/auth_results.hpp"
#include "services/dns/resolver.hpp"

namespace tern::dkim {

// Signatures past this many are reported (result neutral, "not checked")
// without a DNS query or any hashing: a message cannot make us do unbounded work.
inline constexpr std::size_t max_verified_signatures = 8;

struct DkimSignatureResult {
  auth::DkimResult result = auth::DkimResult::neutral;
  std::string domain;     // d=, lower case (empty if the field did not parse)
  std::string selector;   // s=, lower case
  std::string algorithm;  // a=, e.g. "rsa-sha256"
  std::string identity;   // i=, or "@" + d=
  std::string b_prefix;   // the first 8 characters of b= (RFC 8601 §2.7.1 header.b)
  // a=rsa-sha1: RFC 8301 §3.1 says verifiers MUST NOT consider it valid, so a
  // signature that verifies gets `policy` (RFC 8601 §2.7.1: valid, but not
  // acceptable to the verifier's policy), one that does not gets `fail`.
  bool weak = false;
  bool testing = false;  // the key has t=y (RFC 6376 §3.6.1): the domain is testing DKIM
  // l= (RFC 6376 §3.5): canonicalized body octets after the signed prefix.
  // Non-zero means someone could have appended them (§8.2): the caller
  // should say so, e.g. in Authentication-Results.
  std::size_t unsigned_body_bytes = 0;
  std::string detail;  // why, for a header comment or the log; empty for a plain pass
};

// Verifies every DKIM-Signature field of `message` (wire form: CRLF line
// ends, header, empty line, body) and calls `done` exactly once with one
// result per field, top to bottom; an empty vector when there is none (the
// caller reports dkim=none). `now_unix` is the time x= is compared with.
//
// Threading: `done` runs on whatever thread completes the last key lookup:
// the resolver's thread for UnboundResolver, or inside this call when every
// answer is immediate (no signatures, a fake resolver, a stopped resolver).
// Hashing and signature checks run in the lookup callbacks too (they touch
// only the shared, immutable message). `resolver` must outlive the call of
// `done`; everything else is kept on the heap until then.
void verify_dkim(dns::Resolver& resolver, std::shared_ptr<const std::string> message, std::int64_t now_unix,
                 std::function<void(std::vector<DkimSignatureResult>)> done);

// The one word for the whole message, as `tern check dkim` prints it: pass if
// any signature passed, otherwise the first signature's result; none without any.
auth::DkimResult overall_result(const std::vector<DkimSignatureResult>& results);

}  // namespace tern::dkim
