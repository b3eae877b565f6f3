#include "protocol/smtp/dot_stuffer.hpp"

namespace tern::smtp {

void DotStuffer::feed(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  bytes_in_ += chunk.size();
  out.reserve(out.size() + chunk.size() + 8);
  std::size_t i = 0;
  while (i < chunk.size()) {
    // RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client
    // checks the first character of the line. If it is a period, one
    // additional period is inserted at the beginning of the line."
    if (at_line_start_ && chunk[i] == '.') out += '.';
    // Copy up to and including the next CR or LF: the octet after it starts a line.
    std::size_t end = chunk.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      out.append(chunk.substr(i));
      at_line_start_ = false;
      break;
    }
    out.append(chunk.substr(i, end + 1 - i));
    at_line_start_ = true;
    i = end + 1;
  }
  if (chunk.size() >= 2) {
    before_last_ = chunk[chunk.size() - 2];
  } else {
    before_last_ = last_;
  }
  last_ = chunk.back();
}

void DotStuffer::finish(std::string& out) {
  if (!(before_last_ == '\r' && last_ == '\n')) out += "\r\n";
  out += ".\r\n";
  at_line_start_ = true;
  before_last_ = '\r';
  last_ = '\n';
}

}  // namespace tern::smtp
