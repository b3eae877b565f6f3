#include "formats/mail_address.hpp"

#include "base/strings.hpp"

namespace tern {
namespace {

// RFC 5322 atext, plus any octet >= 0x80 for RFC 6531 (SMTPUTF8).
bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool valid_dot_string(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (unsigned char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
    prev = static_cast<char>(c);
  }
  return true;
}

// RFC 5321 quoted-string: qtextSMTP or backslash-escaped printable ASCII.
bool valid_quoted_string(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;
      unsigned char e = s[++i];
      if (e < 32 || e > 126) return false;
    } else if (c == '"' || (c < 32 && c != '\t') || c == 127) {
      return false;
    }
  }
  return true;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 255) return false;
  if (d.front() == '[') {
    // address-literal: [1.2.3.4] or [IPv6:...]; checked loosely, never routed to.
    return d.back() == ']' && d.size() > 2 &&
           d.find_first_of(" \t[]\\", 1) == d.size() - 1;
  }
  std::size_t label = 0;
  char prev = '.';
  for (unsigned char c : d) {
    if (c == '.') {
      if (prev == '.' || prev == '-' || label == 0) return false;
      label = 0;
    } else {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c >= 0x80;
      if (!ok || (label == 0 && c == '-') || ++label > 63) return false;
    }
    prev = static_cast<char>(c);
  }
  return prev != '-' && prev != '.';
}

std::optional<MailAddress> split_mailbox(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<MailAddress> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (text.size() > 254 + 2) return fail("address too long");
  // The '@' that separates the domain is the last one outside a quoted string.
  std::size_t at = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && quoted) { ++i; continue; }
    if (text[i] == '"') quoted = !quoted;
    else if (text[i] == '@' && !quoted) at = i;
  }
  if (at == std::string_view::npos) return fail("address has no domain");
  auto local = text.substr(0, at), domain = text.substr(at + 1);
  if (local.size() > 64) return fail("local part longer than 64 octets");  // RFC 5321 §4.5.3.1.1
  if (!(valid_dot_string(local) || valid_quoted_string(local))) return fail("invalid local part");
  if (!valid_domain(domain)) return fail("invalid domain");
  return MailAddress{std::string(local), std::string(domain)};
}

}  // namespace

std::string MailAddress::to_string() const {
  if (is_null()) return {};
  if (domain.empty()) return local_part;  // bare <postmaster>
  return local_part + "@" + domain;
}

std::string MailAddress::lookup_key() const {
  std::string local = local_part;
  if (valid_quoted_string(local)) {
    std::string inner;
    for (std::size_t i = 1; i + 1 < local.size(); ++i) {
      if (local[i] == '\\') ++i;
      inner += local[i];
    }
    if (valid_dot_string(inner)) local = inner;
  }
  return to_lower(local) + "@" + to_lower(domain);
}

bool MailAddress::needs_smtputf8() const {
  for (unsigned char c : local_part) if (c >= 0x80) return true;
  for (unsigned char c : domain) if (c >= 0x80) return true;
  return false;
}

std::optional<MailAddress> parse_mailbox(std::string_view text) { return split_mailbox(text, nullptr); }

std::optional<ParsedPath> parse_path(std::string_view text, PathKind kind, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<ParsedPath> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  // Leniency: RFC 5321 has no space after the colon, but many clients (and the
  // seed articles) send one.
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.empty()) return fail("missing address");

  std::string_view path, rest;
  if (text.front() == '<') {
    bool quoted = false;
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 1; i < text.size(); ++i) {
      if (text[i] == '\\' && quoted) { ++i; continue; }
      if (text[i] == '"') quoted = !quoted;
      else if (text[i] == '>' && !quoted) { close = i; break; }
    }
    if (close == std::string_view::npos) return fail("missing '>' after the address");
    path = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ' ') return fail("garbage after the address");
  } else {
    auto sp = text.find(' ');
    path = text.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : text.substr(sp);
  }

  ParsedPath out;
  if (path.empty()) {
    if (kind == PathKind::forward_path) return fail("empty recipient address");
  } else if (kind == PathKind::forward_path && iequals(path, "postmaster")) {
    out.address.local_part = "postmaster";  // RFC 5321 §4.1.1.3: no domain
  } else {
    // RFC 5321 §4.1.2 / Appendix C: a source route "@a,@b:" is accepted and ignored.
    if (path.front() == '@') {
      auto colon = path.find(':');
      if (colon == std::string_view::npos) return fail("invalid source route");
      path = path.substr(colon + 1);
    }
    std::string reason;
    auto mb = split_mailbox(path, &reason);
    if (!mb) return fail(reason);
    out.address = std::move(*mb);
  }

  // ESMTP parameters: keyword[=value], separated by spaces (RFC 5321 §4.1.2).
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    auto sp = rest.find(' ');
    auto word = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp);
    EsmtpParam p;
    auto eq = word.find('=');
    auto key = word.substr(0, eq);
    if (key.empty()) return fail("empty parameter name");
    for (char c : key)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
        return fail("invalid parameter name");
    p.keyword = std::string(key);
    for (char& c : p.keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (eq != std::string_view::npos) {
      p.has_value = true;
      p.value = std::string(word.substr(eq + 1));
    }
    out.params.push_back(std::move(p));
  }
  return out;
}

}  // namespace tern
