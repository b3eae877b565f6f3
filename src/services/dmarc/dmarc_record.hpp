// DMARC policy records (RFC 7489 §6.3 tags, §6.4 ABNF) parsed from the text of
// one DNS TXT record. Pure: no DNS, no I/O; safe on hostile input (fuzzed by
// fuzz/fuzz_dmarc_record.cpp). Discovery and evaluation live in
// dmarc_evaluator.hpp.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dmarc {

enum class Policy { none, quarantine, reject };
enum class Alignment { relaxed, strict };

std::string_view to_string(Policy p);       // "none", "quarantine", "reject"
std::string_view to_string(Alignment a);    // "r", "s"
std::optional<Policy> parse_policy(std::string_view text);  // case-insensitive

struct DmarcRecord {
  Policy policy = Policy::none;               // p=
  std::optional<Policy> subdomain_policy;     // sp=; absent: p applies to subdomains too
  Alignment dkim_alignment = Alignment::relaxed;  // adkim=
  Alignment spf_alignment = Alignment::relaxed;   // aspf=
  unsigned percent = 100;                     // pct=, 0..100
  std::vector<std::string> rua;               // aggregate report URIs, as written (size suffix kept)
  std::vector<std::string> ruf;               // failure report URIs
  std::string failure_options = "0";          // fo=, as written ("0", "1:d", ...)
  std::string report_format = "afrf";         // rf=
  std::uint32_t report_interval = 86400;      // ri=, seconds
  // §6.6.3 step 6: p= (or sp=) was missing or invalid, but rua= named a
  // valid URI, so the record is used as if it said p=none.
  bool policy_defaulted = false;
  // Problems that did not invalidate the record (a bad optional tag that was
  // ignored, a repeated tag), for the log.
  std::vector<std::string> warnings;

  // The policy for a message whose From domain is the domain the record was
  // found at (subdomain == false) or a subdomain of it (sp=, §6.3).
  Policy policy_for(bool subdomain) const {
    return subdomain && subdomain_policy ? *subdomain_policy : policy;
  }
};

// §6.6.3 step 4: only records that start with "v=DMARC1" (the tag, optional
// WSP around "=", then the end, WSP or ';') are DMARC records at all; other
// TXT records at _dmarc.<domain> are discarded before counting.
bool is_dmarc_record(std::string_view text);

// Parses a record. The error is a reason for the log ("p= missing and no
// valid rua=", "v=DMARC1 is not the first tag"). A DMARC record that fails
// here is a permerror (RFC 7489 §11.2).
std::expected<DmarcRecord, std::string> parse_dmarc_record(std::string_view text);

}  // namespace tern::dmarc
