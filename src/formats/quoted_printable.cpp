#include "formats/quoted_printable.hpp"

namespace tern {
namespace {

constexpr std::string_view hex_digits = "0123456789ABCDEF";
// RFC 2045 §6.7 rule 5: encoded lines are at most 76 octets, the "=" of a soft
// break included.
constexpr std::size_t max_line = 76;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_crlf_at(std::string_view s, std::size_t i) { return i + 1 < s.size() && s[i] == '\r' && s[i + 1] == '\n'; }

}  // namespace

std::string qp_encode(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 8 + 8);
  std::size_t col = 0;  // octets on the current encoded line
  std::size_t i = 0;
  while (i < data.size()) {
    // Rule 4: a line break in the text is a CRLF in the encoding.
    if (is_crlf_at(data, i)) {
      out += "\r\n";
      col = 0;
      i += 2;
      continue;
    }
    const auto c = static_cast<unsigned char>(data[i]);
    const bool last_on_line = i + 1 == data.size() || is_crlf_at(data, i + 1);
    // Rule 2: printable ASCII but "=" is literal. Rule 3: so are space and
    // tab, except at the end of a line, where a transport could strip them.
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last_on_line);
    if (col == 0 && (c == '.' || (c == 'F' && data.substr(i).starts_with("From ")))) literal = false;
    const std::size_t width = literal ? 1 : 3;
    // The last octet of a text line may use the whole line; any other must
    // leave room for the "=" of a soft break (rule 5).
    const std::size_t limit = last_on_line ? max_line : max_line - 1;
    if (col + width > limit) {
      out += "=\r\n";
      col = 0;
      continue;  // decide again: the rules at the start of a line differ
    }
    if (literal) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += hex_digits[c >> 4];
      out += hex_digits[c & 15];
    }
    col += width;
    ++i;
  }
  return out;
}

std::optional<std::string> qp_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    const bool hard_break = eol != std::string_view::npos;
    text = hard_break ? text.substr(eol + 2) : std::string_view{};
    // Rule 3: trailing whitespace was added in transport; it is not data.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    bool soft_break = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '\r' || c == '\n') return std::nullopt;
      if (c != '=') {
        out += c;
        continue;
      }
      if (i + 1 == line.size()) {
        soft_break = true;
        break;
      }
      if (i + 2 >= line.size()) return std::nullopt;
      const int hi = hex_value(line[i + 1]), lo = hex_value(line[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    if (hard_break && !soft_break) out += "\r\n";
  }
  return out;
}

}  // namespace tern
