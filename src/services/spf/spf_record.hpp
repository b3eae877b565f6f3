// SPF records (RFC 7208 §4.5, §4.6, §5, §6, §12): which TXT strings are SPF
// records, and parsing one into its terms. Pure: no DNS, no macro expansion
// (macro-strings are syntax-checked and kept as text). Any syntax error
// anywhere in the record is an error (§4.6: the whole record is checked
// before evaluation), which check_host() turns into "permerror".
#pragma once
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_network.hpp"

namespace tern::spf {

// RFC 7208 §4.6.2.
enum class Qualifier { pass, fail, softfail, neutral };
std::string_view to_string(Qualifier q);  // "+", "-", "~", "?"

enum class MechanismKind { all, include, a, mx, ptr, ip4, ip6, exists };
std::string_view to_string(MechanismKind k);  // "all", "include", ...

struct Mechanism {
  Qualifier qualifier = Qualifier::pass;
  MechanismKind kind = MechanismKind::all;
  // include, exists: required; a, mx, ptr: empty means <domain> (§5.3-5.5).
  // Unexpanded: a macro-string ending in a domain-end (§7.1).
  std::string domain_spec;
  IpAddress network;  // ip4, ip6: the network address (host bits may be set)
  int cidr4 = 32;     // ip4, a, mx (§5.6 ip4-cidr-length)
  int cidr6 = 128;    // ip6, a, mx (§5.6 ip6-cidr-length)
  std::string text;   // the term as written, for logs
};

struct UnknownModifier {  // §6: kept for logs, ignored by evaluation
  std::string name;
  std::string value;
};

struct Record {
  std::vector<Mechanism> mechanisms;     // in record order
  std::optional<std::string> redirect;   // §6.1 domain-spec
  std::optional<std::string> explanation;  // §6.2 exp= domain-spec
  std::vector<UnknownModifier> unknown_modifiers;
};

// Why a record is not valid SPF: for logs and the Authentication-Results
// comment; it names the offending term.
using RecordError = std::string;

// RFC 7208 §4.5: a record is an SPF record when it begins with the version
// section "v=spf1" (case-insensitive, §12 ABNF strings), followed by a space
// or the end of the record. "v=spf10" and "v=spf1mx" are not SPF records.
bool is_spf_record(std::string_view txt);

// Parses a whole record, version included (record = version terms *SP).
// Errors: non-ASCII or control characters (§3.1, §4.6.1: terms are separated
// by SP only), unknown mechanisms, bad arguments, invalid macro-strings,
// invalid domain-spec endings (§7.1), CIDR lengths out of range or with
// leading zeros, a second redirect= or exp= (§6), an empty modifier name.
std::expected<Record, RecordError> parse_record(std::string_view text);

// §7.1: domain-spec = macro-string domain-end; domain-end = ( "." toplabel
// [ "." ] ) / macro-expand. Checks the macro syntax too.
std::expected<void, RecordError> check_domain_spec(std::string_view spec);

}  // namespace tern::spf
