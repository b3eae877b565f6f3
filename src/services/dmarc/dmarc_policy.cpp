// Alignment, result and disposition for a message under a known DMARC record
// (RFC 7489 §3.1, §6.6.2, §6.6.4). No DNS here.
#include "services/dmarc/dmarc_policy.hpp"

#include <random>

#include "base/strings.hpp"

namespace tern::dmarc {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  auto na = normalize_domain(a), nb = normalize_domain(b);
  return na && nb && !na->empty() && *na == *nb;
}

bool same_org(const PublicSuffixList& psl, std::string_view a, std::string_view b) {
  auto oa = psl.organizational_domain(a), ob = psl.organizational_domain(b);
  return !oa.empty() && oa == ob;
}

std::size_t default_random_below(std::size_t n) {
  std::random_device rd;
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(rd);
}

}  // namespace

bool domains_aligned(const PublicSuffixList& psl, std::string_view a, std::string_view b, Alignment mode) {
  return mode == Alignment::strict ? same_name(a, b) : same_org(psl, a, b);
}

AlignmentFacts alignment_facts(const PublicSuffixList& psl, const DmarcInput& in) {
  AlignmentFacts f;
  // §3.1.2: only an SPF pass authenticates the MAIL FROM domain.
  if (in.spf == auth::SpfResult::pass && !in.spf_domain.empty()) {
    f.spf_strict = same_name(in.spf_domain, in.from_domain);
    f.spf_relaxed = f.spf_strict || same_org(psl, in.spf_domain, in.from_domain);
  }
  // §3.1.1: the d= of any signature that verified.
  for (const auto& d : in.dkim) {
    if (d.result != auth::DkimResult::pass || d.domain.empty()) continue;
    bool strict = same_name(d.domain, in.from_domain);
    f.dkim_strict = f.dkim_strict || strict;
    f.dkim_relaxed = f.dkim_relaxed || strict || same_org(psl, d.domain, in.from_domain);
  }
  return f;
}

DmarcOutcome apply_dmarc_record(const AlignmentFacts& f, DmarcRecord record, std::string policy_domain,
                                bool subdomain, const RandomBelow& random_below) {
  DmarcOutcome out;
  out.policy_domain = std::move(policy_domain);
  Policy policy = record.policy_for(subdomain);
  out.policy = std::string(to_string(policy));
  out.spf_aligned = record.spf_alignment == Alignment::strict ? f.spf_strict : f.spf_relaxed;
  out.dkim_aligned = record.dkim_alignment == Alignment::strict ? f.dkim_strict : f.dkim_relaxed;
  // §6.6.2: DMARC passes when either mechanism passed for an aligned identifier.
  if (out.spf_aligned || out.dkim_aligned) {
    out.result = auth::DmarcResult::pass;
    out.disposition = "none";
    out.detail = std::string("aligned ") + (out.dkim_aligned ? "dkim" : "spf") + " pass";
  } else {
    out.result = auth::DmarcResult::fail;
    Policy disposition = policy;
    // §6.3 pct= and §6.6.4: a message outside the sample gets the next
    // milder policy (reject -> quarantine, quarantine -> none).
    if (record.percent < 100 && policy != Policy::none) {
      std::size_t roll = record.percent == 0 ? 100 : (random_below ? random_below(100) : default_random_below(100));
      out.sampled = roll < record.percent;
      if (!out.sampled) disposition = policy == Policy::reject ? Policy::quarantine : Policy::none;
    }
    out.disposition = std::string(to_string(disposition));
    out.detail = "no aligned spf or dkim pass";
    if (!out.sampled) out.detail += "; outside the pct=" + std::to_string(record.percent) + " sample";
  }
  if (record.policy_defaulted) out.detail += "; p= defaulted to none (rua= present)";
  out.record = std::move(record);
  return out;
}

}  // namespace tern::dmarc
