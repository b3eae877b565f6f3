// parse_command and parse_path on arbitrary command lines. Besides not
// crashing: the verb word and argument lie inside the line, and an address
// that parses prints back (to_string) into a path that parses to the same
// address.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/mail_address.hpp"
#include "fuzz_check.hpp"
#include "protocol/smtp/command.hpp"

namespace {

using namespace tern;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_path(std::string_view text, PathKind kind) {
  std::string why;
  auto p = parse_path(text, kind, &why);
  if (!p) {
    FUZZ_CHECK(!why.empty());
    return;
  }
  const MailAddress& a = p->address;
  if (kind == PathKind::forward_path) FUZZ_CHECK(!a.is_null());
  for (const auto& param : p->params) {
    FUZZ_CHECK(!param.keyword.empty());
    for (char c : param.keyword) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
    if (!param.has_value) FUZZ_CHECK(param.value.empty());
  }
  (void)a.lookup_key();
  (void)a.needs_smtputf8();
  // A domain literal may legally contain '>' (RFC 5321 dcontent), which the
  // bracket form cannot carry unquoted; leave literals out of the round trip.
  if (!a.domain.empty() && a.domain.front() == '[') return;
  std::string again = "<" + a.to_string() + ">";
  auto q = parse_path(again, kind);
  FUZZ_CHECK(q.has_value());
  FUZZ_CHECK(q->address.local_part == a.local_part);
  FUZZ_CHECK(q->address.domain == a.domain);
  FUZZ_CHECK(q->params.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto pc = smtp::parse_command(line);
  FUZZ_CHECK(inside(pc.command.word, line));
  FUZZ_CHECK(inside(pc.command.argument, line));
  if (pc.command.verb == smtp::Verb::mail && !pc.path_keyword_missing)
    check_path(pc.command.argument, PathKind::reverse_path);
  if (pc.command.verb == smtp::Verb::rcpt && !pc.path_keyword_missing)
    check_path(pc.command.argument, PathKind::forward_path);
  // And the whole line as a path, both ways.
  check_path(line, PathKind::reverse_path);
  check_path(line, PathKind::forward_path);
  return 0;
}
