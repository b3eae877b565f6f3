// Public Suffix List parsing and lookup, and the Punycode encoder (RFC 3492)
// that turns the list's Unicode rules into A-labels. Pure, no I/O.
#include "services/dmarc/public_suffix.hpp"

#include <cstdint>
#include <vector>

#include "base/strings.hpp"

namespace tern::dmarc {
namespace {

// RFC 3492 §5 parameters for Punycode.
constexpr std::uint64_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700;
constexpr std::uint64_t kInitialBias = 72, kInitialN = 128;
// RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 in text.
// Longer input is not a domain name (and would make lookups quadratic).
constexpr std::size_t kMaxName = 253;

char encode_digit(std::uint64_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); }

// RFC 3492 §6.1.
std::uint64_t adapt(std::uint64_t delta, std::uint64_t num_points, bool first) {
  delta = first ? delta / kDamp : delta / 2;
  delta += delta / num_points;
  std::uint64_t k = 0;
  while (delta > ((kBase - kTmin) * kTmax) / 2) {
    delta /= kBase - kTmin;
    k += kBase;
  }
  return k + (((kBase - kTmin + 1) * delta) / (delta + kSkew));
}

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
std::optional<std::u32string> decode_utf8(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return std::nullopt;
    char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1f) : len == 3 ? (b0 & 0x0f) : (b0 & 0x07);
    for (std::size_t j = 1; j < len; ++j) {
      auto b = static_cast<unsigned char>(s[i + j]);
      if ((b >> 6) != 2) return std::nullopt;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::vector<std::string_view> labels_of(std::string_view name) {
  std::vector<std::string_view> out;
  for (;;) {
    auto dot = name.find('.');
    out.push_back(name.substr(0, dot));
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return out;
}

// The last `n` labels of a normalised name (n >= 1, n <= label count).
std::string last_labels(const std::string& name, std::size_t n) {
  std::size_t pos = name.size();
  for (std::size_t i = 0; i < n; ++i) {
    auto dot = pos == 0 ? std::string::npos : name.rfind('.', pos - 1);
    if (dot == std::string::npos) return name;
    if (i + 1 == n) return name.substr(dot + 1);
    pos = dot;
  }
  return name;
}

std::size_t label_count(const std::string& name) {
  std::size_t n = 1;
  for (char c : name) n += c == '.';
  return n;
}

}  // namespace

std::optional<std::string> punycode_encode(std::u32string_view input) {
  // Labels are at most 63 octets; the cap keeps every sum below far from
  // overflowing 64 bits (RFC 3492 §6.4 asks for overflow handling).
  if (input.size() > 255) return std::nullopt;
  std::string out;
  for (char32_t c : input)
    if (c < 0x80) out.push_back(static_cast<char>(c));
  const std::uint64_t b = out.size();
  std::uint64_t h = b;
  if (b > 0) out.push_back('-');
  std::uint64_t n = kInitialN, delta = 0, bias = kInitialBias;
  while (h < input.size()) {
    std::uint64_t m = UINT64_MAX;
    for (char32_t c : input)
      if (c >= n && c < m) m = c;
    delta += (m - n) * (h + 1);
    n = m;
    for (char32_t c : input) {
      if (c < n) ++delta;
      if (c == n) {
        std::uint64_t q = delta;
        for (std::uint64_t k = kBase;; k += kBase) {
          std::uint64_t t = k <= bias ? kTmin : k >= bias + kTmax ? kTmax : k - bias;
          if (q < t) break;
          out.push_back(encode_digit(t + (q - t) % (kBase - t)));
          q = (q - t) / (kBase - t);
        }
        out.push_back(encode_digit(q));
        bias = adapt(delta, h + 1, h == b);
        delta = 0;
        ++h;
      }
    }
    ++delta;
    ++n;
  }
  return out;
}

std::optional<std::string> to_a_label(std::string_view label) {
  bool ascii = true;
  for (char c : label) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return to_lower(label);
  auto cps = decode_utf8(label);
  if (!cps) return std::nullopt;
  for (char32_t& c : *cps)
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  auto encoded = punycode_encode(*cps);
  if (!encoded) return std::nullopt;
  return "xn--" + *encoded;
}

std::optional<std::string> normalize_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  bool first = true;
  if (name.empty()) return std::string();
  for (auto label : labels_of(name)) {
    if (label.empty()) return std::nullopt;  // "a..b", ".a": not a domain name
    auto a = to_a_label(label);
    if (!a) return std::nullopt;
    if (!first) out.push_back('.');
    first = false;
    out += *a;
  }
  return out;
}

PublicSuffixList PublicSuffixList::parse(std::string_view text, Sections sections) {
  PublicSuffixList list;
  bool in_private = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.starts_with("//")) {
      if (line.find("===BEGIN PRIVATE DOMAINS===") != std::string_view::npos) in_private = true;
      if (line.find("===END PRIVATE DOMAINS===") != std::string_view::npos) in_private = false;
      continue;
    }
    // "Each line is only read up to the first whitespace" (list format).
    auto ws = line.find_first_of(" \t\r");
    line = line.substr(0, ws);
    if (line.empty()) continue;
    if (in_private && sections == Sections::icann_only) continue;
    bool exception = false, wildcard = false;
    if (line.front() == '!') {
      exception = true;
      line.remove_prefix(1);
    } else if (line.starts_with("*.")) {
      wildcard = true;
      line.remove_prefix(2);
    }
    if (line.empty() || line.find('*') != std::string_view::npos) continue;
    auto rule = normalize_domain(line);
    if (!rule || rule->empty()) continue;
    (exception ? list.exception_ : wildcard ? list.wildcard_ : list.exact_).insert(std::move(*rule));
  }
  return list;
}

std::size_t PublicSuffixList::suffix_labels(const std::string& name) const {
  const std::size_t total = label_count(name);
  std::size_t best = 1;  // the default rule "*"
  for (std::size_t n = 1; n <= total; ++n) {
    std::string suffix = last_labels(name, n);
    // An exception rule prevails over every other rule; its public suffix
    // is the rule without its leftmost label.
    if (exception_.contains(suffix)) return n - 1;
    if (exact_.contains(suffix)) best = std::max(best, n);
    // "*.ck" matches one more label in front of "ck".
    if (n < total && wildcard_.contains(suffix)) best = std::max(best, n + 1);
  }
  return best;
}

std::string PublicSuffixList::public_suffix(std::string_view name) const {
  auto norm = normalize_domain(name);
  if (!norm || norm->empty() || norm->size() > kMaxName) return {};
  std::size_t n = suffix_labels(*norm);
  return n == 0 ? std::string() : last_labels(*norm, n);
}

std::string PublicSuffixList::organizational_domain(std::string_view name) const {
  auto norm = normalize_domain(name);
  if (!norm || norm->empty() || norm->size() > kMaxName) return {};
  std::size_t n = suffix_labels(*norm) + 1;
  // §3.2 step 4: the matched suffix plus the next label; a name with no
  // label left over is a public suffix itself and stands for itself.
  if (n > label_count(*norm)) return *norm;
  return last_labels(*norm, n);
}

}  // namespace tern::dmarc
