// Aggregate-report data (RFC 7489 §7.2): one JSON object per evaluated
// message, on one line, for ternd to append to a file in the data directory;
// a later job can group the lines into the XML reports. Formatting only.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "services/dmarc/dmarc_policy.hpp"

namespace tern::dmarc {

// {"time":"2026-11-23T08:41:41Z","source_ip":"192.0.2.1","header_from":"example.com",
//  "policy_domain":"example.com","result":"fail","p":"reject","sp":"reject","pct":100,
//  "adkim":"r","aspf":"r","policy":"reject","disposition":"reject","sampled":true,
//  "dkim":[{"domain":"example.com","result":"fail"}],"spf":{"domain":"example.com","result":"pass"},
//  "dkim_aligned":false,"spf_aligned":false}
// No trailing newline. Strings are JSON-escaped; invalid UTF-8 becomes U+FFFD.
// Record fields (p, sp, pct, adkim, aspf) are null when no record was found.
std::string dmarc_report_line(const DmarcInput& input, const DmarcOutcome& outcome, std::string_view source_ip,
                              std::chrono::system_clock::time_point when);

// A JSON string literal, quotes included.
std::string json_string(std::string_view s);

}  // namespace tern::dmarc
