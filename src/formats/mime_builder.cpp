#include "formats/mime_builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <random>
#include <tuple>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "formats/mail_address.hpp"
#include "formats/quoted_printable.hpp"
#include "formats/received_header.hpp"

namespace tern {
namespace {

// RFC 5322 §2.1.1: lines SHOULD stay within 78 octets and MUST within 998.
constexpr std::size_t max_line_7bit = 78;
constexpr std::size_t max_line = 998;
// Tries at a boundary absent from the content: with ~166 random bits each,
// running out means the random source is broken, not bad luck.
constexpr int boundary_attempts = 100;

std::unexpected<Error> refuse(std::string message) {
  return std::unexpected(Error::permanent_failure(message, message));
}

// What the user gave, quoted for an error message (escaped, cut short).
std::string shown(std::string_view value) { return fmt::format("\"{}\"", log_escape(value, 80)); }

class Randomness {
 public:
  explicit Randomness(const std::function<std::uint64_t()>& source) : source_(source) {}
  std::uint64_t next() {
    if (source_) return source_();
    std::random_device device;
    return static_cast<std::uint64_t>(device()) << 32 | device();
  }
  // `n` characters of [0-9A-Za-z]: about 5.95 bits each.
  std::string token(std::size_t n) {
    static constexpr std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string out;
    while (out.size() < n) {
      std::uint64_t v = next();
      for (int k = 0; k < 10 && out.size() < n; ++k, v /= alphabet.size()) out += alphabet[v % alphabet.size()];
    }
    return out;
  }

 private:
  const std::function<std::uint64_t()>& source_;
};

// A MIME entity: its Content-* fields (folded, CRLF) and its encoded body.
struct Part {
  std::string headers;
  std::string body;
  bool eight_bit = false;
  std::string serialized() const { return headers + "\r\n" + body; }
};

// RFC 2045 §5.1 token: printable ASCII but space and tspecials.
bool is_token(std::string_view t) {
  if (t.empty()) return false;
  for (unsigned char c : t)
    if (c <= 32 || c >= 127 || std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  return true;
}

// RFC 5322 §3.6.4 msg-id, with or without its angle brackets. Real ids are
// messier than dot-atoms: any printable ASCII but brackets, with an "@".
std::optional<std::string> normalize_msg_id(std::string_view id) {
  id = trim(id);
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  const auto at = id.rfind('@');
  if (id.empty() || id.size() > 250 || at == std::string_view::npos || at == 0 || at + 1 == id.size())
    return std::nullopt;
  for (unsigned char c : id)
    if (c <= 32 || c >= 127 || c == '<' || c == '>') return std::nullopt;
  return "<" + std::string(id) + ">";
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  if (h.front() == '[') return h.size() > 2 && h.back() == ']' && h.find_first_of(" []\\", 1) == h.size() - 1;
  for (unsigned char c : h)
    if (!std::isalnum(c) && c != '-' && c != '.') return false;
  return h.front() != '.' && h.back() != '.';
}

// Fields the builder writes itself; an extra header must not repeat them.
bool is_reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 11> reserved = {
      "date", "from", "to", "cc", "bcc", "reply-to", "subject", "message-id", "in-reply-to", "references",
      "mime-version"};
  for (auto r : reserved)
    if (iequals(name, r)) return true;
  return istarts_with(name, "content-");
}

std::optional<std::string> check_text(std::string_view what, std::string_view value) {
  if (auto problem = header_text_problem(value)) return fmt::format("{} {}", what, *problem);
  return std::nullopt;
}

Result<MailAddress> check_mailbox(std::string_view what, const NamedAddress& a) {
  if (auto problem = check_text(fmt::format("the display name of {}", what), a.name)) return refuse(*problem);
  if (auto problem = check_text(fmt::format("the address of {}", what), a.address)) return refuse(*problem);
  auto parsed = parse_mailbox(a.address);
  if (!parsed) return refuse(fmt::format("{}: {} is not a valid address (local@domain)", what, shown(a.address)));
  return *parsed;
}

Part text_part(std::string_view subtype, std::string_view text, bool allow_8bit) {
  std::string canonical = canonical_line_ends(text);
  // Every line of a message ends in CRLF (RFC 5322 §2.1); so does the text.
  if (!canonical.empty() && !canonical.ends_with("\r\n")) canonical += "\r\n";
  const auto encoding = choose_text_encoding(canonical, allow_8bit);
  Part p;
  p.headers = fmt::format("Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: {}\r\n", subtype,
                          to_string(encoding));
  p.body = encoding == TransferEncoding::quoted_printable ? qp_encode(canonical) : std::move(canonical);
  p.eight_bit = encoding == TransferEncoding::eight_bit;
  return p;
}

// "Name: value; p1=...; p2=..." folded between parameters.
std::string parameter_field(std::string_view name, std::string_view value,
                            const std::vector<std::vector<std::string>>& params) {
  HeaderFolder f(name);
  std::vector<std::string> tokens{std::string(value)};
  for (const auto& p : params) tokens.insert(tokens.end(), p.begin(), p.end());
  for (std::size_t i = 0; i < tokens.size(); ++i) f.add(i + 1 < tokens.size() ? tokens[i] + ";" : tokens[i]);
  return std::move(f).finish();
}

Part attachment_part(const Attachment& a, std::string_view content_type) {
  Part p;
  p.headers = parameter_field("Content-Type", content_type, {mime_parameter("name", a.filename)});
  p.headers += parameter_field("Content-Disposition", "attachment", {mime_parameter("filename", a.filename)});
  p.headers += "Content-Transfer-Encoding: base64\r\n";
  p.body = base64_lines(a.data);
  return p;
}

// RFC 2046 §5.1.1: the boundary must not occur in the encapsulated parts,
// so a random one is checked against them and drawn again if it does.
Result<Part> multipart(std::string_view subtype, const std::vector<Part>& parts, Randomness& random,
                       bool top_level) {
  std::vector<std::string> bodies;
  bool eight_bit = false;
  for (const auto& p : parts) {
    bodies.push_back(p.serialized());
    eight_bit = eight_bit || p.eight_bit;
  }
  std::string boundary;
  for (int attempt = 0;; ++attempt) {
    if (attempt == boundary_attempts) return refuse("no MIME boundary absent from the content (broken random source)");
    // "=_" cannot occur in quoted-printable or base64 text.
    boundary = "=_tern_" + random.token(28);
    bool clash = false;
    for (const auto& b : bodies) clash = clash || b.find(boundary) != std::string::npos;
    if (!clash) break;
  }
  Part out;
  out.eight_bit = eight_bit;
  out.headers = fmt::format("Content-Type: multipart/{};\r\n boundary=\"{}\"\r\n", subtype, boundary);
  // RFC 2045 §6.4: a multipart is 7bit (the default) unless a part is 8bit.
  if (eight_bit) out.headers += "Content-Transfer-Encoding: 8bit\r\n";
  // The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1).
  if (top_level) out.body = "This is a multi-part message in MIME format.\r\n";
  for (const auto& b : bodies) out.body += fmt::format("{}--{}\r\n{}", out.body.empty() ? "" : "\r\n", boundary, b);
  out.body += fmt::format("\r\n--{}--\r\n", boundary);
  return out;
}

// RFC 2231 §7 attribute-char: what may stay unencoded in an extended value.
bool is_attribute_char(char c) { return is_token(std::string_view(&c, 1)) && c != '*' && c != '\'' && c != '%'; }

}  // namespace

std::string_view to_string(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::seven_bit: return "7bit";
    case TransferEncoding::eight_bit: return "8bit";
    case TransferEncoding::quoted_printable: return "quoted-printable";
    case TransferEncoding::base64: return "base64";
  }
  return "7bit";
}

std::string canonical_line_ends(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

TransferEncoding choose_text_encoding(std::string_view text, bool allow_8bit) {
  bool ascii = true, controls = false, trailing_space = false;
  std::size_t longest = 0;
  for (std::size_t start = 0; start < text.size();) {
    auto end = text.find("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(start, end - start);
    longest = std::max(longest, line.size());
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) trailing_space = true;
    for (unsigned char c : line) {
      if (c >= 0x80) ascii = false;
      else if ((c < 0x20 && c != '\t') || c == 0x7f) controls = true;  // NUL, lone CR/LF, ...
    }
    start = end + 2;
  }
  if (controls || trailing_space) return TransferEncoding::quoted_printable;
  if (ascii && longest <= max_line_7bit) return TransferEncoding::seven_bit;
  if (allow_8bit && longest <= max_line) return TransferEncoding::eight_bit;
  return TransferEncoding::quoted_printable;
}

std::string base64_lines(std::string_view data) {
  const std::string encoded = base64_encode(data);
  std::string out;
  out.reserve(encoded.size() + encoded.size() / 76 * 2 + 2);
  for (std::size_t i = 0; i < encoded.size(); i += 76) {
    out.append(encoded, i, 76);
    out += "\r\n";
  }
  return out;
}

std::vector<std::string> mime_parameter(std::string_view name, std::string_view value) {
  bool printable = true;
  for (unsigned char c : value) printable = printable && c >= 0x20 && c <= 0x7e;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';  // RFC 2045 §5.1 quoted-string (RFC 822)
    quoted += c;
  }
  quoted += '"';
  // Short enough for " name=...;" to fit on a folded line.
  constexpr std::size_t max_token = 72;
  if (printable && name.size() + 1 + quoted.size() <= max_token) return {fmt::format("{}={}", name, quoted)};

  // RFC 2231 §4: charset''percent-encoded octets. Chunks end on character
  // boundaries so each continuation (§3) also decodes on its own.
  std::vector<std::string> chars;
  for (std::size_t i = 0; i < value.size();) {
    const auto lead = static_cast<unsigned char>(value[i]);
    std::size_t n = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    n = std::min(n, value.size() - i);
    std::string piece;
    for (std::size_t k = 0; k < n; ++k) {
      const auto c = static_cast<unsigned char>(value[i + k]);
      piece += is_attribute_char(static_cast<char>(c)) ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
    }
    chars.push_back(std::move(piece));
    i += n;
  }
  std::string whole;
  for (const auto& c : chars) whole += c;
  std::string single = fmt::format("{}*=utf-8''{}", name, whole);
  if (single.size() <= max_token) return {std::move(single)};
  std::vector<std::string> out;
  std::string current = fmt::format("{}*0*=utf-8''", name);
  std::size_t in_current = 0;  // characters in this continuation
  for (const auto& c : chars) {
    if (in_current > 0 && current.size() + c.size() > max_token) {
      out.push_back(std::move(current));
      current = fmt::format("{}*{}*=", name, out.size());
      in_current = 0;
    }
    current += c;
    ++in_current;
  }
  out.push_back(std::move(current));
  return out;
}

std::string_view guess_content_type(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 41> table = {{
      {"txt", "text/plain"}, {"text", "text/plain"}, {"log", "text/plain"}, {"md", "text/markdown"},
      {"htm", "text/html"}, {"html", "text/html"}, {"css", "text/css"}, {"csv", "text/csv"},
      {"ics", "text/calendar"}, {"xml", "application/xml"}, {"json", "application/json"},
      {"js", "text/javascript"}, {"pdf", "application/pdf"}, {"zip", "application/zip"},
      {"gz", "application/gzip"}, {"tgz", "application/gzip"}, {"tar", "application/x-tar"},
      {"7z", "application/x-7z-compressed"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"}, {"svg", "image/svg+xml"},
      {"bmp", "image/bmp"}, {"tif", "image/tiff"}, {"tiff", "image/tiff"}, {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"}, {"ogg", "audio/ogg"}, {"mp4", "video/mp4"}, {"webm", "video/webm"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"odt", "application/vnd.oasis.opendocument.text"}, {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"rtf", "application/rtf"},
  }};
  const auto dot = filename.rfind('.');
  if (dot != std::string_view::npos) {
    const auto ext = filename.substr(dot + 1);
    for (const auto& [e, type] : table)
      if (iequals(ext, e)) return type;
  }
  return "application/octet-stream";
}

Result<BuiltMessage> build_message(const MessageDraft& d, const BuildOptions& options) {
  BuiltMessage out;

  // --- Addresses: every one checked, recipients deduplicated for the envelope.
  if (d.from.address.empty()) return refuse("no From address");
  auto from = check_mailbox("From", d.from);
  if (!from) return std::unexpected(from.error());
  out.envelope_from = from->to_string();
  out.needs_smtputf8 = from->needs_smtputf8();
  std::vector<std::string> seen;
  auto check_list = [&](std::string_view field, const std::vector<NamedAddress>& list,
                        bool envelope) -> std::optional<Error> {
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto a = check_mailbox(list.size() == 1 ? std::string(field) : fmt::format("{} address {}", field, i + 1),
                             list[i]);
      if (!a) return a.error();
      out.needs_smtputf8 = out.needs_smtputf8 || a->needs_smtputf8();
      if (!envelope) continue;
      auto key = a->lookup_key();
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(std::move(key));
      out.envelope_to.push_back(a->to_string());
    }
    return std::nullopt;
  };
  for (auto [field, list, envelope] : {std::tuple{"To", &d.to, true}, std::tuple{"Cc", &d.cc, true},
                                       std::tuple{"Bcc", &d.bcc, true}, std::tuple{"Reply-To", &d.reply_to, false}})
    if (auto e = check_list(field, *list, envelope)) return std::unexpected(*e);
  if (out.envelope_to.empty()) return refuse("no recipients (To, Cc or Bcc)");

  // --- Other header inputs.
  if (auto problem = check_text("the subject", d.subject)) return refuse(*problem);
  std::string in_reply_to;
  if (!d.in_reply_to.empty()) {
    if (auto problem = check_text("In-Reply-To", d.in_reply_to)) return refuse(*problem);
    auto id = normalize_msg_id(d.in_reply_to);
    if (!id) return refuse(fmt::format("In-Reply-To: {} is not a message id (<left@right>)", shown(d.in_reply_to)));
    in_reply_to = *id;
  }
  std::vector<std::string> references;
  for (const auto& r : d.references) {
    if (auto problem = check_text("References", r)) return refuse(*problem);
    auto id = normalize_msg_id(r);
    if (!id) return refuse(fmt::format("References: {} is not a message id (<left@right>)", shown(r)));
    references.push_back(*id);
  }
  std::string extra;
  for (const auto& [name, value] : d.extra_headers) {
    bool name_ok = !name.empty() && name.size() <= 76;
    for (unsigned char c : name) name_ok = name_ok && c > 32 && c < 127 && c != ':';  // RFC 5322 §3.6.8 ftext
    if (!name_ok) return refuse(fmt::format("{} is not a valid header field name", shown(name)));
    if (is_reserved_header(name)) return refuse(fmt::format("the {} header is written by the builder", name));
    if (auto problem = check_text(fmt::format("the {} header", name), value)) return refuse(*problem);
    // Printable ASCII goes out as given (it may be structured: a URL, a list
    // of ids); anything else is unstructured text in encoded words.
    bool printable = true;
    for (unsigned char c : value) printable = printable && c >= 0x20 && c < 0x7f;
    const std::string field = printable ? fold_field(name, value) : format_unstructured_field(name, value);
    for (std::size_t start = 0; start < field.size();) {
      const auto end = field.find("\r\n", start);
      if (end - start > max_line) return refuse(fmt::format("the {} header has a word longer than 998 octets", name));
      start = end + 2;
    }
    extra += field;
  }
  std::string hostname = options.hostname.empty() ? from->domain : options.hostname;
  if (!valid_hostname(hostname)) return refuse(fmt::format("{} is not a valid host name for the Message-ID", shown(hostname)));

  // --- Body inputs.
  if (d.text && !is_valid_utf8(*d.text)) return refuse("the text body is not valid UTF-8");
  if (d.html && !is_valid_utf8(*d.html)) return refuse("the HTML body is not valid UTF-8");
  std::vector<std::string> content_types;
  for (std::size_t i = 0; i < d.attachments.size(); ++i) {
    const auto& a = d.attachments[i];
    const std::string what = fmt::format("attachment {}", i + 1);
    if (a.filename.empty()) return refuse(fmt::format("{} has no file name", what));
    if (auto problem = check_text(fmt::format("the file name of {}", what), a.filename)) return refuse(*problem);
    std::string type = to_lower(a.content_type.empty() ? guess_content_type(a.filename) : trim(a.content_type));
    const auto slash = type.find('/');
    if (slash == std::string::npos || !is_token(type.substr(0, slash)) || !is_token(type.substr(slash + 1)))
      return refuse(fmt::format("{}: {} is not a content type (type/subtype)", what, shown(a.content_type)));
    // RFC 2046 §5.1.1, §5.2.1: multipart and message/* may not be base64.
    if (type.starts_with("multipart/") || type.starts_with("message/"))
      return refuse(fmt::format("{}: {} cannot be sent as a base64 attachment", what, type));
    content_types.push_back(std::move(type));
  }

  // --- Structure: text → text/plain; text+HTML → multipart/alternative (the
  // preferred last, RFC 2046 §5.1.4); attachments → multipart/mixed.
  Randomness random(options.random);
  std::vector<Part> bodies;
  if (d.text) bodies.push_back(text_part("plain", *d.text, options.allow_8bit));
  if (d.html) bodies.push_back(text_part("html", *d.html, options.allow_8bit));
  if (bodies.empty() && d.attachments.empty()) bodies.push_back(text_part("plain", "", options.allow_8bit));
  Part entity;
  if (bodies.size() == 2) {
    auto alternative = multipart("alternative", bodies, random, d.attachments.empty());
    if (!alternative) return std::unexpected(alternative.error());
    bodies = {std::move(*alternative)};
  }
  if (!d.attachments.empty()) {
    for (std::size_t i = 0; i < d.attachments.size(); ++i) bodies.push_back(attachment_part(d.attachments[i], content_types[i]));
    auto mixed = multipart("mixed", bodies, random, true);
    if (!mixed) return std::unexpected(mixed.error());
    entity = std::move(*mixed);
  } else {
    entity = std::move(bodies.front());
  }
  out.body_8bit = entity.eight_bit;

  // --- Header section, RFC 5322 §3.6 (the order is the customary one).
  out.message_id = fmt::format("<{}@{}>", random.token(26), hostname);
  std::string& m = out.data;
  m += fmt::format("Date: {}\r\n", rfc5322_date(options.date));
  m += format_address_field("From", std::span(&d.from, 1));
  // §3.6.3: with only Bcc recipients, To names an empty group.
  if (!d.to.empty() || d.cc.empty()) m += format_address_field("To", d.to);
  if (!d.cc.empty()) m += format_address_field("Cc", d.cc);
  if (!d.reply_to.empty()) m += format_address_field("Reply-To", d.reply_to);
  if (!d.subject.empty()) m += format_unstructured_field("Subject", d.subject);
  m += fmt::format("Message-ID: {}\r\n", out.message_id);
  if (!in_reply_to.empty()) m += fmt::format("In-Reply-To: {}\r\n", in_reply_to);
  if (!references.empty()) {
    HeaderFolder f("References");
    for (const auto& r : references) f.add(r);
    m += std::move(f).finish();
  }
  m += extra;
  m += "MIME-Version: 1.0\r\n";
  m += entity.serialized();
  return out;
}

}  // namespace tern
