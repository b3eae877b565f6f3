// SPF macros (RFC 7208 §7): syntax checking and expansion of macro-strings in
// domain-specs and explanation strings. Pure: no DNS, no clock, no state.
// The one macro that needs DNS, %{p}, is looked up by the caller (see
// uses_p_macro) and handed in as MacroValues::validated_name.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip_network.hpp"

namespace tern::spf {

// Where a macro-string appears. RFC 7208 §7.3: c, r and t are allowed only in
// explanation text; an explanation string may also contain spaces (§6.2,
// explain-string = *( macro-string / SP )).
enum class MacroKind { domain_spec, explanation, unknown_modifier };

// The values the macro letters stand for (RFC 7208 §7.3).
struct MacroValues {
  std::string sender;         // s: <sender>, "local@domain" (local-part "postmaster" if it had none)
  std::string local_part;     // l
  std::string sender_domain;  // o
  std::string domain;         // d: <domain> of the check_host() in progress
  IpAddress ip;               // i, c, v: the client (an IPv4-mapped address must already be IPv4)
  std::string helo;           // h
  // p: the validated domain name of ip (§5.5 procedure); nullopt or empty is "unknown".
  std::optional<std::string> validated_name;
  std::string receiver;       // r: the host doing the check; empty is "unknown"
  std::int64_t timestamp = 0; // t: seconds since the epoch
};

// A problem in a macro-string: for a log line and the SPF detail, never
// shown to a peer as-is.
using MacroError = std::string;

// Checks the syntax only (RFC 7208 §7.1 ABNF): "%" must start %{...}, %%, %_
// or %-; the letter must be one of slodiphcrtv (crt only in explanations);
// a digit transformer must not be zero. Characters must be visible ASCII
// (and SP in an explanation).
std::expected<void, MacroError> check_macro_string(std::string_view text, MacroKind kind);

// True when the macro-string uses the p letter, so the caller must find the
// validated domain name before expanding it.
bool uses_p_macro(std::string_view text);

// Expands a macro-string (RFC 7208 §7.3, §7.4). Upper-case letters are
// URL-escaped after transformation. Errors are the syntax errors of
// check_macro_string.
std::expected<std::string, MacroError> expand_macros(std::string_view text, const MacroValues& values,
                                                     MacroKind kind);

// The i macro's form of an address: dotted quad for IPv4, 32 dot-separated
// upper-case nibbles for IPv6 (RFC 7208 §7.3, as in the §7.4 example).
std::string dotted_ip(const IpAddress& ip);
// The reverse-mapping name for a PTR lookup: "4.3.2.1.in-addr.arpa",
// "1.0. ... .8.b.d.0.1.0.0.2.ip6.arpa" (RFC 1035 §3.5, RFC 3596 §2.5).
std::string reverse_name(const IpAddress& ip);

// An expanded domain-spec as a name to query: a trailing dot is dropped
// (§7.3 example "%{d}." ) and, RFC 7208 §7.3, a name longer than 253
// characters loses labels on the left until it fits.
std::string fit_domain_name(std::string_view expanded);

}  // namespace tern::spf
