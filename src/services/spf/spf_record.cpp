// SPF record parsing (RFC 7208 §4.6, §5, §6 and the ABNF of §12). Works on
// views of the record text and checks every index; never allocates in
// proportion to anything but the record's own length.
#include "services/spf/spf_record.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

#include "base/strings.hpp"
#include "services/spf/spf_macro.hpp"

namespace tern::spf {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
// §12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
bool is_name_char(char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; }

std::unexpected<RecordError> error(std::string text) { return std::unexpected(std::move(text)); }

// §7.1: toplabel = ( *alphanum ALPHA *alphanum ) /
//                  ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
// i.e. LDH, not all digits, not starting or ending with "-".
bool is_toplabel(std::string_view label) {
  if (label.empty() || label.front() == '-' || label.back() == '-') return false;
  bool alpha = false;
  for (char c : label) {
    if (!is_alnum(c) && c != '-') return false;
    if (is_alpha(c)) alpha = true;
  }
  // The second alternative has a "-" and so needs no letter.
  return alpha || label.find('-') != std::string_view::npos;
}

// A CIDR length (§5.6: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT)):
// digits without a leading zero, at most `max`.
std::optional<int> parse_cidr(std::string_view digits, int max) {
  // from_chars would take a sign: "/-24" must be a syntax error, not -24.
  if (digits.empty() || digits.size() > 3 || digits.front() < '0' || digits.front() > '9') return std::nullopt;
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value > max) return std::nullopt;
  return value;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// §5.6 ip4-network = qnum "." qnum "." qnum "." qnum; qnum has no leading zeros.
std::optional<IpAddress> parse_ip4(std::string_view text) {
  IpAddress ip;
  std::size_t part = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '.') continue;
    auto q = text.substr(start, i - start);
    if (part >= 4 || !all_digits(q) || q.size() > 3 || (q.size() > 1 && q.front() == '0')) return std::nullopt;
    int v = 0;
    std::from_chars(q.data(), q.data() + q.size(), v);
    if (v > 255) return std::nullopt;
    ip.bytes[part++] = static_cast<unsigned char>(v);
    start = i + 1;
  }
  if (part != 4) return std::nullopt;
  return ip;
}

// §5.6 ip6-network = <as per RFC 4291 §2.2>. Kept as IPv6 even when it is
// IPv4-mapped: an ip6 mechanism never matches an IPv4 client (§5).
std::optional<IpAddress> parse_ip6(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  IpAddress ip;
  ip.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) != 1) return std::nullopt;
  return ip;
}

// Splits a trailing dual-cidr-length off `arg` (§5.3, §5.4):
// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]. The
// domain-spec may itself contain "/" (it is any visible character), so only
// a tail of "/digits" and "//digits" counts.
std::expected<void, RecordError> split_dual_cidr(std::string_view& arg, Mechanism& m) {
  auto take_tail = [&](std::string_view prefix, int max, int& out) -> std::expected<bool, RecordError> {
    std::size_t i = arg.size();
    while (i > 0 && is_digit(arg[i - 1])) --i;
    if (i == arg.size() || i < prefix.size() || arg.substr(i - prefix.size(), prefix.size()) != prefix) return false;
    // "//64" ends with "/64" too: the ip4 step must not take an ip6 length.
    if (prefix == "/" && i >= 2 && arg[i - 2] == '/') return false;
    auto value = parse_cidr(arg.substr(i), max);
    if (!value) return error(fmt::format("invalid CIDR length \"{}{}\"", prefix, arg.substr(i)));
    out = *value;
    arg = arg.substr(0, i - prefix.size());
    return true;
  };
  auto six = take_tail("//", 128, m.cidr6);
  if (!six) return std::unexpected(six.error());
  auto four = take_tail("/", 32, m.cidr4);
  if (!four) return std::unexpected(four.error());
  return {};
}

std::expected<Mechanism, RecordError> parse_mechanism(std::string_view term) {
  Mechanism m;
  m.text = std::string(term);
  std::string_view rest = term;
  // §4.6.2: qualifier = "+" / "-" / "?" / "~"; none means "+".
  if (!rest.empty()) {
    switch (rest.front()) {
      case '+': m.qualifier = Qualifier::pass; rest.remove_prefix(1); break;
      case '-': m.qualifier = Qualifier::fail; rest.remove_prefix(1); break;
      case '~': m.qualifier = Qualifier::softfail; rest.remove_prefix(1); break;
      case '?': m.qualifier = Qualifier::neutral; rest.remove_prefix(1); break;
      default: break;
    }
  }
  std::size_t n = 0;
  while (n < rest.size() && is_name_char(rest[n])) ++n;
  std::string name = to_lower(rest.substr(0, n));
  std::string_view arg = rest.substr(n);
  if (!arg.empty() && arg.front() != ':' && arg.front() != '/')
    return error(fmt::format("malformed term \"{}\"", log_escape(term)));

  auto domain_arg = [&](bool required) -> std::expected<void, RecordError> {
    if (arg.empty()) {
      if (required) return error(fmt::format("\"{}\" needs \":\" and a domain", name));
      return {};
    }
    if (arg.front() != ':') return error(fmt::format("unexpected \"{}\" after \"{}\"", log_escape(arg), name));
    auto spec = arg.substr(1);
    if (auto ok = check_domain_spec(spec); !ok)
      return error(fmt::format("{} in \"{}\"", ok.error(), log_escape(term)));
    m.domain_spec = std::string(spec);
    return {};
  };

  if (name == "all") {  // §5.1: all = "all"
    m.kind = MechanismKind::all;
    if (!arg.empty()) return error(fmt::format("\"all\" takes no argument: \"{}\"", log_escape(term)));
  } else if (name == "include" || name == "exists") {  // §5.2, §5.7: ":" domain-spec
    m.kind = name == "include" ? MechanismKind::include : MechanismKind::exists;
    if (auto ok = domain_arg(true); !ok) return std::unexpected(ok.error());
  } else if (name == "ptr") {  // §5.5: [ ":" domain-spec ]
    m.kind = MechanismKind::ptr;
    if (auto ok = domain_arg(false); !ok) return std::unexpected(ok.error());
  } else if (name == "a" || name == "mx") {  // §5.3, §5.4: [ ":" domain-spec ] [ dual-cidr-length ]
    m.kind = name == "a" ? MechanismKind::a : MechanismKind::mx;
    if (auto ok = split_dual_cidr(arg, m); !ok) return error(fmt::format("{} in \"{}\"", ok.error(), log_escape(term)));
    if (auto ok = domain_arg(false); !ok) return std::unexpected(ok.error());
  } else if (name == "ip4" || name == "ip6") {  // §5.6
    bool v6 = name == "ip6";
    m.kind = v6 ? MechanismKind::ip6 : MechanismKind::ip4;
    if (arg.empty() || arg.front() != ':') return error(fmt::format("\"{}\" needs \":\" and a network", name));
    auto value = arg.substr(1);
    auto slash = value.find('/');
    auto address = value.substr(0, slash);
    auto ip = v6 ? parse_ip6(address) : parse_ip4(address);
    if (!ip) return error(fmt::format("invalid {} network in \"{}\"", name, log_escape(term)));
    m.network = *ip;
    if (slash != std::string_view::npos) {
      auto cidr = parse_cidr(value.substr(slash + 1), v6 ? 128 : 32);
      if (!cidr) return error(fmt::format("invalid CIDR length in \"{}\"", log_escape(term)));
      (v6 ? m.cidr6 : m.cidr4) = *cidr;
    }
  } else {
    return error(fmt::format("unknown mechanism \"{}\"", log_escape(term)));
  }
  return m;
}

}  // namespace

std::string_view to_string(Qualifier q) {
  switch (q) {
    case Qualifier::pass: return "+";
    case Qualifier::fail: return "-";
    case Qualifier::softfail: return "~";
    case Qualifier::neutral: return "?";
  }
  return "?";
}

std::string_view to_string(MechanismKind k) {
  switch (k) {
    case MechanismKind::all: return "all";
    case MechanismKind::include: return "include";
    case MechanismKind::a: return "a";
    case MechanismKind::mx: return "mx";
    case MechanismKind::ptr: return "ptr";
    case MechanismKind::ip4: return "ip4";
    case MechanismKind::ip6: return "ip6";
    case MechanismKind::exists: return "exists";
  }
  return "?";
}

bool is_spf_record(std::string_view txt) {
  constexpr std::string_view version = "v=spf1";
  if (txt.size() < version.size() || !iequals(txt.substr(0, version.size()), version)) return false;
  return txt.size() == version.size() || txt[version.size()] == ' ';
}

std::expected<void, RecordError> check_domain_spec(std::string_view spec) {
  if (spec.empty()) return error("empty domain-spec");
  if (auto ok = check_macro_string(spec, MacroKind::domain_spec); !ok) return std::unexpected(ok.error());
  // domain-end: a macro-expand at the very end ("%{...}", "%%", "%_", "%-";
  // the macro syntax is already known to be valid) ...
  bool ends_in_expand = false;
  for (std::size_t i = 0; i < spec.size();) {
    if (spec[i] != '%') {
      ends_in_expand = false;
      ++i;
      continue;
    }
    ends_in_expand = true;
    if (i + 1 < spec.size() && spec[i + 1] == '{') {
      auto close = spec.find('}', i);
      i = close == std::string_view::npos ? spec.size() : close + 1;
    } else {
      i += 2;
    }
  }
  if (ends_in_expand) return {};
  // ... or "." toplabel [ "." ].
  std::string_view s = spec;
  if (s.ends_with('.')) s.remove_suffix(1);
  auto dot = s.rfind('.');
  if (dot == std::string_view::npos)
    return error(fmt::format("domain-spec \"{}\" does not end in a dot and a top-level label", log_escape(spec)));
  if (!is_toplabel(s.substr(dot + 1)))
    return error(fmt::format("domain-spec \"{}\" has an invalid top-level label", log_escape(spec)));
  return {};
}

std::expected<Record, RecordError> parse_record(std::string_view text) {
  if (!is_spf_record(text)) return error("not an SPF record (no \"v=spf1\" version)");
  // §3.1 / §4.6.1: a record is 7-bit text whose terms are separated by SP;
  // any other byte (TAB, CR, LF, NUL, non-ASCII) is a syntax error.
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e)
      return error(fmt::format("record contains the byte {} (only printable ASCII is allowed)", log_escape({&c, 1})));
  }
  Record record;
  std::size_t pos = 6;
  while (pos < text.size()) {
    // terms = *( 1*SP ( directive / modifier ) ); record ends with *SP.
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos >= text.size()) break;
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view term = text.substr(pos, end - pos);
    pos = end;

    // A modifier is name "=" ...; a name starts with a letter (§12). The
    // name runs to the first character that cannot be in a name: if that is
    // "=", this is a modifier, else a mechanism (so "a:x=y" is a mechanism).
    std::size_t n = 0;
    while (n < term.size() && is_name_char(term[n])) ++n;
    if (n < term.size() && term[n] == '=') {
      std::string name = to_lower(term.substr(0, n));
      std::string_view value = term.substr(n + 1);
      if (name.empty() || !is_alpha(name.front()))
        return error(fmt::format("invalid modifier name in \"{}\"", log_escape(term)));
      if (name == "redirect" || name == "exp") {
        // §6: "These two modifiers MUST NOT appear in a record more than once
        // each. If they do, then check_host() exits with a result of PermError."
        auto& slot = name == "redirect" ? record.redirect : record.explanation;
        if (slot) return error(fmt::format("more than one {}= modifier", name));
        // §6.1, §6.2: redirect/exp = name "=" domain-spec. The erratum to
        // §6.2 makes an empty exp= a syntax error too.
        if (auto ok = check_domain_spec(value); !ok)
          return error(fmt::format("{} in \"{}\"", ok.error(), log_escape(term)));
        slot = std::string(value);
      } else {
        // §6: unknown-modifier = name "=" macro-string; ignored, but its
        // macro syntax must be valid (§A).
        if (auto ok = check_macro_string(value, MacroKind::unknown_modifier); !ok)
          return error(fmt::format("{} in \"{}\"", ok.error(), log_escape(term)));
        record.unknown_modifiers.push_back({name, std::string(value)});
      }
      continue;
    }
    auto m = parse_mechanism(term);
    if (!m) return std::unexpected(m.error());
    record.mechanisms.push_back(std::move(*m));
  }
  return record;
}

}  // namespace tern::spf
