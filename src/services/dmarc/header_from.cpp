// RFC5322.From domain extraction for DMARC: a small RFC 5322 §3.4 reader that
// knows comments, quoted strings, angle addresses, domain literals and
// groups, and counts the mailboxes it finds. It never allocates more than
// the input's size and never recurses.
#include "services/dmarc/header_from.hpp"

#include <vector>

#include "base/strings.hpp"

namespace tern::dmarc {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The value with comments replaced by a space (RFC 5322 §3.2.2: comments
// nest and may hold quoted-pairs), quoted strings and domain literals kept.
std::expected<std::string, std::string> strip_comments(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  int depth = 0;
  bool quoted = false, literal = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')' && --depth == 0) out.push_back(' ');
      continue;
    }
    if (quoted || literal) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size()) out.push_back(v[++i]);
      else if (quoted && c == '"') quoted = false;
      else if (literal && c == ']') literal = false;
      continue;
    }
    if (c == '(') {
      depth = 1;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '[') literal = true;
    out.push_back(c);
  }
  if (depth > 0) return std::unexpected("unterminated comment in From");
  if (quoted) return std::unexpected("unterminated quoted string in From");
  if (literal) return std::unexpected("unterminated domain literal in From");
  return out;
}

// Splits a comment-free value into mailbox texts: at commas outside quotes,
// literals and angle brackets; a group's "display-name:" and ";" are
// dropped (RFC 5322 §3.4 group), its members kept.
std::expected<std::vector<std::string_view>, std::string> split_mailboxes(std::string_view v) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  bool quoted = false, literal = false, angle = false, seen_at = false;
  auto flush = [&](std::size_t end) {
    auto part = trim_space(v.substr(start, end - start));
    if (!part.empty()) out.push_back(part);
    start = end + 1;
    seen_at = false;
  };
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted || literal) {
      if (c == '\\') ++i;
      else if (quoted && c == '"') quoted = false;
      else if (literal && c == ']') literal = false;
      continue;
    }
    switch (c) {
      case '"': quoted = true; break;
      case '[': literal = true; break;
      case '<':
        if (angle) return std::unexpected("nested '<' in From");
        angle = true;
        break;
      case '>':
        if (!angle) return std::unexpected("'>' without '<' in From");
        angle = false;
        break;
      case '@': seen_at = true; break;
      case ',':
        if (!angle) flush(i);
        break;
      case ':':
        // Outside <...> and before any '@' of this mailbox, ':' ends a group's display name.
        if (!angle && !seen_at) start = i + 1;
        break;
      case ';':
        if (!angle) flush(i);
        break;
      default: break;
    }
  }
  if (angle) return std::unexpected("unterminated '<' in From");
  flush(v.size());
  return out;
}

// The domain of one mailbox text: "Name <local@domain>" or "local@domain".
std::expected<std::string, std::string> mailbox_domain(std::string_view box) {
  std::string_view addr = box;
  bool quoted = false;
  for (std::size_t i = 0; i < box.size(); ++i) {
    if (quoted) {
      if (box[i] == '\\') ++i;
      else if (box[i] == '"') quoted = false;
    } else if (box[i] == '"') {
      quoted = true;
    } else if (box[i] == '<') {
      auto close = box.find('>', i);
      if (close == std::string_view::npos) return std::unexpected("unterminated '<' in From");
      addr = trim_space(box.substr(i + 1, close - i - 1));
      // obs-route "<@a,@b:local@domain>" (RFC 5322 §4.4): drop the route.
      if (addr.starts_with('@')) {
        auto colon = addr.find(':');
        if (colon == std::string_view::npos) return std::unexpected("bad route in From");
        addr = addr.substr(colon + 1);
      }
      break;
    }
  }
  // The domain follows the last '@' that is not inside a quoted local part.
  std::size_t at = std::string_view::npos;
  quoted = false;
  for (std::size_t i = 0; i < addr.size(); ++i) {
    if (quoted) {
      if (addr[i] == '\\') ++i;
      else if (addr[i] == '"') quoted = false;
    } else if (addr[i] == '"') {
      quoted = true;
    } else if (addr[i] == '@') {
      at = i;
    }
  }
  if (at == std::string_view::npos || at == 0) return std::unexpected("From address has no local@domain");
  std::string_view domain = trim_space(addr.substr(at + 1));
  if (domain.starts_with('[')) return std::unexpected("From domain is an address literal");
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty()) return std::unexpected("From address has an empty domain");
  // dot-atom of a domain (RFC 5322 §3.4.1, RFC 6532 §3.2 for UTF-8): labels
  // of letters, digits, '-' or '_' (seen in the wild) or non-ASCII; no empty label.
  char prev = '.';
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || u >= 0x80 || (c == '.' && prev != '.');
    if (!ok) return std::unexpected("From domain is not a domain name: " + log_escape(domain, 80));
    prev = c;
  }
  if (domain.size() > 253) return std::unexpected("From domain is too long");
  return to_lower(domain);
}

}  // namespace

std::expected<std::string, std::string> from_value_domain(std::string_view value) {
  auto clean = strip_comments(value);
  if (!clean) return std::unexpected(clean.error());
  auto boxes = split_mailboxes(*clean);
  if (!boxes) return std::unexpected(boxes.error());
  if (boxes->empty()) return std::unexpected("From has no address");
  if (boxes->size() > 1)
    return std::unexpected("From has " + std::to_string(boxes->size()) + " addresses (RFC 7489 §6.6.1)");
  return mailbox_domain(boxes->front());
}

std::expected<std::string, std::string> header_from_domain(std::string_view header) {
  int from_fields = 0;
  std::string* current = nullptr;  // the From value being unfolded, if the last field is From
  std::string from;
  while (!header.empty()) {
    auto nl = header.find('\n');
    std::string_view line = header.substr(0, nl);
    header.remove_prefix(nl == std::string_view::npos ? header.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line.front() == ' ' || line.front() == '\t') {
      // RFC 5322 §2.2.3: a continuation line; unfolding keeps the WSP.
      if (current) current->append(line);
      continue;
    }
    current = nullptr;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    // RFC 5322 §3.6.2 "From:"; obs-optional allows WSP before the colon (§4.5.2).
    if (iequals(trim_space(line.substr(0, colon)), "from")) {
      if (++from_fields == 1) {
        from.assign(line.substr(colon + 1));
        current = &from;
      }
    }
  }
  if (from_fields == 0) return std::unexpected("no From field");
  if (from_fields > 1) return std::unexpected("more than one From field (RFC 7489 §6.6.1)");
  return from_value_domain(from);
}

}  // namespace tern::dmarc
