// Parses the replies an SMTP server sends (RFC 5321 §4.2) incrementally, for
// the client side: bytes in, whole replies out, in whatever chunks they come.
// It holds at most one line and one reply, enforces its own limits, and turns
// every malformation into a ReplyError value; it never trusts the peer.
#pragma once
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/smtp/reply.hpp"

namespace tern::smtp {

struct ReplyLimits {
  // RFC 5321 §4.5.3.1.5 allows 512 octets per reply line, CRLF included; real
  // servers exceed it (long EHLO AUTH lists, verbose rejections), so we are
  // tolerant by a factor of four but still bounded.
  std::size_t max_line = 2048;
  // RFC 5321 sets no line count; 100 lines is far beyond any EHLO reply.
  std::size_t max_lines = 100;
};

// What was wrong, for the log. Never contains the peer's raw bytes.
struct ReplyError {
  std::string reason;
};

// One step of the parser: a whole reply, nothing yet (more bytes needed), or
// the reason the stream is malformed.
using ReplyStep = std::expected<std::optional<Reply>, ReplyError>;

// The parsed Reply uses the same shape as the server's: code, the RFC 3463
// enhanced code found at the start of the first line ("" if none), and the
// text of each line with the code, separator and enhanced code removed, so
// render(out, true) gives back the canonical wire form. The text is the
// peer's: escape it before logging.
class ReplyParser {
 public:
  explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

  // Consumes octets from the front of input until one reply is complete or
  // the input is used up (then returns an empty optional). After an error the
  // parser stays failed: a reply stream cannot be resynchronised, so the
  // caller drops the connection.
  ReplyStep parse(std::string_view& input);

  bool failed() const { return failed_; }
  // Part of a line or of a multi-line reply is buffered.
  bool mid_reply() const { return !line_.empty() || !lines_.empty(); }

 private:
  ReplyStep fail(std::string reason);
  ReplyStep take_line(std::string_view line);

  ReplyLimits limits_;
  bool failed_ = false;
  std::string line_;  // the unterminated line so far
  int code_ = 0;
  std::string enhanced_;
  std::vector<std::string> lines_;
};

// The length of an RFC 3463 enhanced status code ("class.subject.detail",
// class being the reply's first digit, subject and detail 1 to 3 digits) at
// the start of text, followed by a space or the end; 0 when there is none.
std::size_t enhanced_code_length(std::string_view text, int reply_code);

// "550 5.1.1 first line" — the reply on one line, for logs and DSN
// Diagnostic-Code fields; further lines are joined with a space.
std::string reply_summary(const Reply& reply);

}  // namespace tern::smtp
