// The addresses in an address-list header value (RFC 5322 §3.4: To, Cc, Bcc,
// From, Reply-To), for `tern send -t`, which takes its recipients from the
// message the way sendmail -t does. Lenient like a mail client: it finds the
// addr-specs, skipping display names, comments, quoted strings and group
// syntax; it does not judge whether each address is deliverable.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// "Ann <a@x.test>, \"Doe, J\" <j@y.test> (work), team: b@z.test, c@z.test;"
// -> {"a@x.test", "j@y.test", "b@z.test", "c@z.test"}. Folding (CRLF + WSP)
// may be left in. An entry with no '@' (a bare word, an empty group) is
// skipped. Order kept, duplicates kept.
std::vector<std::string> extract_addresses(std::string_view header_value);

// One field of a message header, unfolded value (CRLF WSP -> WSP).
struct HeaderLine {
  std::string name;   // as written
  std::string value;  // after the colon, unfolded, leading WSP removed
  std::size_t begin = 0, end = 0;  // byte range of the whole field, CRLF included
};

// The fields of the header block of `message` (up to the first empty line;
// lines may end in CRLF or LF). Lines without a colon are skipped.
std::vector<HeaderLine> split_header(std::string_view message);

}  // namespace tern
