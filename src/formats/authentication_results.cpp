// Authentication-Results (RFC 8601) building and recognition of forged
// copies. The builder never lets input text end the field (CR, LF and other
// controls are dropped); the reader is bounded and never recurses.
#include "formats/authentication_results.hpp"

#include "base/strings.hpp"

namespace tern {
namespace {

constexpr std::size_t kFoldAt = 78;  // RFC 5322 §2.1.1: SHOULD be no more than 78

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 2045 §5.1 token character.
bool is_token_char(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if (c <= 0x20 || c >= 0x7f) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(ch) == std::string_view::npos;
}

// RFC 5322 §3.2.3 atext.
bool is_atext(char c) { return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos; }

bool is_dot_atom(std::string_view s, bool domain) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.' && prev == '.') return false;
    bool ok = c == '.' || (domain ? (is_alnum(c) || c == '-' || c == '_') : is_atext(c));
    if (!ok) return false;
    prev = c;
  }
  return true;
}

// Method, result, ptype and property names are keywords (§2.2): keep only
// the characters a keyword may have, so nothing else can slip in.
std::string keyword(std::string_view s) {
  std::string out;
  for (char c : s)
    if (is_alnum(c) || c == '-' || c == '_' || c == '.') out.push_back(c);
  return out.empty() ? "unknown" : out;
}

std::string without_ctl(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!is_ctl(static_cast<unsigned char>(c))) out.push_back(c);
  return out;
}

// The comment's words, the first opening and the last closing the parentheses.
std::vector<std::string> comment_units(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : text) {
    if (is_ctl(static_cast<unsigned char>(c))) continue;
    if (c == ' ') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    // RFC 5322 §3.2.2: ctext excludes '(', ')' and '\'; quote them.
    if (c == '(' || c == ')' || c == '\\') cur.push_back('\\');
    cur.push_back(c);
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  if (words.empty()) return {};
  words.front().insert(0, "(");
  words.back().push_back(')');
  return words;
}

// Writes units separated by single spaces, starting a new folded line
// (CRLF TAB) before a unit that would pass kFoldAt.
class Folder {
 public:
  explicit Folder(std::string start) : out_(std::move(start)), line_len_(out_.size()) {}
  void new_line() {
    out_ += "\r\n\t";
    line_len_ = 1;
    fresh_ = true;
  }
  void add(const std::string& unit) {
    if (!fresh_ && line_len_ + 1 + unit.size() > kFoldAt) new_line();
    if (!fresh_) {
      out_ += ' ';
      ++line_len_;
    }
    out_ += unit;
    line_len_ += unit.size();
    fresh_ = false;
  }
  void append_to_last(char c) {
    out_ += c;
    ++line_len_;
  }
  std::string finish() { return std::move(out_) + "\r\n"; }

 private:
  std::string out_;
  std::size_t line_len_;
  bool fresh_ = false;
};

// Skips CFWS (RFC 5322 §3.2.2) from s[i]: whitespace, line breaks, nested
// comments with quoted-pairs. False on an unterminated comment.
bool skip_cfws(std::string_view s, std::size_t& i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')') --depth;
    } else if (c == '(') {
      depth = 1;
    } else if (!(c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      return true;
    }
  }
  return depth == 0;
}

}  // namespace

std::string auth_value(std::string_view raw) {
  std::string v = without_ctl(raw);
  bool token = !v.empty();
  for (char c : v) token = token && is_token_char(c);
  if (token) return v;
  // §2.2 pvalue: [ [ local-part ] "@" ] domain-name needs no quotes.
  if (auto at = v.rfind('@'); at != std::string::npos) {
    std::string_view local = std::string_view(v).substr(0, at), domain = std::string_view(v).substr(at + 1);
    if ((local.empty() || is_dot_atom(local, false)) && is_dot_atom(domain, true)) return v;
  }
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

AuthMethodResult spf_method(std::string_view result, std::string_view mail_from, std::string_view helo) {
  AuthMethodResult m{"spf", std::string(result), "", "", {}};
  if (!mail_from.empty()) m.properties.push_back({"smtp", "mailfrom", std::string(mail_from)});
  if (!helo.empty()) m.properties.push_back({"smtp", "helo", std::string(helo)});
  return m;
}

AuthMethodResult dkim_method(std::string_view result, std::string_view d, std::string_view s, std::string_view b) {
  AuthMethodResult m{"dkim", std::string(result), "", "", {}};
  if (!d.empty()) m.properties.push_back({"header", "d", std::string(d)});
  if (!s.empty()) m.properties.push_back({"header", "s", std::string(s)});
  if (!b.empty()) m.properties.push_back({"header", "b", std::string(b.substr(0, 8))});
  return m;
}

AuthMethodResult dmarc_method(std::string_view result, std::string_view policy, std::string_view disposition,
                              std::string_view header_from) {
  AuthMethodResult m{"dmarc", std::string(result), "", "", {}};
  // The comment is the customary "(p=reject dis=none)" of OpenDMARC and
  // the large receivers; RFC 8601 registers no property for it.
  if (!policy.empty()) m.comment = "p=" + std::string(policy);
  if (!disposition.empty()) m.comment += (m.comment.empty() ? "dis=" : " dis=") + std::string(disposition);
  if (!header_from.empty()) m.properties.push_back({"header", "from", std::string(header_from)});
  return m;
}

AuthMethodResult iprev_method(std::string_view result, std::string_view client_ip, std::string_view ptr_name) {
  AuthMethodResult m{"iprev", std::string(result), std::string(ptr_name), "", {}};
  if (!client_ip.empty()) m.properties.push_back({"policy", "iprev", std::string(client_ip)});
  return m;
}

std::string format_authentication_results(const AuthenticationResults& ar) {
  Folder f("Authentication-Results:");
  f.add(auth_value(ar.authserv_id.empty() ? std::string("localhost") : ar.authserv_id));
  f.append_to_last(';');
  if (ar.results.empty()) {
    f.add("none");  // §2.2 no-result
    return f.finish();
  }
  for (std::size_t i = 0; i < ar.results.size(); ++i) {
    const auto& r = ar.results[i];
    f.new_line();
    f.add(keyword(r.method) + "=" + keyword(r.result));
    for (const auto& w : comment_units(r.comment)) f.add(w);
    if (!r.reason.empty()) f.add("reason=" + auth_value(r.reason));
    for (const auto& p : r.properties) f.add(keyword(p.ptype) + "." + keyword(p.property) + "=" + auth_value(p.value));
    if (i + 1 < ar.results.size()) f.append_to_last(';');
  }
  return f.finish();
}

std::optional<std::string> authserv_id_of(std::string_view v) {
  std::size_t i = 0;
  if (!skip_cfws(v, i) || i >= v.size()) return std::nullopt;
  std::string id;
  if (v[i] == '"') {
    // quoted-string (RFC 5322 §3.2.4); the quotes are not part of the value.
    for (++i; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) id.push_back(v[++i]);
      else if (v[i] == '"') return id;
      else if (v[i] != '\r' && v[i] != '\n') id.push_back(v[i]);
    }
    return std::nullopt;
  }
  while (i < v.size() && is_token_char(v[i])) id.push_back(v[i++]);
  if (id.empty()) return std::nullopt;
  return id;
}

std::vector<HeaderRange> find_authentication_results(std::string_view header, std::string_view authserv_id) {
  std::vector<HeaderRange> out;
  std::size_t pos = 0;
  auto line_end = [&](std::size_t from) {
    auto nl = header.find('\n', from);
    return nl == std::string_view::npos ? header.size() : nl + 1;
  };
  while (pos < header.size()) {
    std::size_t end = line_end(pos);
    std::string_view first = header.substr(pos, end - pos);
    if (first == "\n" || first == "\r\n" || first == "\r") break;  // the empty line ends the header
    // RFC 5322 §2.2.3: the field goes on while lines start with WSP.
    while (end < header.size() && (header[end] == ' ' || header[end] == '\t')) end = line_end(end);
    std::string_view field = header.substr(pos, end - pos);
    auto colon = field.find(':');
    if (colon != std::string_view::npos &&
        iequals(trim(field.substr(0, colon)), "Authentication-Results")) {
      auto id = authserv_id_of(field.substr(colon + 1));
      if (id && iequals(*id, authserv_id)) out.push_back({pos, end});
    }
    pos = end;
  }
  return out;
}

std::string remove_authentication_results(std::string_view header, std::string_view authserv_id) {
  std::string out;
  std::size_t pos = 0;
  for (const auto& r : find_authentication_results(header, authserv_id)) {
    out.append(header.substr(pos, r.begin - pos));
    pos = r.end;
  }
  out.append(header.substr(pos));
  return out;
}

}  // namespace tern
