#include "formats/address_list.hpp"

#include <cctype>

namespace tern {
namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// One mailbox's text ("Name <a@b>" or "a@b"), comments already removed:
// the address is the last <...>, else the text itself.
void take_mailbox(std::string_view entry, std::vector<std::string>& out) {
  std::string text = trim(entry);
  if (auto close = text.rfind('>'); close != std::string::npos) {
    auto open = text.rfind('<', close);
    if (open == std::string::npos) return;
    text = trim(std::string_view(text).substr(open + 1, close - open - 1));
    // RFC 5322 §4.4 obsolete route: <@relay:a@b>.
    if (!text.empty() && text.front() == '@') {
      auto colon = text.find(':');
      if (colon == std::string::npos) return;
      text = text.substr(colon + 1);
    }
  } else {
    // A bare addr-spec must be one word: "a@b" but not a phrase.
    for (char c : text)
      if (c == ' ' || c == '\t') return;
  }
  if (text.find('@') == std::string::npos) return;
  out.push_back(std::move(text));
}

}  // namespace

std::vector<std::string> extract_addresses(std::string_view value) {
  std::vector<std::string> out;
  std::string entry;  // the current mailbox, comments removed
  bool quoted = false, angle = false;
  int comment = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' || c == '\n') c = ' ';
    if (comment > 0) {
      // RFC 5322 §3.2.2: comments nest and take quoted-pairs.
      if (c == '\\') ++i;
      else if (c == '(') ++comment;
      else if (c == ')') --comment;
      continue;
    }
    if (quoted) {
      if (c == '\\' && i + 1 < value.size()) {
        // A quoted-pair may quote a line break (obsolete syntax): it stays
        // a space, never a raw CR or LF in what we return.
        char quoted_char = value[++i];
        entry += (quoted_char == '\r' || quoted_char == '\n') ? ' ' : quoted_char;
        continue;
      }
      if (c == '"') quoted = false;
      entry += c;
      continue;
    }
    switch (c) {
      case '"': quoted = true; entry += c; break;
      case '(': ++comment; entry += ' '; break;
      case '<': angle = true; entry += c; break;
      case '>': angle = false; entry += c; break;
      case ':':
        // A group's display name ends here (RFC 5322 §3.4); inside <...> it
        // is an obsolete route's colon.
        if (angle) entry += c;
        else entry.clear();
        break;
      case ',':
      case ';':
        if (angle) {
          entry += c;
          break;
        }
        take_mailbox(entry, out);
        entry.clear();
        break;
      default: entry += c;
    }
  }
  take_mailbox(entry, out);
  return out;
}

std::vector<HeaderLine> split_header(std::string_view message) {
  std::vector<HeaderLine> fields;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find('\n', pos);
    std::size_t next = eol == std::string_view::npos ? message.size() : eol + 1;
    std::string_view line = message.substr(pos, next - pos);
    std::string_view content = line;
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.remove_suffix(1);
    if (content.empty()) break;  // the empty line that ends the header
    if ((content.front() == ' ' || content.front() == '\t') && !fields.empty()) {
      // RFC 5322 §2.2.3: unfolding removes the CRLF before the WSP.
      fields.back().value += content;
      fields.back().end = next;
    } else if (auto colon = content.find(':'); colon != std::string_view::npos) {
      HeaderLine h;
      h.name = trim(content.substr(0, colon));
      std::string_view v = content.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      h.value = std::string(v);
      h.begin = pos;
      h.end = next;
      fields.push_back(std::move(h));
    }
    pos = next;
  }
  return fields;
}

}  // namespace tern
