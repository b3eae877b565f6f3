// The RFC5322.From domain that DMARC evaluates (RFC 7489 §3.1, §6.6.1), taken
// from a message's header block. Pure and bounded: safe on hostile headers.
#pragma once
#include <expected>
#include <string>
#include <string_view>

namespace tern::dmarc {

// `header` is the header block of a message (or the whole message: parsing
// stops at the first empty line); lines may end in CRLF or LF. Success is
// the domain of the one address of the one From field, ASCII lower-cased,
// trailing dot removed (IDNs stay as written). RFC 7489 §6.6.1: a message
// with no From field, several From fields, several addresses in From (or
// none, as in an empty group) cannot be evaluated; the error says which, for
// the log. Comments, quoted display names, folding and group syntax are
// understood; a domain literal ([192.0.2.1]) is an error (no DNS domain).
std::expected<std::string, std::string> header_from_domain(std::string_view header);

// The same for the value of one From field (what follows "From:").
std::expected<std::string, std::string> from_value_domain(std::string_view value);

}  // namespace tern::dmarc
