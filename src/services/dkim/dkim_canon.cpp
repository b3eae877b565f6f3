#include "services/dkim/dkim_canon.hpp"

#include "base/strings.hpp"

namespace tern::dkim {
namespace {

// RFC 5234 WSP, the only white space DKIM canonicalization knows.
bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_trailing_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view field_name(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return {};
  return trim_trailing_wsp(text.substr(0, colon));
}

// §3.4.2 on a field value (or on a whole field that has no colon): unfold
// (drop each CRLF; in a field every CRLF is a fold), turn every run of WSP
// into one SP, and drop WSP at both ends. A fold's CRLF does not split a run:
// "a \r\n\tb" becomes "a b".
void append_relaxed_value(std::string_view value, std::string& out) {
  bool wsp = false;
  bool started = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
      ++i;
      continue;
    }
    if (is_wsp(c)) {
      wsp = true;
      continue;
    }
    if (wsp && started) out += ' ';
    wsp = false;
    started = true;
    out += c;
  }
}

}  // namespace

std::string_view to_string(Canon canon) { return canon == Canon::simple ? "simple" : "relaxed"; }

ParsedMessage parse_message(std::string_view m) {
  ParsedMessage out;
  constexpr auto npos = std::string_view::npos;
  std::size_t field_start = npos;
  std::size_t field_end = 0;
  auto close_field = [&] {
    if (field_start == npos) return;
    auto text = m.substr(field_start, field_end - field_start);
    out.fields.push_back(HeaderField{field_name(text), text});
    field_start = npos;
  };
  std::size_t pos = 0;
  while (pos < m.size()) {
    std::size_t eol = m.find("\r\n", pos);
    std::size_t line_end = eol == npos ? m.size() : eol;
    std::size_t next = eol == npos ? m.size() : eol + 2;
    if (line_end == pos) {  // the empty line that ends the header (RFC 5322 §2.1)
      close_field();
      out.header_size = next;
      out.body = m.substr(next);
      return out;
    }
    // RFC 5322 §2.2.3: a line that starts with WSP continues the field above
    // it. One at the very top continues nothing; it becomes a field of its own
    // whose name (" x") no h= entry can match.
    if (!is_wsp(m[pos]) || field_start == npos) {
      close_field();
      field_start = pos;
    }
    field_end = line_end;
    pos = next;
  }
  close_field();
  out.header_size = m.size();
  return out;
}

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string canonicalize_header(Canon canon, std::string_view field_text) {
  std::string out;
  if (canon == Canon::simple) {
    // §3.4.1: the field exactly as it is, folding and case included.
    out.reserve(field_text.size() + 2);
    out.append(field_text);
    out += "\r\n";
    return out;
  }
  // §3.4.2, in order: lower-case the name; unfold; reduce WSP runs to one SP;
  // delete WSP at the end of the value and around the colon.
  out.reserve(field_text.size() + 2);
  auto colon = field_text.find(':');
  if (colon == std::string_view::npos) {
    append_relaxed_value(field_text, out);
    for (char& c : out) c = ascii_lower(c);
  } else {
    std::string name;
    append_relaxed_value(field_text.substr(0, colon), name);
    for (char c : name) out += ascii_lower(c);
    out += ':';
    append_relaxed_value(field_text.substr(colon + 1), out);
  }
  out += "\r\n";
  return out;
}

void BodyCanonicalizer::content(char c, std::string& out) {
  for (; pending_crlf_ > 0; --pending_crlf_) out += "\r\n";
  if (pending_wsp_) out += ' ';
  pending_wsp_ = false;
  out += c;
  any_content_ = true;
}

void BodyCanonicalizer::feed(std::string_view in, std::string& out) {
  if (finished_) return;
  const bool relaxed = canon_ == Canon::relaxed;
  std::size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        // A line end. §3.4.4 a: WSP before it is ignored; §3.4.3/§3.4.4 b:
        // it is held back until more content shows it is not trailing.
        pending_wsp_ = false;
        ++pending_crlf_;
        ++i;
        continue;
      }
      content('\r', out);  // a bare CR is content
    }
    if (c == '\r') {
      pending_cr_ = true;
      ++i;
      continue;
    }
    if (relaxed && is_wsp(c)) {
      pending_wsp_ = true;
      ++i;
      continue;
    }
    // A run of ordinary bytes goes out in one piece.
    content(c, out);
    std::size_t run_end = i + 1;
    while (run_end < in.size() && in[run_end] != '\r' && !(relaxed && is_wsp(in[run_end]))) ++run_end;
    out.append(in.substr(i + 1, run_end - i - 1));
    i = run_end;
  }
}

void BodyCanonicalizer::finish(std::string& out) {
  if (finished_) return;
  finished_ = true;
  if (pending_cr_) {
    pending_cr_ = false;
    content('\r', out);
  }
  pending_wsp_ = false;  // §3.4.4 a: WSP at the end of the last line is ignored too
  if (canon_ == Canon::simple) {
    // §3.4.3: "*CRLF" at the end becomes one CRLF, and one is added when the
    // body is empty or does not end with one: either way exactly one CRLF.
    out += "\r\n";
  } else if (any_content_) {
    // §3.4.4 b: trailing empty lines are ignored; a non-empty body that does
    // not end with CRLF gets one. An empty body stays empty.
    out += "\r\n";
  }
}

std::string canonicalize_body(Canon canon, std::string_view body) {
  std::string out;
  out.reserve(body.size() + 2);
  BodyCanonicalizer c(canon);
  c.feed(body, out);
  c.finish(out);
  return out;
}

std::vector<const HeaderField*> select_fields(std::span<const HeaderField> fields,
                                              std::span<const std::string> h_names) {
  std::vector<const HeaderField*> out;
  out.reserve(h_names.size());
  for (std::size_t n = 0; n < h_names.size(); ++n) {
    if (h_names[n].empty()) continue;  // would match the lines that have no colon
    // The k-th mention of a name (counting earlier mentions in h=, case
    // ignored) takes the k-th instance from the bottom.
    std::size_t earlier = 0;
    for (std::size_t j = 0; j < n; ++j)
      if (iequals(h_names[j], h_names[n])) ++earlier;
    std::size_t seen = 0;
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
      if (!iequals(it->name, h_names[n])) continue;
      if (seen++ == earlier) {
        out.push_back(&*it);
        break;
      }
    }
  }
  return out;
}

std::string header_hash_input(Canon canon, std::span<const HeaderField> fields,
                              std::span<const std::string> h_names, std::string_view signature_field) {
  std::string data;
  for (const HeaderField* f : select_fields(fields, h_names)) data += canonicalize_header(canon, f->text);
  std::string sig = canonicalize_header(canon, signature_field);
  sig.resize(sig.size() - 2);  // §3.7: "without a trailing CRLF"
  data += sig;
  return data;
}

}  // namespace tern::dkim
