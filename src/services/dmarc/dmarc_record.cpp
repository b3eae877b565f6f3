// DMARC record parsing (RFC 7489 §6.3, §6.4). Lenient where the RFC lets a
// receiver be (unknown tags, a bad optional tag), strict where it is not
// (v=DMARC1 first, p= required unless §6.6.3 step 6 applies).
#include "services/dmarc/dmarc_record.hpp"

#include "base/strings.hpp"

namespace tern::dmarc {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_wsp(std::string_view s) {
  // TXT data may carry CR/LF from a sloppy zone file; treat them as WSP.
  auto ws = [](char c) { return is_wsp(c) || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

// tag-name = ALPHA *ALNUMPUNC (RFC 6376 §3.2, which DMARC's tag lists follow).
bool valid_tag_name(std::string_view s) {
  if (s.empty() || !is_alpha(s[0])) return false;
  for (char c : s)
    if (!is_alpha(c) && !is_digit(c) && c != '_') return false;
  return true;
}

std::optional<std::uint64_t> parse_digits(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (§6.4). A literal
// '!' or ',' inside the URI must be percent-encoded (§6.2), so the first '!'
// starts the size limit. The URI check is the shape RFC 3986 §3.1 gives a
// scheme, a colon and something after it: enough to tell a URI from junk.
bool valid_report_uri(std::string_view uri) {
  auto bang = uri.find('!');
  if (bang != std::string_view::npos) {
    std::string_view size = uri.substr(bang + 1);
    if (!size.empty() && std::string_view("kmgtKMGT").find(size.back()) != std::string_view::npos)
      size.remove_suffix(1);
    if (!parse_digits(size, 19)) return false;
    uri = uri.substr(0, bang);
  }
  auto colon = uri.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 == uri.size()) return false;
  if (!is_alpha(uri[0])) return false;
  for (char c : uri.substr(0, colon))
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  for (char c : uri.substr(colon + 1)) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// A comma-separated URI list: the valid URIs; invalid ones become warnings.
std::vector<std::string> parse_uri_list(std::string_view value, std::string_view tag,
                                        std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  for (auto part : split(value, ',')) {
    part = trim_wsp(part);
    if (part.empty()) continue;
    if (valid_report_uri(part))
      out.emplace_back(part);
    else
      warnings.push_back(std::string(tag) + "= URI ignored: " + log_escape(part, 80));
  }
  return out;
}

std::optional<Alignment> parse_alignment(std::string_view v) {
  if (iequals(v, "r")) return Alignment::relaxed;
  if (iequals(v, "s")) return Alignment::strict;
  return std::nullopt;
}

// dmarc-fo = ( "0" / "1" / "d" / "s" ) *( *WSP ":" *WSP ( "0" / "1" / "d" / "s" ) )
bool valid_fo(std::string_view v) {
  for (auto part : split(v, ':')) {
    part = trim_wsp(part);
    if (part.size() != 1 || std::string_view("01dsDS").find(part[0]) == std::string_view::npos) return false;
  }
  return true;
}

// dmarc-rfmt = Keyword *( *WSP ":" Keyword ); Keyword = ALPHA / DIGIT / "-" runs (RFC 5321).
bool valid_rf(std::string_view v) {
  for (auto part : split(v, ':')) {
    part = trim_wsp(part);
    if (part.empty()) return false;
    for (char c : part)
      if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
  }
  return true;
}

struct TagSpec {
  std::string_view name;
  std::string_view value;
};

// "name *WSP = *WSP value"; nothing when there is no '=' or the name is bad.
std::optional<TagSpec> split_tag(std::string_view spec) {
  auto eq = spec.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  TagSpec t{trim_wsp(spec.substr(0, eq)), trim_wsp(spec.substr(eq + 1))};
  if (!valid_tag_name(t.name)) return std::nullopt;
  return t;
}

}  // namespace

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::none: return "none";
    case Policy::quarantine: return "quarantine";
    case Policy::reject: return "reject";
  }
  return "?";
}

std::string_view to_string(Alignment a) { return a == Alignment::strict ? "s" : "r"; }

std::optional<Policy> parse_policy(std::string_view text) {
  // RFC 5234 §2.3: ABNF quoted strings are case-insensitive.
  if (iequals(text, "none")) return Policy::none;
  if (iequals(text, "quarantine")) return Policy::quarantine;
  if (iequals(text, "reject")) return Policy::reject;
  return std::nullopt;
}

bool is_dmarc_record(std::string_view text) {
  while (!text.empty() && is_wsp(text.front())) text.remove_prefix(1);
  auto first = text.substr(0, text.find(';'));
  auto tag = split_tag(first);
  // dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31: the
  // value is case-sensitive (%x), the tag name is not.
  return tag && iequals(tag->name, "v") && tag->value == "DMARC1";
}

std::expected<DmarcRecord, std::string> parse_dmarc_record(std::string_view text) {
  if (!is_dmarc_record(text)) return std::unexpected("not a DMARC record: v=DMARC1 is not the first tag");
  DmarcRecord rec;
  auto specs = split(text, ';');
  std::optional<std::string_view> p, sp;
  std::vector<std::string> seen;
  bool rua_given = false;
  for (std::size_t i = 1; i < specs.size(); ++i) {
    auto spec = trim_wsp(specs[i]);
    if (spec.empty()) continue;  // "; ;" and a trailing ';' (dmarc-sep)
    auto tag = split_tag(spec);
    if (!tag) {
      rec.warnings.push_back("malformed tag ignored: " + log_escape(spec, 80));
      continue;
    }
    std::string name = to_lower(tag->name);
    if (name == "v") return std::unexpected("v= appears again after the first tag");
    bool repeated = false;
    for (const auto& s : seen) repeated = repeated || s == name;
    if (repeated) {
      // Not allowed by the ABNF; the first occurrence wins (as in DKIM, RFC 6376 §3.2).
      rec.warnings.push_back("repeated tag ignored: " + name);
      continue;
    }
    seen.push_back(name);
    const auto v = tag->value;
    if (name == "p") {
      p = v;
    } else if (name == "sp") {
      sp = v;
    } else if (name == "adkim" || name == "aspf") {
      auto a = parse_alignment(v);
      if (!a)
        rec.warnings.push_back(name + "= invalid, relaxed used: " + log_escape(v, 40));
      else
        (name == "adkim" ? rec.dkim_alignment : rec.spf_alignment) = *a;
    } else if (name == "pct") {
      // dmarc-percent = "pct" *WSP "=" *WSP 1*3DIGIT, 0..100 (§6.3).
      auto n = parse_digits(v, 3);
      if (!n || *n > 100)
        rec.warnings.push_back("pct= invalid, 100 used: " + log_escape(v, 40));
      else
        rec.percent = static_cast<unsigned>(*n);
    } else if (name == "rua") {
      rua_given = true;
      rec.rua = parse_uri_list(v, name, rec.warnings);
    } else if (name == "ruf") {
      rec.ruf = parse_uri_list(v, name, rec.warnings);
    } else if (name == "fo") {
      if (valid_fo(v))
        rec.failure_options = std::string(v);
      else
        rec.warnings.push_back("fo= invalid, 0 used: " + log_escape(v, 40));
    } else if (name == "rf") {
      if (valid_rf(v))
        rec.report_format = to_lower(v);
      else
        rec.warnings.push_back("rf= invalid, afrf used: " + log_escape(v, 40));
    } else if (name == "ri") {
      auto n = parse_digits(v, 10);
      if (!n || *n > 0xffffffffu)
        rec.warnings.push_back("ri= invalid, 86400 used: " + log_escape(v, 40));
      else
        rec.report_interval = static_cast<std::uint32_t>(*n);
    }
    // §6.3: unknown tags MUST be ignored.
  }

  auto policy = p ? parse_policy(*p) : std::nullopt;
  auto sub = sp ? parse_policy(*sp) : std::nullopt;
  bool sp_bad = sp && !sub;
  if (!policy || sp_bad) {
    // §6.6.3 step 6: no valid p= (or an invalid sp=) is fatal unless rua=
    // holds at least one valid URI; then act as if p=none.
    std::string why = !p ? "p= missing" : !policy ? "p= invalid" : "sp= invalid";
    if (!rec.rua.empty()) {
      rec.policy = Policy::none;
      rec.subdomain_policy.reset();
      rec.policy_defaulted = true;
      rec.warnings.push_back(why + ", treated as p=none because rua= is valid (RFC 7489 §6.6.3)");
      return rec;
    }
    return std::unexpected(why + (rua_given ? " and no valid rua= URI" : " and no rua="));
  }
  rec.policy = *policy;
  rec.subdomain_policy = sub;
  return rec;
}

}  // namespace tern::dmarc
