// mime_probe: the MIME builder on the command line, for
// tests/integration/test_mime_builder.py. Reads a draft from stdin, one
// "key: value" per line, and prints the built message.
//
//   from: Name <a@b>        to: / cc: / bcc: / reply-to: (repeatable)
//   subject: text           in-reply-to: <id>     references: <id> (repeatable)
//   header: Name: value     (repeatable)
//   text: line              html: line    (repeatable; each adds the line and "\n")
//   attach: file name       attach-type: type/subtype (optional)
//   attach-data: base64     (repeatable; the pieces are joined)
//   hostname: h             date: unix seconds    8bitmime: yes    seed: N
//
// "key:b64: BASE64" gives any value as base64 (text and html then add it
// without a newline), so a test can pass CR, LF, tabs and trailing spaces.
// An address value may also be "name" 0x1F "address", taken as is.
// Lines starting with "#" are ignored.
//
// Output on success: "ok", then "envelope-from: ...", one "rcpt: ..." per
// envelope recipient, "message-id: ...", "8bit: yes|no", "smtputf8: yes|no",
// "message-bytes: N", then exactly N bytes of message. On a refused draft:
// "error: <reason>" and exit status 1. Bad input: a message on stderr, exit 2.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "base/base64.hpp"
#include "formats/mime_builder.hpp"

using namespace tern;

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "mime_probe: %s\n", why.c_str());
  std::exit(2);
}

template <typename T>
T number(const std::string& value, std::size_t line_no) {
  T n{};
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size())
    usage("line " + std::to_string(line_no) + ": not a number: " + value);
  return n;
}

// "Name <a@b>" as typed on a command line, or (for names a command line
// would trim) the exact name and address separated by a 0x1F octet.
NamedAddress named(const std::string& value) {
  if (const auto us = value.find('\x1f'); us != std::string::npos) return {value.substr(0, us), value.substr(us + 1)};
  auto parsed = parse_named_address(value);
  return parsed ? *parsed : NamedAddress{"", value};  // the builder says what is wrong with it
}

}  // namespace

int main() {
  MessageDraft draft;
  BuildOptions options;
  std::uint64_t seed = 0;
  bool seeded = false;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.ends_with('\r')) line.pop_back();
    if (line.empty() || line.starts_with('#')) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) usage("line " + std::to_string(line_no) + ": no ':'");
    const std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    bool raw = false;
    if (value.starts_with("b64:")) {
      auto decoded = base64_decode(value.substr(value.starts_with("b64: ") ? 5 : 4));
      if (!decoded) usage("line " + std::to_string(line_no) + ": bad base64");
      value = *decoded;
      raw = true;
    } else if (value.starts_with(' ')) {
      value.erase(0, 1);
    }

    if (key == "from") draft.from = named(value);
    else if (key == "to") draft.to.push_back(named(value));
    else if (key == "cc") draft.cc.push_back(named(value));
    else if (key == "bcc") draft.bcc.push_back(named(value));
    else if (key == "reply-to") draft.reply_to.push_back(named(value));
    else if (key == "subject") draft.subject = value;
    else if (key == "in-reply-to") draft.in_reply_to = value;
    else if (key == "references") draft.references.push_back(value);
    else if (key == "header") {
      const auto c = value.find(':');
      if (c == std::string::npos) usage("line " + std::to_string(line_no) + ": header needs 'Name: value'");
      std::string v = value.substr(c + 1);
      if (v.starts_with(' ')) v.erase(0, 1);
      draft.extra_headers.emplace_back(value.substr(0, c), v);
    } else if (key == "text" || key == "html") {
      auto& body = key == "text" ? draft.text : draft.html;
      if (!body) body.emplace();
      *body += value;
      if (!raw) *body += '\n';
    } else if (key == "attach") draft.attachments.push_back(Attachment{value, "", ""});
    else if (key == "attach-type" || key == "attach-data") {
      if (draft.attachments.empty()) usage("line " + std::to_string(line_no) + ": " + key + " before attach");
      if (key == "attach-type") {
        draft.attachments.back().content_type = value;
      } else {
        auto data = raw ? std::optional<std::string>(value) : base64_decode(value);
        if (!data) usage("line " + std::to_string(line_no) + ": bad base64 in attach-data");
        draft.attachments.back().data += *data;
      }
    } else if (key == "hostname") options.hostname = value;
    else if (key == "date") options.date = std::chrono::system_clock::time_point(std::chrono::seconds(number<std::int64_t>(value, line_no)));
    else if (key == "8bitmime") options.allow_8bit = value == "yes";
    else if (key == "seed") {
      seed = number<std::uint64_t>(value, line_no);
      seeded = true;
    } else usage("line " + std::to_string(line_no) + ": unknown key " + key);
  }
  if (seeded) {
    // splitmix64: reproducible output for tests that compare two runs.
    options.random = [&seed] {
      std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      return z ^ (z >> 31);
    };
  }

  auto built = build_message(draft, options);
  if (!built) {
    std::printf("error: %s\n", built.error().client_text.c_str());
    return 1;
  }
  std::string head = "ok\nenvelope-from: " + built->envelope_from + "\n";
  for (const auto& r : built->envelope_to) head += "rcpt: " + r + "\n";
  head += "message-id: " + built->message_id + "\n";
  head += std::string("8bit: ") + (built->body_8bit ? "yes" : "no") + "\n";
  head += std::string("smtputf8: ") + (built->needs_smtputf8 ? "yes" : "no") + "\n";
  head += "message-bytes: " + std::to_string(built->data.size()) + "\n";
  std::fwrite(head.data(), 1, head.size(), stdout);
  std::fwrite(built->data.data(), 1, built->data.size(), stdout);
  return 0;
}
