// Encodes a message for the SMTP DATA stream (RFC 5321 §4.5.2): a line that
// starts with "." gets a second one, and the message ends with <CRLF>.<CRLF>.
// It works on any chunking of the input and changes nothing else: the input
// is expected to have CRLF line ends already (the queue stores it that way).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::smtp {

class DotStuffer {
 public:
  // Appends the stuffed form of chunk to out.
  //
  // A dot after a bare LF or bare CR is doubled too, not only after CRLF:
  // lenient receivers take those as line ends, and an unstuffed "\n.\r\n"
  // would end the message early there and let the rest be read as commands
  // (SMTP smuggling). A strict receiver then keeps one extra dot in a message
  // that was malformed anyway.
  void feed(std::string_view chunk, std::string& out);

  // Appends the end of data: CRLF if the message did not end with one (so the
  // "." is alone on its line), then ".\r\n". An empty message gives just
  // ".\r\n": the CRLF of the DATA command line starts it (RFC 5321 §4.1.1.4).
  void finish(std::string& out);

  std::uint64_t bytes_in() const { return bytes_in_; }

 private:
  bool at_line_start_ = true;  // the next octet starts a line
  char last_ = '\n';           // last two octets seen, to know if we end in CRLF
  char before_last_ = '\r';
  std::uint64_t bytes_in_ = 0;
};

}  // namespace tern::smtp
