// DMARC evaluation once the policy record is known (RFC 7489 §3.1 alignment,
// §6.6.2 result, §6.6.4 disposition with pct=): pure functions, so the
// decision is testable without DNS. dmarc_evaluator.hpp finds the record.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/auth_results.hpp"
#include "services/dmarc/dmarc_record.hpp"
#include "services/dmarc/public_suffix.hpp"

namespace tern::dmarc {

// What SPF and DKIM verification concluded for one message.
struct DmarcInput {
  std::string from_domain;  // RFC5322.From domain (header_from_domain)
  auth::SpfResult spf = auth::SpfResult::none;
  // The domain SPF authenticated: the MAIL FROM domain (RFC 7489 §3.1.2; the
  // HELO domain when MAIL FROM was null, RFC 7208 §2.4).
  std::string spf_domain;
  struct Dkim {
    auth::DkimResult result = auth::DkimResult::none;
    std::string domain;  // the signature's d=
  };
  std::vector<Dkim> dkim;  // one per signature
};

struct DmarcOutcome {
  auth::DmarcResult result = auth::DmarcResult::none;
  std::string policy_domain;       // where the record was found ("" without one)
  std::string policy = "none";     // none|quarantine|reject: p= or sp= that applies
  std::string disposition = "none";  // none|quarantine|reject: what to do, pct= applied
  bool spf_aligned = false;        // SPF passed for a domain aligned with From
  bool dkim_aligned = false;       // some passing signature's d= is aligned with From
  bool sampled = true;             // false when pct= left this message out
  std::optional<DmarcRecord> record;
  std::string detail;              // for the log
};

// A random number in [0, n). Tests inject a fixed one; empty means a
// std::random_device per call (no shared generator state).
using RandomBelow = std::function<std::size_t(std::size_t)>;

// Whether the identifiers are aligned with From in each mode, worked out
// while the Public Suffix List is at hand (§3.1.1, §3.1.2: relaxed = same
// Organizational Domain, strict = the same name; only passing results count).
struct AlignmentFacts {
  bool spf_strict = false, spf_relaxed = false;
  bool dkim_strict = false, dkim_relaxed = false;
};
AlignmentFacts alignment_facts(const PublicSuffixList& psl, const DmarcInput& input);

// Two names are aligned in `mode`: equal (strict) or with equal
// Organizational Domains (relaxed). Case and a trailing dot do not matter.
bool domains_aligned(const PublicSuffixList& psl, std::string_view a, std::string_view b, Alignment mode);

// The outcome for a message under `record`, found at `policy_domain`;
// `subdomain` is true when that is the Organizational Domain and From is
// below it (then sp= applies, §6.3).
DmarcOutcome apply_dmarc_record(const AlignmentFacts& facts, DmarcRecord record, std::string policy_domain,
                                bool subdomain, const RandomBelow& random_below);

}  // namespace tern::dmarc
