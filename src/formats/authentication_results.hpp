// The Authentication-Results header field (RFC 8601): building ours from the
// results of SPF, DKIM, DMARC and iprev, and finding the fields that claim to
// come from us in a received message, which must go (RFC 8601 §5). Text in,
// text out; no knowledge of how the results were reached.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// ptype "." property "=" value, e.g. smtp.mailfrom=user@example.com (§2.3).
struct AuthProperty {
  std::string ptype;     // smtp, header, body, policy
  std::string property;  // mailfrom, helo, d, s, b, from, ...
  std::string value;
};

// One resinfo (§2.2): method=result, an optional comment, reason, properties.
struct AuthMethodResult {
  std::string method;   // spf, dkim, dmarc, iprev, auth
  std::string result;   // a result word (auth::to_string of the shared enums)
  std::string comment;  // written in parentheses after the result; empty: none
  std::string reason;   // reason="..." (§2.2); empty: none
  std::vector<AuthProperty> properties;
};

struct AuthenticationResults {
  std::string authserv_id;  // our host name (§2.5)
  std::vector<AuthMethodResult> results;  // empty: "; none" (§2.2 no-result)
};

// Builders for the usual methods (RFC 8601 §2.7; RFC 6008 for header.b).
AuthMethodResult spf_method(std::string_view result, std::string_view mail_from, std::string_view helo = {});
// `b` is the signature's b= value; its first 8 characters are kept (RFC 6008 §4).
AuthMethodResult dkim_method(std::string_view result, std::string_view d, std::string_view s = {},
                             std::string_view b = {});
// dmarc=pass (p=reject dis=none) header.from=example.com; policy and
// disposition empty: no comment.
AuthMethodResult dmarc_method(std::string_view result, std::string_view policy, std::string_view disposition,
                              std::string_view header_from);
// iprev=pass policy.iprev=192.0.2.1 (mx.example.com) (RFC 8601 §3).
AuthMethodResult iprev_method(std::string_view result, std::string_view client_ip, std::string_view ptr_name = {});

// The whole field, "Authentication-Results: id;\r\n\tspf=pass ...\r\n": each
// resinfo on its own line, every line folded at whitespace to at most 78
// columns where the units allow. Values that are not RFC 2045 tokens (or
// local@domain, §2.2 pvalue) are written as quoted-strings; CR, LF and other
// control characters in any input are dropped, so no input can end the field.
std::string format_authentication_results(const AuthenticationResults& ar);

// A value as §2.2 writes it: the token, local@domain or a quoted-string.
std::string auth_value(std::string_view v);

// The authserv-id of an Authentication-Results field value (what follows
// the colon; folding allowed): leading comments skipped, quoted-string
// unquoted. Nothing when the value does not start with one.
std::optional<std::string> authserv_id_of(std::string_view field_value);

// A byte range [begin, end) of a header block: one whole field, its final
// line ending included.
struct HeaderRange {
  std::size_t begin = 0, end = 0;
  bool operator==(const HeaderRange&) const = default;
};

// The Authentication-Results fields of `header` (a message's header block,
// or the whole message: the search stops at the first empty line; CRLF or
// LF line endings) whose authserv-id equals `authserv_id` ASCII
// case-insensitively (RFC 8601 §5: a sender may forge them; §1.6 the
// comparison ignores case). In order.
std::vector<HeaderRange> find_authentication_results(std::string_view header, std::string_view authserv_id);

// `header` without those fields; everything else byte for byte.
std::string remove_authentication_results(std::string_view header, std::string_view authserv_id);

}  // namespace tern
