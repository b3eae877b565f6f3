#include "formats/encoded_word.hpp"

#include <algorithm>

#include "base/base64.hpp"
#include "base/strings.hpp"

namespace tern {
namespace {

constexpr std::string_view word_prefix = "=?utf-8?B?";
constexpr std::string_view word_suffix = "?=";
constexpr std::size_t max_word = 75;  // RFC 2047 §2
// A plain word longer than this is encoded instead, so that "Name: word"
// still fits in 78 octets for the usual header names.
constexpr std::size_t max_plain_word = 64;
// Past this an atom is encoded, only so that a line stays within 998 octets.
constexpr std::size_t max_atom = 900;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 5322 §3.2.3 atext, ASCII only: non-ASCII display names are encoded.
bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Length of the UTF-8 sequence that starts with `lead` (1 for a stray byte,
// so a caller walking invalid text still moves forward).
std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  return 1;
}

// Can the text be written as it is, folded at its own whitespace, and read
// back identically? Readers strip leading whitespace of a field body, and
// "=?" could be taken for the start of an encoded word.
bool can_stay_plain(std::string_view text) {
  if (text.empty()) return true;
  if (is_wsp(text.front()) || is_wsp(text.back())) return false;
  if (text.find("=?") != std::string_view::npos) return false;
  std::size_t run = 0;
  bool in_space = false;
  for (unsigned char c : text) {
    const bool space = c == ' ';
    if (!space && (c < 0x21 || c > 0x7e)) return false;  // TAB too: some readers turn it into a space
    run = space == in_space ? run + 1 : 1;
    in_space = space;
    if (run > max_plain_word) return false;
  }
  return true;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// The words of `s`, each with the whitespace before it: where it may fold.
struct Word {
  std::string_view space, text;
};
std::vector<Word> split_words(std::string_view s) {
  std::vector<Word> out;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t w = i;
    while (w < s.size() && is_wsp(s[w])) ++w;
    std::size_t e = w;
    while (e < s.size() && !is_wsp(s[e])) ++e;
    out.push_back({s.substr(i, w - i), s.substr(w, e - w)});
    i = e;
  }
  return out;
}

bool is_atom(std::string_view w) {
  if (w.empty() || w.size() > max_atom || w.find("=?") != std::string_view::npos) return false;
  for (unsigned char c : w)
    if (!is_atext(c)) return false;
  return true;
}

// A display name as the folder takes it: plain pieces (atoms, or a quoted
// string cut at its own whitespace) and runs of text to encode.
struct NamePiece {
  std::string space, text;
  bool encode = false;
};

std::vector<NamePiece> display_name_pieces(std::string_view name) {
  std::vector<NamePiece> out;
  bool ascii = true;
  for (unsigned char c : name) ascii = ascii && ((c >= 0x20 && c < 0x7f) || c == '\t');
  const bool single_spaced = !name.empty() && name.front() != ' ' && name.back() != ' ' &&
                             name.find("  ") == std::string_view::npos && name.find('\t') == std::string_view::npos;
  std::vector<std::string_view> words;
  for (const auto& w : split_words(name)) words.push_back(w.text);
  if (ascii && name.find("=?") == std::string_view::npos) {
    // A phrase of atoms reads back as written; anything with specials or
    // unusual spacing is a quoted string (RFC 5322 §3.2.4, §3.2.5), which
    // may fold at its own whitespace like any FWS.
    if (single_spaced && std::all_of(words.begin(), words.end(), is_atom)) {
      for (auto w : words) out.push_back({" ", std::string(w), false});
      return out;
    }
    const std::string quoted = quote(name);
    for (const auto& w : split_words(quoted)) {
      if (w.text.size() > max_atom) return {{" ", std::string(name), true}};  // would pass 998 octets
      out.push_back({out.empty() ? " " : std::string(w.space), std::string(w.text), false});
    }
    return out;
  }
  // Encoded words (RFC 2047 §5(3)). Readers agree on whitespace next to an
  // encoded word but not between two (§6.2 says drop it; Python keeps it in
  // phrases, and collapses runs inside them), so ASCII words stay atoms or
  // quoted strings and the others share as few encoded words as possible.
  if (!single_spaced) return {{" ", std::string(name), true}};
  for (auto w : words) {
    bool ascii_word = w.size() <= max_atom && w.find("=?") == std::string_view::npos;
    for (unsigned char c : w) ascii_word = ascii_word && c >= 0x21 && c < 0x7f;
    if (is_atom(w)) out.push_back({" ", std::string(w), false});
    else if (ascii_word) out.push_back({" ", quote(w), false});
    else if (!out.empty() && out.back().encode) out.back().text += " " + std::string(w);
    else out.push_back({" ", std::string(w), true});
  }
  return out;
}

void add_display_name(HeaderFolder& f, std::string_view name) {
  for (const auto& piece : display_name_pieces(name)) {
    if (piece.encode) f.add_encoded(piece.text, true);
    else f.add(piece.text, piece.space);
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// One RFC 2047 §2 encoded word, decoded; nullopt when `word` is not one we
// can decode.
std::optional<std::string> decode_word(std::string_view word) {
  if (word.size() < 8 || !word.starts_with("=?") || !word.ends_with("?=")) return std::nullopt;
  std::string_view inner = word.substr(2, word.size() - 4);
  const auto q1 = inner.find('?');
  if (q1 == std::string_view::npos || q1 + 2 >= inner.size() || inner[q1 + 2] != '?') return std::nullopt;
  std::string_view charset = inner.substr(0, q1);
  if (auto star = charset.find('*'); star != std::string_view::npos) charset = charset.substr(0, star);  // RFC 2231 §5
  const char encoding = inner[q1 + 1];
  std::string_view text = inner.substr(q1 + 3);
  if (!iequals(charset, "utf-8") && !iequals(charset, "us-ascii")) return std::nullopt;
  if (text.find('?') != std::string_view::npos) return std::nullopt;
  std::string out;
  if (encoding == 'B' || encoding == 'b') {
    auto decoded = base64_decode(text);
    if (!decoded) return std::nullopt;
    out = std::move(*decoded);
  } else if (encoding == 'Q' || encoding == 'q') {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '_') {
        out += ' ';  // RFC 2047 §4.2 (2)
      } else if (text[i] == '=') {
        if (i + 2 >= text.size()) return std::nullopt;
        const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
      } else {
        out += text[i];
      }
    }
  } else {
    return std::nullopt;
  }
  if (!is_valid_utf8(out)) return std::nullopt;
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = sequence_length(lead);
    if (n == 1 || i + n > s.size()) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    // The second byte's range excludes overlong forms, surrogates and values
    // above U+10FFFF (RFC 3629 §4).
    unsigned char lo = 0x80, hi = 0xbf;
    if (lead == 0xe0) lo = 0xa0;
    if (lead == 0xed) hi = 0x9f;
    if (lead == 0xf0) lo = 0x90;
    if (lead == 0xf4) hi = 0x8f;
    if (second < lo || second > hi) return false;
    for (std::size_t k = 2; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

std::optional<std::string> header_text_problem(std::string_view text) {
  for (unsigned char c : text) {
    if (c == '\r' || c == '\n') return "contains a line break (header injection)";
    if ((c < 0x20 && c != '\t') || c == 0x7f) return "contains a control character";
  }
  if (!is_valid_utf8(text)) return "is not valid UTF-8";
  return std::nullopt;
}

std::vector<std::string> encode_words(std::string_view text, std::size_t first_limit, std::size_t limit) {
  // The largest whole number of base64 quanta that fits, in input octets.
  auto capacity = [](std::size_t word_limit) {
    const std::size_t overhead = word_prefix.size() + word_suffix.size();
    const std::size_t octets = word_limit > overhead ? (word_limit - overhead) / 4 * 3 : 0;
    return octets >= 4 ? octets : (max_word - overhead) / 4 * 3;  // room for any character
  };
  std::vector<std::string> words;
  std::size_t room = capacity(std::min(first_limit, max_word));
  const std::size_t next_room = capacity(std::min(limit, max_word));
  std::size_t start = 0, end = 0;
  auto flush = [&] {
    words.push_back(std::string(word_prefix) + base64_encode(text.substr(start, end - start)) +
                    std::string(word_suffix));
    start = end;
    room = next_room;
  };
  while (end < text.size()) {
    const std::size_t n = std::min(sequence_length(static_cast<unsigned char>(text[end])), text.size() - end);
    if (end + n - start > room) flush();
    end += n;
  }
  if (end > start) flush();
  return words;
}

std::string decode_encoded_words(std::string_view value) {
  std::string unfolded;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
      ++i;
      continue;
    }
    unfolded += value[i];
  }
  std::string out, space;
  bool previous_encoded = false;
  std::string_view s = unfolded;
  for (std::size_t i = 0; i < s.size();) {
    if (is_wsp(s[i])) {
      space += s[i++];
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !is_wsp(s[j])) ++j;
    const auto word = s.substr(i, j - i);
    if (auto decoded = decode_word(word)) {
      if (!previous_encoded) out += space;  // RFC 2047 §6.2
      out += *decoded;
      previous_encoded = true;
    } else {
      out += space;
      out += word;
      previous_encoded = false;
    }
    space.clear();
    i = j;
  }
  return out + space;
}

HeaderFolder::HeaderFolder(std::string_view name) : out_(name) { out_ += ':'; }

void HeaderFolder::add(std::string_view token, std::string_view space) { add_token(token, space, false); }

void HeaderFolder::add_token(std::string_view token, std::string_view space, bool may_fold_first) {
  // RFC 5322 §2.2.3: fold by putting a CRLF before whitespace.
  // Not before trailing whitespace either: no line may be only whitespace.
  if (!space.empty() && !token.empty() && (has_token_ || may_fold_first) &&
      column() + space.size() + token.size() > line_limit) {
    out_ += "\r\n";
    line_start_ = out_.size();
  }
  out_ += space;
  out_ += token;
  has_token_ = true;
}

void HeaderFolder::add_encoded(std::string_view text, bool fewest_words) {
  // Fill the current line when at least a short word fits there; otherwise
  // the first word starts a new line like the others.
  const std::size_t used = column() + 1;
  const std::size_t room = used < line_limit ? line_limit - used : 0;
  auto words = encode_words(text, room >= 20 ? room : max_word);
  // In a phrase, filling the line must not cost an extra word: readers
  // disagree on the space between two (see format_display_name). The first
  // word then goes on a new line, even right after the colon (the phrase may
  // start with FWS, RFC 5322 §3.2.5).
  bool fold_first = false;
  if (fewest_words && room < max_word) {
    auto fewer = encode_words(text);
    if (fewer.size() < words.size()) {
      words = std::move(fewer);
      fold_first = true;
    }
  }
  for (std::size_t i = 0; i < words.size(); ++i) add_token(words[i], " ", i == 0 && fold_first);
}

std::string HeaderFolder::finish() && {
  out_ += "\r\n";
  return std::move(out_);
}

std::string fold_field(std::string_view name, std::string_view text) {
  HeaderFolder f(name);
  // Each word keeps the whitespace before it, so unfolding gives the text
  // back; the first also gets the customary space after the colon.
  bool first = true;
  for (const auto& w : split_words(text)) {
    f.add(w.text, first ? " " + std::string(w.space) : std::string(w.space));
    first = false;
  }
  return std::move(f).finish();
}

std::string format_unstructured_field(std::string_view name, std::string_view text) {
  if (can_stay_plain(text)) return fold_field(name, text);
  HeaderFolder f(name);
  f.add_encoded(text);
  return std::move(f).finish();
}

std::optional<NamedAddress> parse_named_address(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (!text.ends_with('>')) {
    if (text.find('<') != std::string_view::npos) return std::nullopt;
    return NamedAddress{"", std::string(text)};
  }
  const auto open = text.rfind('<');
  if (open == std::string_view::npos) return std::nullopt;
  NamedAddress out;
  out.address = std::string(trim(text.substr(open + 1, text.size() - open - 2)));
  std::string_view name = trim(text.substr(0, open));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '\\' && i + 1 < name.size()) ++i;
      out.name += name[i];
    }
  } else {
    out.name = std::string(name);
  }
  return out;
}

std::string format_display_name(std::string_view name) {
  std::string out;
  for (const auto& piece : display_name_pieces(name)) {
    if (!out.empty()) out += piece.space;
    if (!piece.encode) {
      out += piece.text;
      continue;
    }
    const auto words = encode_words(piece.text);
    for (std::size_t i = 0; i < words.size(); ++i) out += (i ? " " : "") + words[i];
  }
  return out;
}

std::string format_address_field(std::string_view name, std::span<const NamedAddress> list) {
  HeaderFolder f(name);
  if (list.empty()) f.add("undisclosed-recipients:;");
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].name.empty()) add_display_name(f, list[i].name);
    std::string token = list[i].name.empty() ? list[i].address : "<" + list[i].address + ">";
    if (i + 1 < list.size()) token += ',';
    f.add(token);
  }
  return std::move(f).finish();
}

}  // namespace tern
