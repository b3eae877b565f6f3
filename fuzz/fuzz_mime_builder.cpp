// The MIME builder on arbitrary drafts, plus its encoders on arbitrary bytes.
// The input is one field per line, a key byte then the value, so seeds are
// readable (fuzz/corpus/fuzz_mime_builder/):
//   f from  t to  c cc  b bcc  r reply-to  ("Name <a@b>")
//   s subject  i in-reply-to  e references  h extra header ("Name:value")
//   x text line  m html line  a attachment name  y its type  d its data line
//   o options: '8' allows 8bit, 'z' a random source stuck at zero
// A 0x1E byte in a value stands for LF, so values can try header injection.
//
// A built message must: end in CRLF with no bare CR or LF and no line over
// 998 octets; have only the header fields the builder writes (no injected
// one, no Bcc); keep encoded words within 75 octets; give the subject back
// when decoded; contain each boundary only where it delimits; and name each
// envelope recipient once. The encoders must round-trip.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.hpp"
#include "formats/encoded_word.hpp"
#include "formats/mail_address.hpp"
#include "formats/mime_builder.hpp"
#include "formats/quoted_printable.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace tern;

NamedAddress mailbox(const std::string& v) {
  auto parsed = parse_named_address(v);
  return parsed ? *parsed : NamedAddress{"", v};
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// The unfolded value of the first field `name` in the header section.
std::string field_value(std::string_view headers, std::string_view name) {
  const std::string prefix = std::string(name) + ":";
  std::size_t start = 0;
  while (start < headers.size()) {
    auto end = headers.find("\r\n", start);
    if (headers.substr(start, prefix.size()) == prefix) {
      while (end + 2 < headers.size() && (headers[end + 2] == ' ' || headers[end + 2] == '\t'))
        end = headers.find("\r\n", end + 2);
      std::string v(headers.substr(start + prefix.size(), end - start - prefix.size()));
      for (auto p = v.find("\r\n"); p != std::string::npos; p = v.find("\r\n")) v.erase(p, 2);
      return v;
    }
    start = end + 2;
  }
  return {};
}

void check_encoders(std::string_view text) {
  auto qp = qp_encode(text);
  auto back = qp_decode(qp);
  FUZZ_CHECK(back && *back == text);
  (void)decode_encoded_words(text);
  if (is_valid_utf8(text)) {
    std::string joined;
    for (const auto& w : encode_words(text, text.size() % 80)) {
      FUZZ_CHECK(w.size() <= 75);
      joined += w + " ";
    }
    FUZZ_CHECK(decode_encoded_words(joined.empty() ? joined : joined.substr(0, joined.size() - 1)) == text);
  }
}

void check_message(const MessageDraft& d, const BuiltMessage& m) {
  const std::string& s = m.data;
  FUZZ_CHECK(s.ends_with("\r\n"));
  const auto header_end = s.find("\r\n\r\n");
  FUZZ_CHECK(header_end != std::string::npos);
  const std::string_view headers = std::string_view(s).substr(0, header_end + 2);

  std::vector<std::string> allowed = {"Date", "From", "To", "Cc", "Reply-To", "Subject", "Message-ID",
                                      "In-Reply-To", "References", "MIME-Version", "Content-Type",
                                      "Content-Transfer-Encoding"};
  for (const auto& [name, value] : d.extra_headers) allowed.push_back(name);
  for (std::size_t start = 0; start < s.size();) {
    const auto end = s.find("\r\n", start);
    FUZZ_CHECK(end != std::string::npos);
    const std::string_view line = std::string_view(s).substr(start, end - start);
    FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
    FUZZ_CHECK(line.size() <= 998);
    if (start < header_end) {
      // A header line continues the field above or starts one we wrote.
      bool known = !line.empty() && (line[0] == ' ' || line[0] == '\t');
      for (const auto& name : allowed)
        known = known || (line.size() > name.size() && line[name.size()] == ':' && line.starts_with(name));
      FUZZ_CHECK(known);
      FUZZ_CHECK(!istarts_with(line, "bcc:"));
    }
    start = end + 2;
  }
  // RFC 2047 §2: no encoded word over 75 octets in the fields we encode
  // (an address or an extra header may hold "=?" as plain text).
  for (const char* name : {"From", "To", "Cc", "Reply-To", "Subject"}) {
    const std::string v = field_value(headers, name);
    for (std::size_t i = 0; i < v.size();) {
      const auto end = std::min(v.find_first_of(" \t", i), v.size());
      const std::string_view word = std::string_view(v).substr(i, end - i);
      if (word.starts_with("=?utf-8?B?") && word.ends_with("?=")) FUZZ_CHECK(word.size() <= 75);
      i = end + 1;
    }
  }
  if (!d.subject.empty()) {
    const std::string v = field_value(headers, "Subject");
    FUZZ_CHECK(!v.empty() && v[0] == ' ');
    FUZZ_CHECK(decode_encoded_words(v.substr(1)) == d.subject);
  }
  // Each boundary: once in its Content-Type, once per part, once to close
  // (RFC 2046 §5.1.1: never inside the content).
  auto check_boundary = [&](std::string_view content_type, std::size_t parts) -> std::string {
    const auto p = content_type.find("boundary=\"");
    FUZZ_CHECK(p != std::string_view::npos);
    const std::string boundary(content_type.substr(p + 10, content_type.find('"', p + 10) - p - 10));
    FUZZ_CHECK(!boundary.empty() && boundary.size() <= 70);
    FUZZ_CHECK(count(s, boundary) == parts + 2);
    FUZZ_CHECK(count(s, "\r\n--" + boundary + "--\r\n") == 1);
    return boundary;
  };
  const std::string type = field_value(headers, "Content-Type");
  const bool both = d.text && d.html;
  if (!d.attachments.empty()) {
    FUZZ_CHECK(type.starts_with(" multipart/mixed;"));
    const std::string outer = check_boundary(type, ((d.text || d.html) ? 1 : 0) + d.attachments.size());
    if (both) {
      const std::string first = "\r\n--" + outer + "\r\nContent-Type: multipart/alternative;\r\n boundary=\"";
      const auto at = s.find(first);
      FUZZ_CHECK(at != std::string::npos);
      check_boundary(std::string_view(s).substr(at + first.size() - 10, 80), 2);
    }
  } else if (both) {
    FUZZ_CHECK(type.starts_with(" multipart/alternative;"));
    check_boundary(type, 2);
  } else {
    FUZZ_CHECK(type.starts_with(d.html ? " text/html; charset=utf-8" : " text/plain; charset=utf-8"));
    const std::string body = s.substr(header_end + 4);
    const std::string text = canonical_line_ends(d.html ? *d.html : d.text.value_or(""));
    const std::string expected = text.empty() || text.ends_with("\r\n") ? text : text + "\r\n";
    if (field_value(headers, "Content-Transfer-Encoding") == " quoted-printable") {
      auto decoded = qp_decode(body);
      FUZZ_CHECK(decoded && *decoded == expected);
    } else {
      FUZZ_CHECK(body == expected);
    }
  }
  FUZZ_CHECK(!m.envelope_to.empty());
  std::vector<std::string> keys;
  for (const auto& r : m.envelope_to) {
    auto a = parse_mailbox(r);
    FUZZ_CHECK(a.has_value());
    for (const auto& k : keys) FUZZ_CHECK(k != a->lookup_key());
    keys.push_back(a->lookup_key());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_encoders(input.substr(0, 2048));

  MessageDraft d;
  BuildOptions o;
  o.hostname = "fuzz.example";
  o.date = std::chrono::system_clock::time_point(std::chrono::seconds(size));
  std::uint64_t state = size;
  o.random = [&state] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  while (!input.empty()) {
    auto nl = input.find('\n');
    std::string line(input.substr(0, nl));
    input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
    if (line.empty()) continue;
    const char key = line[0];
    std::string v = line.substr(1);
    for (char& c : v)
      if (c == '\x1e') c = '\n';
    switch (key) {
      case 'f': d.from = mailbox(v); break;
      case 't': d.to.push_back(mailbox(v)); break;
      case 'c': d.cc.push_back(mailbox(v)); break;
      case 'b': d.bcc.push_back(mailbox(v)); break;
      case 'r': d.reply_to.push_back(mailbox(v)); break;
      case 's': d.subject = v; break;
      case 'i': d.in_reply_to = v; break;
      case 'e': d.references.push_back(v); break;
      case 'h': {
        const auto colon = v.find(':');
        d.extra_headers.emplace_back(v.substr(0, colon), colon == std::string::npos ? "" : v.substr(colon + 1));
        break;
      }
      case 'x': d.text = d.text.value_or("") + v + "\n"; break;
      case 'm': d.html = d.html.value_or("") + v + "\n"; break;
      case 'a': d.attachments.push_back({v, "", ""}); break;
      case 'y': if (!d.attachments.empty()) d.attachments.back().content_type = v; break;
      case 'd': if (!d.attachments.empty()) d.attachments.back().data += v + "\n"; break;
      case 'o':
        if (v.find('8') != std::string::npos) o.allow_8bit = true;
        if (v.find('z') != std::string::npos) o.random = [] { return std::uint64_t{0}; };
        break;
      default: break;
    }
  }
  auto built = build_message(d, o);
  if (built) check_message(d, *built);
  else FUZZ_CHECK(!built.error().client_text.empty());
  return 0;
}
