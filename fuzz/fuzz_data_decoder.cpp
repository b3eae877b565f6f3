// DataDecoder on arbitrary bytes. Invariants: the output is never longer
// than what was consumed; the end is only ever <CRLF>.<CRLF> (or "." on the
// first line); feeding in two pieces gives exactly what feeding whole gives;
// and any clean CRLF text, dot-stuffed and terminated, decodes back to itself.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/smtp/data_decoder.hpp"

namespace {

using tern::smtp::DataDecoder;

struct Decoded {
  std::string out;
  std::size_t consumed = 0;
  bool done = false, bare = false, too_long = false;
  unsigned received = 0;
};

Decoded decode(std::string_view input, std::size_t split) {
  DataDecoder d(1000, 3);
  Decoded r;
  std::size_t used = d.feed(input.substr(0, split), r.out);
  FUZZ_CHECK(used <= split);
  if (used < split) FUZZ_CHECK(d.done());
  r.consumed = used;
  if (!d.done()) r.consumed += d.feed(input.substr(split), r.out);
  // Once done, it takes nothing more.
  if (d.done()) FUZZ_CHECK(d.feed(input.substr(r.consumed), r.out) == 0);
  r.done = d.done();
  r.bare = d.saw_bare_newline();
  r.too_long = d.line_too_long();
  r.received = d.received_headers();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t split = input.size() * data[0] / 255;

  Decoded whole = decode(input, input.size());
  FUZZ_CHECK(whole.consumed <= input.size());
  FUZZ_CHECK(whole.out.size() <= whole.consumed);
  if (!whole.done) FUZZ_CHECK(whole.consumed == input.size());
  if (whole.done) {
    std::string_view eaten = input.substr(0, whole.consumed);
    FUZZ_CHECK(eaten == ".\r\n" || eaten.ends_with("\r\n.\r\n"));
  }

  Decoded pieces = decode(input, split);
  FUZZ_CHECK(pieces.out == whole.out);
  FUZZ_CHECK(pieces.consumed == whole.consumed);
  FUZZ_CHECK(pieces.done == whole.done);
  FUZZ_CHECK(pieces.bare == whole.bare);
  FUZZ_CHECK(pieces.too_long == whole.too_long);
  FUZZ_CHECK(pieces.received == whole.received);

  // Round trip: make clean CRLF text of the input, stuff it, end it, decode.
  std::string text, wire;
  std::string_view rest = input;
  for (;;) {
    auto nl = rest.find('\n');
    std::string line;
    for (char c : rest.substr(0, nl))
      if (c != '\r') line += c;
    text += line + "\r\n";
    wire += (line.starts_with('.') ? "." : "") + line + "\r\n";
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  wire += ".\r\n";
  Decoded clean = decode(wire, wire.size() * data[0] / 255);
  FUZZ_CHECK(clean.done);
  FUZZ_CHECK(!clean.bare);
  FUZZ_CHECK(clean.consumed == wire.size());
  FUZZ_CHECK(clean.out == text);
  return 0;
}
