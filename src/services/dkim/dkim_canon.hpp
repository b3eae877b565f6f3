// DKIM canonicalization (RFC 6376 §3.4): the "simple" and "relaxed"
// algorithms for header fields and for the body, the header fields an h= list
// selects (§5.4.2), and the exact bytes the header hash covers (§3.7).
// Pure functions over bytes: no crypto, no I/O, no state beyond a
// BodyCanonicalizer's, so the fuzz build compiles this file on its own.
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dkim {

enum class Canon { simple, relaxed };
std::string_view to_string(Canon canon);  // "simple", "relaxed"

// One header field as it appears in the message. `text` is the whole field:
// name, colon and the value with its folding, without the CRLF that ends its
// last line. `name` is the part before the colon, without the WSP some
// writers put before the colon; a line with no colon has an empty name (it
// can never be selected by h=).
struct HeaderField {
  std::string_view name;
  std::string_view text;
};

// The message split at the first empty line (RFC 5322 §2.1). Header fields
// follow RFC 5322 §2.2: a field starts on a line that does not begin with SP
// or HTAB, and every following line that does continues it (§2.2.3). Only
// CRLF ends a line; a bare CR or LF is an ordinary byte here (RFC 6376 §5.3
// makes converting them the signer's job: see to_crlf). `body` is everything
// after the empty line, or empty when the message has none.
struct ParsedMessage {
  std::vector<HeaderField> fields;
  std::string_view body;
  std::size_t header_size = 0;  // bytes before the body, the empty line included
};
ParsedMessage parse_message(std::string_view message);

// RFC 6376 §5.3: "bare CR or LF characters ... MUST be converted to the
// SMTP-standard CRLF sequence before the message is signed". CRLF stays.
std::string to_crlf(std::string_view text);

// §3.4.1 and §3.4.2: one field as it enters the hash, CRLF included.
std::string canonicalize_header(Canon canon, std::string_view field_text);

// §3.4.3 and §3.4.4, fed in pieces of any size: the output is the same for
// every way of cutting the input. feed() and finish() append to `out`, so a
// caller can hash what they produce and clear it between calls.
// A body that does not end in CRLF gets one, and in relaxed its last line
// loses its trailing WSP like any other: that is the body a receiver
// canonicalizes once SMTP has ended the data with CRLF (our DotStuffer adds
// it). dkimpy keeps one SP there instead, so for such a body (never one that
// arrived by SMTP) the two disagree until the CRLF is added.
class BodyCanonicalizer {
 public:
  explicit BodyCanonicalizer(Canon canon) : canon_(canon) {}
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);

 private:
  void content(char c, std::string& out);

  Canon canon_;
  std::size_t pending_crlf_ = 0;  // line ends held back: trailing empty lines are dropped
  bool pending_cr_ = false;       // a CR at the end of the last piece, LF not yet seen
  bool pending_wsp_ = false;      // relaxed: a run of SP/HTAB not yet written as one SP
  bool any_content_ = false;
  bool finished_ = false;
};
std::string canonicalize_body(Canon canon, std::string_view body);

// §5.4.2: the fields h= selects, in h= order. Each name takes the instances
// of that field from the bottom of the header up; a name with no instance
// left selects nothing (that is what makes oversigning work).
std::vector<const HeaderField*> select_fields(std::span<const HeaderField> fields,
                                              std::span<const std::string> h_names);

// §3.7: the bytes of the header hash. The selected fields, canonicalized with
// their CRLF, then the DKIM-Signature field itself, canonicalized the same
// way but without its final CRLF. `signature_field` is that field exactly as
// it will be sent, except that the b= value is empty ("...; b=").
std::string header_hash_input(Canon canon, std::span<const HeaderField> fields,
                              std::span<const std::string> h_names, std::string_view signature_field);

}  // namespace tern::dkim
