// DMARC for one incoming message (RFC 7489 §6.6): policy discovery over the
// asynchronous Resolver (§6.6.3), then alignment and disposition
// (dmarc_policy.hpp). Also the loader of the system's Public Suffix List.
//
// Threading: `done` runs exactly once, on whatever thread the resolver runs
// its callbacks on (UnboundResolver: its own thread or the thread that calls
// process()), or inside evaluate_dmarc when the resolver answers inline (a
// fake, a stopped resolver). The evaluation keeps its state on the heap; the
// Public Suffix List is only used inside evaluate_dmarc itself, so it need
// not outlive the call, but the resolver must outlive `done`.
#pragma once
#include <filesystem>
#include <functional>

#include "base/error.hpp"
#include "services/dmarc/dmarc_policy.hpp"
#include "services/dmarc/public_suffix.hpp"
#include "services/dns/resolver.hpp"

namespace tern::dmarc {

inline constexpr const char* kDefaultPublicSuffixList = "/usr/share/publicsuffix/public_suffix_list.dat";

// Reads and parses the list (Debian's `publicsuffix` package by default). A
// missing or unreadable file is a permanent Error; so is a file with no rule.
Result<PublicSuffixList> load_public_suffix_list(const std::filesystem::path& path = kDefaultPublicSuffixList,
                                                 PublicSuffixList::Sections sections = PublicSuffixList::Sections::all);

// Evaluates DMARC for `input`. The outcome's result:
//   none       no usable From domain, no DMARC record (at the From domain nor
//              at its Organizational Domain), or more than one record
//   temperror  the DNS lookup failed temporarily (§6.6.3: try again later)
//   permerror  the record found is invalid (§11.2)
//   pass/fail  the record applied (§6.6.2); disposition has pct= applied
// `random_below` decides pct= sampling (see RandomBelow).
void evaluate_dmarc(dns::Resolver& resolver, const PublicSuffixList& psl, DmarcInput input,
                    std::function<void(DmarcOutcome)> done, RandomBelow random_below = {});

}  // namespace tern::dmarc
