// SPF macro syntax and expansion (RFC 7208 §7). Every index is checked
// against the text's length: the input is a DNS record written by anyone.
#include "services/spf/spf_macro.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "base/strings.hpp"

namespace tern::spf {
namespace {

bool is_delimiter(char c) {
  // RFC 7208 §7.1: delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 §2.3 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// One parsed %{...} expression.
struct Expr {
  char letter = 0;  // lower case
  bool url_escape = false;
  std::size_t keep = 0;  // 0: all parts
  bool reverse = false;
  std::string delimiters;  // empty: "."
};

// Parses the macro-expand starting at text[pos] == '%'. On success pos moves
// past it and `out` gets the literal (for %%, %_, %-) or `expr` is filled.
std::expected<void, MacroError> parse_expand(std::string_view text, std::size_t& pos, MacroKind kind, Expr& expr,
                                             std::string& literal) {
  if (pos + 1 >= text.size()) return std::unexpected("'%' at the end of a macro-string");
  char next = text[pos + 1];
  // RFC 7208 §7.1: "%%" is a percent, "%_" a space, "%-" a URL-encoded space.
  if (next == '%') {
    literal = "%";
    pos += 2;
    return {};
  }
  if (next == '_') {
    literal = " ";
    pos += 2;
    return {};
  }
  if (next == '-') {
    literal = "%20";
    pos += 2;
    return {};
  }
  // §7.1: "A '%' character not followed by a '{', '%', '-', or '_' character
  // is a syntax error."
  if (next != '{') return std::unexpected(fmt::format("'%' followed by '{}' is not a macro", log_escape({&next, 1})));
  std::size_t p = pos + 2;
  if (p >= text.size()) return std::unexpected("unterminated macro");
  char letter = text[p];
  char lower = ascii_lower(letter);
  constexpr std::string_view letters = "slodiphcrtv";
  if (letters.find(lower) == std::string_view::npos)
    return std::unexpected(fmt::format("unknown macro letter '{}'", log_escape({&letter, 1})));
  // §7.3: c, r and t are for explanation strings only. Unknown modifiers
  // are never expanded: their macro-strings are only checked for syntax.
  if ((lower == 'c' || lower == 'r' || lower == 't') && kind == MacroKind::domain_spec)
    return std::unexpected(fmt::format("macro letter '{}' is allowed only in an explanation", letter));
  expr.letter = lower;
  expr.url_escape = letter != lower;
  ++p;
  // transformers = *DIGIT [ "r" ]
  std::size_t digits_start = p;
  std::size_t keep = 0;
  while (p < text.size() && is_digit(text[p])) {
    keep = std::min<std::size_t>(keep * 10 + static_cast<std::size_t>(text[p] - '0'), 1000);
    ++p;
  }
  if (p > digits_start && keep == 0) return std::unexpected("macro digit transformer is zero");  // §7.3: MUST be nonzero
  expr.keep = keep;
  if (p < text.size() && (text[p] == 'r' || text[p] == 'R')) {
    expr.reverse = true;
    ++p;
  }
  while (p < text.size() && is_delimiter(text[p])) expr.delimiters += text[p++];
  if (p >= text.size() || text[p] != '}') return std::unexpected("malformed macro (expected '}')");
  pos = p + 1;
  return {};
}

// Visible ASCII (%x21-7E); an explanation also allows SP.
bool allowed_char(char c, MacroKind kind) {
  auto u = static_cast<unsigned char>(c);
  if (u == ' ') return kind == MacroKind::explanation;
  return u >= 0x21 && u <= 0x7e;
}

std::vector<std::string_view> split_parts(std::string_view value, std::string_view delimiters) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string letter_value(char letter, const MacroValues& v) {
  switch (letter) {
    case 's': return v.sender;
    case 'l': return v.local_part;
    case 'o': return v.sender_domain;
    case 'd': return v.domain;
    case 'i': return dotted_ip(v.ip);
    case 'p': return v.validated_name && !v.validated_name->empty() ? *v.validated_name : "unknown";
    case 'v': return v.ip.v6 ? "ip6" : "in-addr";
    case 'h': return v.helo;
    case 'c': return v.ip.to_string();  // §7.3: the readable form (RFC 5952 for IPv6)
    case 'r': return v.receiver.empty() ? "unknown" : v.receiver;
    case 't': return std::to_string(v.timestamp);
  }
  return {};
}

std::string transform(const Expr& e, std::string_view value) {
  // §7.3: split on the delimiters (default "."), optionally reverse, keep the
  // right-most `keep` parts, join with ".".
  std::string_view delims = e.delimiters.empty() ? std::string_view(".") : std::string_view(e.delimiters);
  auto parts = split_parts(value, delims);
  if (e.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (e.keep > 0 && e.keep < parts.size()) first = parts.size() - e.keep;
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out += parts[i];
  }
  return out;
}

// Walks the macro-string; with `values`, builds the expansion.
std::expected<std::string, MacroError> walk(std::string_view text, MacroKind kind, const MacroValues* values) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    char c = text[pos];
    if (!allowed_char(c, kind))
      return std::unexpected(fmt::format("character {} not allowed in a macro-string", log_escape({&c, 1})));
    if (c != '%') {
      if (values) out += c;
      ++pos;
      continue;
    }
    Expr e;
    std::string literal;
    if (auto r = parse_expand(text, pos, kind, e, literal); !r) return std::unexpected(r.error());
    if (!values) continue;
    if (e.letter == 0) {
      out += literal;
      continue;
    }
    std::string value = transform(e, letter_value(e.letter, *values));
    out += e.url_escape ? url_escape(value) : value;
  }
  return out;
}

}  // namespace

std::expected<void, MacroError> check_macro_string(std::string_view text, MacroKind kind) {
  auto r = walk(text, kind, nullptr);
  if (!r) return std::unexpected(r.error());
  return {};
}

bool uses_p_macro(std::string_view text) {
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (text[i + 1] == '{' && ascii_lower(text[i + 2]) == 'p') return true;
    ++i;  // skip the character after '%' ("%%{p}" is a literal)
  }
  return false;
}

std::expected<std::string, MacroError> expand_macros(std::string_view text, const MacroValues& values,
                                                     MacroKind kind) {
  return walk(text, kind, &values);
}

std::string dotted_ip(const IpAddress& ip) {
  if (!ip.v6) return ip.to_string();
  constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i > 0) out += '.';
    out += hex[ip.bytes[i] >> 4];
    out += '.';
    out += hex[ip.bytes[i] & 0xf];
  }
  return out;
}

std::string reverse_name(const IpAddress& ip) {
  if (!ip.v6)
    return fmt::format("{}.{}.{}.{}.in-addr.arpa", ip.bytes[3], ip.bytes[2], ip.bytes[1], ip.bytes[0]);
  constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 16; i-- > 0;) {
    out += hex[ip.bytes[i] & 0xf];
    out += '.';
    out += hex[ip.bytes[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

std::string fit_domain_name(std::string_view expanded) {
  std::string_view name = expanded;
  if (name.ends_with('.')) name.remove_suffix(1);
  // §7.3: "if the expanded domain name exceeds 253 characters ..., the left
  // side is truncated to fit, by removing successive domain labels (and
  // their following dots) until the total length does not exceed 253".
  while (name.size() > 253) {
    auto dot = name.find('.');
    if (dot == std::string_view::npos) return {};
    name.remove_prefix(dot + 1);
  }
  return std::string(name);
}

}  // namespace tern::spf
