// Decodes the DATA stream (RFC 5321 §4.1.1.4, §4.5.2) incrementally: finds the
// one true end <CRLF>.<CRLF>, removes dot-stuffing, and records what was wrong
// with the content without ever letting a malformed sequence end the message.
//
// SMTP smuggling: bare LF and bare CR are data, never line ends. So <LF>.<LF>,
// <LF>.<CR><LF>, <CR>.<CR> and <CR><LF>.<LF> do not end the message; they set
// saw_bare_newline and the session rejects the message at the real end.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace tern::smtp {

class DataDecoder {
 public:
  explicit DataDecoder(std::size_t max_line_length = 1000, unsigned max_received = 50)
      : max_line_(max_line_length), max_received_(max_received) {}

  // Consumes bytes from input and appends the unstuffed message to out.
  // Returns how many input bytes were consumed: all of them, or fewer when the
  // end of data was found (the rest belongs to the next command).
  std::size_t feed(std::string_view input, std::string& out);

  bool done() const { return state_ == State::done; }
  bool saw_bare_newline() const { return bare_newline_; }
  bool line_too_long() const { return line_too_long_; }
  unsigned received_headers() const { return received_; }
  bool too_many_hops() const { return received_ > max_received_; }
  bool has_message_id() const { return has_message_id_; }
  bool has_date() const { return has_date_; }
  // Where, in the output of the last feed(), the blank line ending the header
  // section starts; npos when it was not in that feed.
  std::size_t header_end_in_last_feed() const { return header_end_; }

 private:
  enum class State { normal, cr, dot, dot_cr, done };
  void start_line();
  void account_line_byte(char c);

  std::size_t max_line_;
  unsigned max_received_;
  State state_ = State::normal;
  bool at_line_start_ = true;
  std::size_t line_len_ = 0;
  bool bare_newline_ = false;
  bool line_too_long_ = false;
  // Header section tracking, for loop detection (RFC 5321 §6.3).
  bool in_headers_ = true;
  std::string line_prefix_;  // first octets of the current header line
  unsigned received_ = 0;
  bool has_message_id_ = false;
  bool has_date_ = false;
  std::size_t header_end_ = std::string::npos;
};

}  // namespace tern::smtp
