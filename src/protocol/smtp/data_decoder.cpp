#include "protocol/smtp/data_decoder.hpp"

#include <algorithm>

#include "base/strings.hpp"

namespace {
constexpr std::size_t prefix_len = 11;  // "Message-ID:"
}

namespace tern::smtp {

void DataDecoder::start_line() {
  at_line_start_ = true;
  line_len_ = 0;
  line_prefix_.clear();
}

// Every octet of a line (CRLF included, dot-stuffing included) counts toward
// the RFC 5321 §4.5.3.1.6 limit; the header-name prefix feeds loop detection.
void DataDecoder::account_line_byte(char c) {
  if (++line_len_ + 2 > max_line_) line_too_long_ = true;  // +2: the CRLF
  if (in_headers_ && line_prefix_.size() < prefix_len) {
    line_prefix_ += c;
    // Header names that matter: loop detection, and what an MSA adds when
    // missing (RFC 6409 §8).
    if (line_prefix_.size() == 5 && iequals(line_prefix_, "Date:")) has_date_ = true;
    if (line_prefix_.size() == 9 && iequals(line_prefix_, "Received:")) ++received_;
    if (line_prefix_.size() == 11 && iequals(line_prefix_, "Message-ID:")) has_message_id_ = true;
  }
}

std::size_t DataDecoder::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  header_end_ = std::string::npos;
  std::size_t next_cr = 0, next_lf = 0;  // unknown until first needed (0 < any j)
  while (i < in.size() && state_ != State::done) {
    char c = in[i];
    switch (state_) {
      case State::normal:
        if (at_line_start_ && c == '.') {
          state_ = State::dot;
          account_line_byte(c);
          ++i;
          break;
        }
        if (c == '\r') {
          state_ = State::cr;
          ++i;
          break;
        }
        if (c == '\n') bare_newline_ = true;  // data, not a line end
        // Fast path: copy the run of ordinary octets up to the next CR/LF.
        {
          std::size_t j = i + 1;
          if (c != '\n') {
            // Bulk scan: the next CR or LF ends the run of ordinary octets.
            // Each position is remembered for the rest of this chunk, so
            // content full of bare LFs stays linear.
            if (next_cr < j) next_cr = std::min(in.find('\r', j), in.size());
            if (next_lf < j) next_lf = std::min(in.find('\n', j), in.size());
            j = std::min(next_cr, next_lf);
          }
          // Only the first octets of a header line matter for loop detection.
          std::size_t k = i;
          for (; k < j && in_headers_ && line_prefix_.size() < prefix_len; ++k) account_line_byte(in[k]);
          line_len_ += j - k;
          if (line_len_ + 2 > max_line_) line_too_long_ = true;
          out.append(in.data() + i, j - i);
          at_line_start_ = false;
          i = j;
        }
        break;
      case State::cr:
        if (c == '\n') {
          // A real line end. An empty line ends the header section (RFC 5322 §2.1).
          if (line_len_ == 0 && in_headers_) {
            in_headers_ = false;
            header_end_ = out.size();  // the blank line starts here
          }
          out += "\r\n";
          ++i;
          start_line();
          state_ = State::normal;
        } else {
          bare_newline_ = true;  // bare CR: data, reprocess c as an ordinary octet
          out += '\r';
          account_line_byte('\r');
          at_line_start_ = false;
          state_ = State::normal;
        }
        break;
      case State::dot:
        if (c == '\r') {
          state_ = State::dot_cr;
          ++i;
        } else {
          // RFC 5321 §4.5.2: a leading dot on a line with more text is removed,
          // and §4.5.3.1.6: it does not count toward the line length limit.
          --line_len_;
          if (!line_prefix_.empty()) line_prefix_.pop_back();
          at_line_start_ = false;
          state_ = State::normal;
        }
        break;
      case State::dot_cr:
        if (c == '\n') {
          ++i;
          state_ = State::done;  // <CRLF>.<CRLF>
        } else {
          // ".<CR>x": the dot is stuffing, the CR is bare.
          bare_newline_ = true;
          out += '\r';
          account_line_byte('\r');
          at_line_start_ = false;
          state_ = State::normal;
        }
        break;
      case State::done:
        break;
    }
  }
  return i;
}

}  // namespace tern::smtp
