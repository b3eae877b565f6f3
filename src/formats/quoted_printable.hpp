// Quoted-printable (RFC 2045 §6.7) for MIME body parts: encoding for the
// message builder, strict decoding for tests and readers. Pure functions over
// bytes; no charset handling and no line-end normalisation (callers do that).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace tern {

// Encodes any bytes. A CRLF in the input is a hard line break and stays CRLF;
// every other byte is literal or =XX, so decoding gives back exactly the input
// (a lone CR or LF becomes =0D / =0A). Encoded lines are at most 76 octets,
// split by soft breaks ("=" CRLF); whitespace is never last on a line. For
// transports rather than the RFC: a "." or the "F" of "From " at the start of
// a line is escaped too, so no line is a lone dot and mbox does not mangle it.
std::string qp_encode(std::string_view data);

// Decodes RFC 2045 §6.7 text with CRLF line ends: "=" CRLF is a soft break,
// "=XX" (hex, either case) an octet, whitespace at the end of a line is
// removed (rule 3: a transport may have added it). Refuses (nullopt) a "="
// followed by anything else, and a lone CR or LF.
std::optional<std::string> qp_decode(std::string_view text);

}  // namespace tern
