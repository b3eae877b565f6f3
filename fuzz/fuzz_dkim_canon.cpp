// The DKIM canonicalizer (src/services/dkim/dkim_canon) on arbitrary bytes:
// the first byte picks the algorithm and where to cut the body, the rest is
// a message. Nothing may crash or read out of bounds, and the results keep
// their promises: parsed fields lie inside the header and the body is the
// rest; a canonical field ends in its only CRLF; both algorithms are
// idempotent (canonical input comes out unchanged); the body comes out the
// same however it is cut; a relaxed body has no WSP runs, no WSP before a
// line end and no trailing empty lines; to_crlf leaves no bare CR or LF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "services/dkim/dkim_canon.hpp"

using namespace tern::dkim;

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

void check_relaxed_body(std::string_view out) {
  if (out.empty()) return;
  FUZZ_CHECK(out.ends_with("\r\n"));
  // In the output a CR right before an LF is always a line end, so this
  // ending would be an empty last line.
  FUZZ_CHECK(out != "\r\n" && !out.ends_with("\r\n\r\n"));
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    FUZZ_CHECK(out[i] != '\t');
    FUZZ_CHECK(!(out[i] == ' ' && out[i + 1] == ' '));
    if (out[i] == ' ') FUZZ_CHECK(!(out[i + 1] == '\r' && i + 2 < out.size() && out[i + 2] == '\n'));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Canon canon = (data[0] & 1) ? Canon::relaxed : Canon::simple;
  const std::size_t chunk = 1 + (data[0] >> 1);  // 1..128
  const std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);

  // Parsing.
  ParsedMessage m = parse_message(msg);
  FUZZ_CHECK(m.header_size <= msg.size());
  FUZZ_CHECK(m.body == msg.substr(m.header_size));
  const char* header_end = msg.data() + m.header_size;
  for (const auto& f : m.fields) {
    FUZZ_CHECK(!f.text.empty());
    FUZZ_CHECK(f.text.data() >= msg.data() && f.text.data() + f.text.size() <= header_end);
    FUZZ_CHECK(f.name.size() <= f.text.size());
    if (!f.name.empty()) FUZZ_CHECK(f.text.starts_with(f.name) && !is_wsp(f.name.back()));

    // Header canonicalization: one CRLF, at the end, and idempotent.
    for (Canon c : {Canon::simple, Canon::relaxed}) {
      std::string h = canonicalize_header(c, f.text);
      FUZZ_CHECK(h.ends_with("\r\n"));
      if (c == Canon::relaxed) {
        FUZZ_CHECK(h.find("\r\n") == h.size() - 2);
        FUZZ_CHECK(canonicalize_header(c, std::string_view(h).substr(0, h.size() - 2)) == h);
      } else {
        FUZZ_CHECK(h.substr(0, h.size() - 2) == f.text);
      }
    }
  }

  // Body canonicalization: whole, cut in chunks, cut once at `chunk`.
  std::string whole = canonicalize_body(canon, m.body);
  {
    BodyCanonicalizer b(canon);
    std::string out;
    for (std::size_t i = 0; i < m.body.size(); i += chunk) b.feed(m.body.substr(i, chunk), out);
    b.finish(out);
    FUZZ_CHECK(out == whole);
  }
  {
    std::size_t cut = m.body.empty() ? 0 : chunk % (m.body.size() + 1);
    BodyCanonicalizer b(canon);
    std::string out;
    b.feed(m.body.substr(0, cut), out);
    b.feed(m.body.substr(cut), out);
    b.finish(out);
    FUZZ_CHECK(out == whole);
  }
  FUZZ_CHECK(canonicalize_body(canon, whole) == whole);
  if (canon == Canon::simple) {
    FUZZ_CHECK(whole.ends_with("\r\n"));
    FUZZ_CHECK(whole == "\r\n" || !whole.ends_with("\r\n\r\n"));
  } else {
    check_relaxed_body(whole);
  }

  // The header hash input over a few names the message has and one it has not.
  std::vector<std::string> h;
  for (std::size_t i = 0; i < m.fields.size() && i < 8; ++i)
    if (!m.fields[i].name.empty()) h.emplace_back(m.fields[i].name);
  h.emplace_back("from");
  h.emplace_back("x-absent");
  auto selected = select_fields(m.fields, h);
  FUZZ_CHECK(selected.size() <= h.size());
  std::string sig_field = "DKIM-Signature: v=1; h=from;\r\n\tb=";
  std::string input = header_hash_input(canon, m.fields, h, sig_field);
  std::string sig_canon = canonicalize_header(canon, sig_field);
  FUZZ_CHECK(input.ends_with(sig_canon.substr(0, sig_canon.size() - 2)));

  // Line ends.
  std::string crlf = to_crlf(msg);
  for (std::size_t i = 0; i < crlf.size(); ++i) {
    if (crlf[i] == '\r') FUZZ_CHECK(i + 1 < crlf.size() && crlf[i + 1] == '\n');
    if (crlf[i] == '\n') FUZZ_CHECK(i > 0 && crlf[i - 1] == '\r');
  }
  FUZZ_CHECK(to_crlf(crlf) == crlf);
  return 0;
}
