// Builds a new message the way a mail client does (RFC 5322 headers, MIME
// RFC 2045-2047 and 2231): text and/or HTML, attachments, encoded words,
// folding, transfer encodings. Used by `tern send` and the webmail. Pure: no
// I/O, no clock or randomness that a test cannot replace. It does not send,
// sign or decide policy (who may use which From).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "formats/encoded_word.hpp"

namespace tern {

struct Attachment {
  std::string filename;      // UTF-8, as the recipient should see it
  std::string content_type;  // "type/subtype"; empty: guessed from the file name
  std::string data;          // any bytes
};

struct MessageDraft {
  NamedAddress from;
  std::vector<NamedAddress> to, cc;
  std::vector<NamedAddress> bcc;  // envelope only, never in the headers
  std::vector<NamedAddress> reply_to;
  std::string subject;  // UTF-8; empty: no Subject field
  std::string in_reply_to;              // one msg-id, "<a@b>" or "a@b"; empty: none
  std::vector<std::string> references;  // msg-ids, oldest first
  std::optional<std::string> text;      // UTF-8, any line ends
  std::optional<std::string> html;      // UTF-8, any line ends
  std::vector<Attachment> attachments;
  // Unstructured fields the caller adds (X-Mailer, ...). Names the builder
  // writes itself (From, Date, Content-*, Bcc, ...) are refused.
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

struct BuildOptions {
  std::string hostname;  // right side of the Message-ID; empty: the From domain
  std::chrono::system_clock::time_point date = std::chrono::system_clock::now();
  bool allow_8bit = false;  // the server announced 8BITMIME (RFC 6152)
  // Source of the Message-ID and the boundaries; empty: std::random_device.
  std::function<std::uint64_t()> random;
};

struct BuiltMessage {
  std::string data;                          // the whole message, CRLF line ends
  std::string envelope_from;                 // From's address (MAIL FROM)
  std::vector<std::string> envelope_to;      // To, Cc and Bcc, each once (RCPT TO)
  std::string message_id;                    // with its angle brackets
  bool body_8bit = false;                    // needs MAIL FROM ... BODY=8BITMIME
  bool needs_smtputf8 = false;               // an address is not ASCII (RFC 6531)
};

// Refuses (a permanent Error whose client_text says what and where): no From,
// no recipient, an address that is not local@domain, CR or LF or another
// control character in any header input (header injection), text that is not
// UTF-8, a bad content type, a reserved or malformed extra header.
Result<BuiltMessage> build_message(const MessageDraft& draft, const BuildOptions& options = {});

// The content type for a file name's extension (a small table of the common
// ones), application/octet-stream when unknown.
std::string_view guess_content_type(std::string_view filename);

enum class TransferEncoding { seven_bit, eight_bit, quoted_printable, base64 };
std::string_view to_string(TransferEncoding e);  // "7bit", "8bit", ...

// The encoding of a text part with CRLF line ends (RFC 2045 §2.7-2.8, §6):
// 7bit for ASCII in lines of at most 78 octets; 8bit when allowed and the
// lines fit in 998; else quoted-printable. Control characters (NUL, ...) and
// whitespace at the end of a line, which transports may strip, always take
// quoted-printable.
TransferEncoding choose_text_encoding(std::string_view canonical_text, bool allow_8bit);

// Line ends as MIME text wants them (RFC 2046 §4.1.1): CRLF, LF and a lone CR
// all become CRLF.
std::string canonical_line_ends(std::string_view text);

// base64 in lines of 76 characters (RFC 2045 §6.8), each ending in CRLF.
std::string base64_lines(std::string_view data);

// A MIME parameter, name="value" when the value is short printable ASCII,
// else RFC 2231 percent-encoded UTF-8: name*=utf-8''..., split into
// name*0*=, name*1*=, ... continuations when long. Each string returned is one
// token to fold between.
std::vector<std::string> mime_parameter(std::string_view name, std::string_view value);

}  // namespace tern
